"""The run-directory schema: one reader and one writer of results.json, typed records.

Every command that reads a run directory (score, report, compare, baseline/check, sweep,
reproduce, a rerun into the same ``--output``) goes through :func:`read_run_results`, so a bad
results.json gives the same :class:`RunResultsError` everywhere, naming the file and the fix.
The engine writes through :func:`write_run_results`, which stamps ``schema_version``.

Compatibility: ``schema_version`` counts layouts of results.json. A file without it is version
1 (the layout written before the field existed; version 2 adds only the field) and is read as
is; a rewrite (``score``, ``report`` with new intervals, a rerun) stamps the current version. A
file of a newer version is refused: fields this code does not know could change what a number
means. The typed records keep the raw mapping (``raw``), so nothing in the file is lost and a
rewrite changes only what the command means to change.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emu2_eval.core.atomic import write_json_atomic
from emu2_eval.core.errors import UserError

SCHEMA_VERSION = 2
RESULTS_FILE = "results.json"
REQUIRED_KEYS = ("model", "tasks")  # objects every results.json since version 1 has
REQUIRED_TASK_KEYS = ("metrics",)  # an object in every task block (empty when predict-only)


class RunResultsError(UserError, ValueError):
    """A run directory's results.json or samples file cannot be read; names the file and fix."""


IN_MEMORY = Path("<results in memory>")  # named by errors about a mapping not read from a file


def _object(raw: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    """``raw[key]`` as an object ({} when absent or null); any other type is refused."""
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise RunResultsError(
            f"{where}: {key!r} is a JSON {type(value).__name__}, not an object: the file was "
            "edited; restore it, or re-run the task (or `emu2-eval score`)"
        )
    return value


def _optional_object(raw: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any] | None:
    """``raw[key]`` as an object, None when absent or null (absence means something)."""
    return _object(raw, key, where) if raw.get(key) is not None else None


def _count(raw: Mapping[str, Any], key: str, where: str) -> int | None:
    """``raw[key]`` as a document count (None when absent); a non-integer is refused."""
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise RunResultsError(
            f"{where}: {key!r} is {value!r}, not a count of documents: the file was edited; "
            "restore it, or re-run the task (or `emu2-eval score`)"
        )
    return value


@dataclass(frozen=True)
class TaskResult:
    """One task block of results.json; ``raw`` is the block as written.

    Object fields read as {} when a file written before them lacks them (what every consumer
    assumed); ``scorer`` and ``samples_file`` stay None then, because their absence changes what
    a consumer does (derive the scorer, read the samples unverified)."""

    name: str
    metrics: Mapping[str, Any]
    units: Mapping[str, str]
    intervals: Mapping[str, Any]
    n_samples: int | None
    n_scored: int | None
    n_errors: int | None
    config_hash: str | None
    predict_only: bool
    fewshot: Mapping[str, Any]
    reference: Mapping[str, Any]
    raw: dict[str, Any] = field(repr=False)
    metric_options: Mapping[str, Any] = field(default_factory=dict)
    dataset: Mapping[str, Any] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)
    submission: Mapping[str, Any] = field(default_factory=dict)
    groups: Mapping[str, Any] = field(default_factory=dict)
    scorer: Mapping[str, Any] | None = None
    prompt_profile: Mapping[str, Any] | str | None = None
    samples_file: Mapping[str, Any] | None = None

    @classmethod
    def from_mapping(cls, name: str, raw: dict[str, Any], path: Path = IN_MEMORY) -> TaskResult:
        """Type the block ``raw`` of task ``name`` read from ``path`` (named in every error)."""
        if not isinstance(raw, Mapping) or not isinstance(raw.get("metrics"), Mapping):
            raise RunResultsError(
                f"{path}: task {name!r} has no 'metrics' object: not a task block written by "
                "`emu2-eval run`; re-run the task (or `emu2-eval score`)"
            )
        where = f"{path}: task {name!r}"
        profile = raw.get("prompt_profile")
        if profile is not None and not isinstance(profile, Mapping | str):
            raise RunResultsError(
                f"{where}: 'prompt_profile' is {profile!r}, neither a name nor an object: the "
                "file was edited; restore it, or re-run the task"
            )
        return cls(
            name=name,
            metrics=raw["metrics"],
            units=_object(raw, "units", where),
            intervals=_object(raw, "intervals", where),
            n_samples=_count(raw, "n_samples", where),
            n_scored=_count(raw, "n_scored", where),
            n_errors=_count(raw, "n_errors", where),
            config_hash=raw.get("config_hash"),
            predict_only=bool(raw.get("predict_only", False)),
            fewshot=_object(raw, "fewshot", where),
            reference=_object(raw, "reference", where),
            raw=raw,
            metric_options=_object(raw, "metric_options", where),
            dataset=_object(raw, "dataset", where),
            config=_object(raw, "config", where),
            submission=_object(raw, "submission", where),
            groups=_object(raw, "groups", where),
            scorer=_optional_object(raw, "scorer", where),
            prompt_profile=profile,
            samples_file=_optional_object(raw, "samples_file", where),
        )

    @property
    def scored(self) -> int:
        """Documents scored (0 when not recorded)."""
        return self.n_scored or 0

    @property
    def errors(self) -> int:
        """Documents whose request failed (0 when not recorded)."""
        return self.n_errors or 0

    @property
    def prompt_name(self) -> str | None:
        """The prompt profile's name (a bare string profile is its own name)."""
        if isinstance(self.prompt_profile, Mapping):
            return self.prompt_profile.get("name")
        return self.prompt_profile

    @property
    def shots(self) -> int:
        """The number of demonstrations (0 when not recorded)."""
        return int(self.fewshot.get("shots", 0) or 0)

    @property
    def request(self) -> str | None:
        """The task's request kind (``generate_images``...) from its recorded config."""
        return self.config.get("request")

    @property
    def group(self) -> str | None:
        """The task group (``group:`` of the task file), None when it has none."""
        group = self.config.get("group")
        return group if isinstance(group, str) and group else None

    @property
    def protocol(self) -> Mapping[str, Any]:
        """The data protocol the task's loader recorded ({} when none)."""
        return self.dataset.get("protocol") or {}

    def interval(self, metric_key: str) -> Mapping[str, Any]:
        """The interval record of ``metric_key`` ({} when none was computed)."""
        return self.intervals.get(metric_key) or {}


@dataclass(frozen=True)
class RunResults:
    """A results.json: typed fields for what consumers use, ``raw`` for everything."""

    path: Path
    schema_version: int
    model_name: str | None
    fingerprint: str | None
    limit: Any
    tasks: Mapping[str, TaskResult]
    raw: dict[str, Any] = field(repr=False)

    @property
    def model(self) -> Mapping[str, Any]:
        return self.raw["model"]

    @property
    def run(self) -> Mapping[str, Any]:
        return self.raw.get("run") or {}

    @property
    def manifest(self) -> Mapping[str, Any]:
        return self.raw.get("manifest") or {}

    @property
    def model_info(self) -> Mapping[str, Any]:
        """What the adapter recorded about the checkpoint it loaded ({} when nothing)."""
        return self.model.get("info") or {}

    @property
    def model_args(self) -> Mapping[str, Any]:
        """The adapter's arguments as given ({} when none)."""
        return self.model.get("args") or {}

    @property
    def seed(self) -> int:
        """The run's seed (manifest), 0 when not recorded."""
        return int(self.manifest.get("seed") or 0)


@dataclass(frozen=True)
class SampleRecord:
    """One line of ``samples_<task>.jsonl``; ``raw`` is the line's object as written."""

    doc_id: Any
    task: str | None
    response: Any
    filtered: Any
    scores: Mapping[str, Any]
    error: Mapping[str, Any] | None
    cached: bool | None
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_mapping(cls, raw: Any, where: str) -> SampleRecord:
        """``where`` ("FILE, line N") is named when ``raw`` is not a sample record."""
        if not isinstance(raw, dict) or "doc_id" not in raw:
            raise RunResultsError(f"{where}: not a sample record (no doc_id)")
        return cls(
            doc_id=raw["doc_id"],
            task=raw.get("task"),
            response=raw.get("response"),
            filtered=raw.get("filtered"),
            scores=raw.get("scores") or {},
            error=raw.get("error"),
            cached=raw.get("cached"),
            raw=raw,
        )


def results_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / RESULTS_FILE


def read_run_results(run_dir: str | Path) -> RunResults:
    """The results.json of ``run_dir``; :class:`RunResultsError` naming the file and the fix
    when it is missing, not JSON, not an object, lacks required keys or is of a newer schema."""
    run_dir = Path(run_dir)
    path = results_path(run_dir)
    if not path.is_file():
        raise RunResultsError(
            f"{path} not found: {run_dir} is not a run directory (made by `emu2-eval run`)"
        )
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunResultsError(
            f"{path} is not valid JSON ({exc}): the file is damaged (a copy cut short, an "
            "edit); restore it, or re-run into a new --output"
        ) from None
    except OSError as exc:
        raise RunResultsError(f"{path} cannot be read ({exc.strerror or exc})") from None
    return parse_run_results(raw, path)


def parse_run_results(raw: Any, path: Path) -> RunResults:
    """Check and type a results.json mapping read from ``path`` (named in every error)."""
    if not isinstance(raw, dict):
        raise RunResultsError(
            f"{path} is a JSON {type(raw).__name__}, not an object: not a results file "
            "written by `emu2-eval run`"
        )
    version = raw.get("schema_version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise RunResultsError(
            f"{path}: schema_version {version!r} is not a layout version (a positive integer); "
            "the file was edited: restore it, or re-run into a new --output"
        )
    if version > SCHEMA_VERSION:
        raise RunResultsError(
            f"{path} has schema_version {version}, written by a newer emu2_eval (this one reads "
            f"up to {SCHEMA_VERSION}): upgrade emu2_eval to read it"
        )
    missing = [key for key in REQUIRED_KEYS if not isinstance(raw.get(key), dict)]
    if missing:
        raise RunResultsError(
            f"{path} has no {' or '.join(repr(k) for k in missing)} object: not a results "
            "file written by `emu2-eval run`; point at a run directory, or re-run into it"
        )
    tasks = {name: TaskResult.from_mapping(name, b, path) for name, b in raw["tasks"].items()}
    model = raw["model"]
    return RunResults(
        path=path,
        schema_version=version,
        model_name=model.get("name"),
        fingerprint=model.get("fingerprint"),
        limit=(raw.get("run") or {}).get("limit"),
        tasks=tasks,
        raw=raw,
    )


def as_run_results(results: Mapping[str, Any] | RunResults, path: Path = IN_MEMORY) -> RunResults:
    """``results`` typed: a :class:`RunResults` as is, a mapping (the engine's results as just
    written, or a results.json mapping read and changed by ``score``/``report``) checked by
    :func:`parse_run_results`, ``path`` named in its errors."""
    return results if isinstance(results, RunResults) else parse_run_results(results, path)


def as_task_result(
    block: Mapping[str, Any] | TaskResult, name: str = "", path: Path = IN_MEMORY
) -> TaskResult:
    """A task block typed (a :class:`TaskResult` as is)."""
    return block if isinstance(block, TaskResult) else TaskResult.from_mapping(name, block, path)


def stamped(results: Mapping[str, Any]) -> dict[str, Any]:
    """``results`` with ``schema_version`` first (the current version), the rest unchanged."""
    rest = {key: value for key, value in results.items() if key != "schema_version"}
    return {"schema_version": SCHEMA_VERSION, **rest}


def write_run_results(run_dir: str | Path, results: Mapping[str, Any] | RunResults) -> dict:
    """Write results.json atomically, stamped with this schema version; returns what was
    written (callers hand that on, so the reports and the API see the file's content)."""
    payload = stamped(results.raw if isinstance(results, RunResults) else results)
    write_json_atomic(results_path(run_dir), payload)
    return payload

"""Reading run directories (results.json + samples_<task>.jsonl) for reports, compare and gates.

Errors name the file and the line, and say what a run directory is, because these commands are
pointed at paths typed by hand.

Integrity: results.json records per task ``n_samples`` and ``samples_file`` (the sha256 of the
samples file's bytes, and of its ordered doc ids). The file hash, not only the ids, because an
edited response or score changes a metric as surely as a lost line; the ids hash then tells
which of the two happened. A samples file that does not match is refused, naming the file and
what differs (missing, extra or duplicated doc ids, or edited records), so a truncated or doubled
file can never be re-scored or compared into wrong numbers. Run directories written before
these records existed are read with a warning (logged once per file), unverified.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emu2_eval.rundir.schema import (
    RunResults,
    RunResultsError,
    SampleRecord,
    TaskResult,
    as_task_result,
    read_run_results,
    results_path,
)

logger = logging.getLogger(__name__)
_warned: set[str] = set()


class SamplesMismatchError(ValueError):
    """A samples file differs from what results.json recorded when the run wrote it."""


@dataclass
class RunDir:
    """A run directory's results and, loaded on demand, its per-sample records.

    Readers use ``typed`` (:class:`RunResults`, :meth:`task`); ``results``/``tasks``/``block``
    are the raw mapping, kept for ``score``/``report``, which rewrite it in place."""

    path: Path
    results: dict[str, Any]  # the raw mapping of ``typed`` (mutable: score/report rewrite it)
    typed: RunResults
    _samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict, repr=False)

    @property
    def tasks(self) -> dict[str, dict[str, Any]]:
        return self.results.get("tasks", {})

    def block(self, task: str) -> dict[str, Any]:
        if task not in self.tasks:
            raise KeyError(f"{results_path(self.path)} has no task {task!r}")
        return self.tasks[task]

    def task(self, name: str) -> TaskResult:
        """The typed block of task ``name`` (KeyError naming results.json when absent)."""
        if name not in self.typed.tasks:
            raise KeyError(f"{results_path(self.path)} has no task {name!r}")
        return self.typed.tasks[name]

    def samples(self, task: str) -> list[dict[str, Any]]:
        """The task's sample records, in the run's document order, checked against results.json
        (:class:`SamplesMismatchError` when the file was changed after the run)."""
        if task not in self._samples:
            block = as_task_result(self.block(task), task, results_path(self.path))
            self._samples[task] = read_verified_samples(self.path, task, block)
        return self._samples[task]

    def verify(self) -> None:
        """Check every task's samples file now (before a command writes anything)."""
        for task in self.tasks:
            self.samples(task)

    def all_ids(self, task: str) -> list[str]:
        return [str(r["doc_id"]) for r in self.samples(task)]


def load_run(path: str | Path, verify: bool = False) -> RunDir:
    """Open a run directory; :class:`RunResultsError` names what is wrong with results.json.

    ``verify``: check every samples file against results.json now, rather than when read."""
    path = Path(path)
    typed = read_run_results(path)  # RunResultsError naming the file and the fix
    run = RunDir(path=path, results=typed.raw, typed=typed)
    if verify:
        run.verify()
    return run


def read_samples(path: Path) -> list[dict[str, Any]]:
    """Read samples_<task>.jsonl; a bad line raises naming the file and line."""
    return _parse_samples(path, _read_bytes(path))


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (per-sample log of the run)")
    return path.read_bytes()


def _parse_samples(path: Path, data: bytes) -> list[dict[str, Any]]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RunResultsError(f"{path} is not UTF-8 text ({exc})") from None
    records = []
    for line_no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RunResultsError(f"{path}, line {line_no}: invalid JSON ({exc.msg})") from None
        records.append(SampleRecord.from_mapping(raw, f"{path}, line {line_no}").raw)
    return records


def samples_record(digest: str, records: list[dict[str, Any]]) -> dict[str, str]:
    """What results.json records about a samples file just written (``digest``: its sha256)."""
    return {"sha256": digest, "ids_sha256": ids_digest([str(r["doc_id"]) for r in records])}


def read_verified_samples(
    run_dir: Path, task: str, block: TaskResult | Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The records of ``samples_<task>.jsonl``, refused when they differ from results.json."""
    block = as_task_result(block, task, results_path(run_dir))
    path = Path(run_dir) / f"samples_{task}.jsonl"
    data = _read_bytes(path)
    records = _parse_samples(path, data)
    recorded = block.samples_file
    if recorded is None or "sha256" not in recorded:
        if str(path) not in _warned:
            _warned.add(str(path))
            logger.warning(
                "%s: results.json records no checksum for this file (written by an older "
                "emu2_eval), so it is used unverified; `emu2-eval score %s` records one",
                path,
                run_dir,
            )
        return records
    if hashlib.sha256(data).hexdigest() != recorded["sha256"]:
        raise SamplesMismatchError(
            f"{path} does not match {Path(run_dir) / 'results.json'} (task {task!r}): "
            f"{_differences(records, block, recorded)}; it changed after results.json was "
            "written (edited, cut, or rewritten by a later run that was killed before it "
            "updated results.json), so scores from it would be wrong. Restore it, or re-run "
            "the task (cached responses make that quick)"
        )
    return records


def _differences(
    records: list[dict[str, Any]], block: TaskResult, recorded: Mapping[str, Any]
) -> str:
    """Missing, extra or duplicated doc ids, or edited records, in words."""
    ids = [str(r["doc_id"]) for r in records]
    expected = block.n_samples
    parts = [f"{len(ids)} records where the run wrote {expected}"]
    duplicated = {i: n for i, n in Counter(ids).items() if n > 1}
    if duplicated:
        shown = ", ".join(f"{i!r} x{n}" for i, n in list(duplicated.items())[:5])
        more = f" and {len(duplicated) - 5} more" if len(duplicated) > 5 else ""
        parts.append(f"duplicated doc ids: {shown}{more}")
    unique = len(set(ids))
    if isinstance(expected, int) and unique < expected:
        parts.append(f"{expected - unique} doc id(s) missing")
    elif isinstance(expected, int) and unique > expected:
        parts.append(f"{unique - expected} extra doc id(s)")
    if ids_digest(ids) == recorded.get("ids_sha256"):
        parts = ["the same doc ids in the same order, but record contents edited"]
    elif not duplicated and unique == expected:
        parts.append("the doc ids differ from the run's, or are in another order")
    return "; ".join(parts)


def ids_digest(doc_ids: list[str]) -> str:
    """sha256 of the ordered document ids (one per line): which documents a result covers."""
    return hashlib.sha256("\n".join(doc_ids).encode("utf-8")).hexdigest()

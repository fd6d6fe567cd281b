"""Task configuration: parse and validate one YAML task file.

YAML is read with ``yaml.safe_load`` only, and every hook (loader, filter, metric, prompt profile)
is a registered name, so a config file cannot import or execute code. Validation collects every
problem of a file at once, each message naming the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emu2_eval.core.registry import (
    DATA_LOADERS,
    DEMO_ANSWERS,
    DEMO_SELECTORS,
    FEATURE_ENCODERS,
    FILTERS,
    METRICS,
    PATH_ROOTS,
    SUBMISSION_WRITERS,
)
from emu2_eval.core.requests import REQUEST_KINDS, stable_hash
from emu2_eval.tasks.checks import (
    GENERATION_RULES,
    check_encoder_args,
    check_generation,
    check_metric_options,
    check_task_name,
)
from emu2_eval.tasks.files import TaskConfigError, read_yaml
from emu2_eval.tasks.locations import TaskIndex
from emu2_eval.tasks.profiles import ProfileRegistry

TASK_KEYS = {
    "task",
    "description",
    "group",
    "dataset",
    "prompt",
    "request",
    "generation",
    "continuations",
    "filters",
    "metrics",
    "tags",
    "fewshot",
    "reference",
    "labels",
    "submission",
}
DATASET_KEYS = {"loader", "args", "checksums"}
FEWSHOT_KEYS = {
    "pool",
    "strategy",
    "encoder",
    "encoder_args",
    "profile",
    "zero_shot_text_examples",
    "one_example_per_image",
    "demo_answer",
}
# Keys of a task's ``generation:`` block: those the checks table has a rule for (listed once).
GENERATION_KEYS = frozenset(GENERATION_RULES)
ROOT_PATTERN = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class MetricSpec:
    """A registered metric name and its options (e.g. ``variant: official``)."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FewShotSpec:
    """Where demonstrations come from and how they are chosen (``fewshot:`` in a task file).

    ``profile`` renders demonstrations and the query when shots > 0 (Emu2 uses a different
    prompt for 0-shot); ``zero_shot_text_examples`` is Flamingo's 0-shot convention (N text-only
    examples), recorded as an option and off by default. ``one_example_per_image`` shows each
    pool image at most once per prompt (default: one pool entry per question, as OpenFlamingo);
    ``demo_answer`` picks the answer a demonstration shows (``emu2_eval.fewshot.answers``).
    """

    pool_loader: str
    pool_args: dict[str, Any]
    strategy: str = "random"
    encoder: str = "color_histogram"
    encoder_args: dict[str, Any] = field(default_factory=dict)
    profile: str | dict[str, Any] | None = None
    zero_shot_text_examples: int = 0
    one_example_per_image: bool = False
    demo_answer: str = "multiple_choice_answer"

    def describe(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "encoder": self.encoder if self.strategy == "rices" else None,
            "encoder_args": self.encoder_args if self.strategy == "rices" else None,
            "zero_shot_text_examples": self.zero_shot_text_examples,
            "one_example_per_image": self.one_example_per_image,
            "demo_answer": self.demo_answer,
        }


@dataclass(frozen=True)
class SubmissionSpec:
    """The registered writer of a split's evaluation-server file (``submission:`` in YAML) and
    its arguments (e.g. the full question list the server expects answers for)."""

    writer: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskConfig:
    """A validated task file."""

    name: str
    path: str
    loader: str
    loader_args: dict[str, Any]
    prompt: str | dict[str, Any]
    request: str
    generation: dict[str, Any]
    filters: tuple[str, ...]
    metrics: tuple[MetricSpec, ...]
    continuations: tuple[str, ...] = ()
    fewshot: FewShotSpec | None = None
    reference: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    group: str = ""
    raw: dict[str, Any] = field(default_factory=dict)
    # False: the split has no public labels (test-dev): it always runs predict-only
    labels: bool = True
    submission: SubmissionSpec | None = None

    @property
    def config_hash(self) -> str:
        """sha256 of the file's parsed content: records exactly which config produced a result."""
        return stable_hash(self.raw)

    @property
    def checksums(self) -> str | None:
        """A sha256sum-style file listing the dataset's files, checked before loading."""
        dataset = self.raw.get("dataset") or {}
        return resolve_roots(dataset["checksums"]) if dataset.get("checksums") else None

    def resolved_loader_args(self) -> dict[str, Any]:
        """Loader arguments with ``{root}`` prefixes (``{data_root}``, ``{demo}``) expanded."""
        return {key: resolve_roots(value) for key, value in self.loader_args.items()}


def resolve_roots(value: Any) -> Any:
    """Expand ``{name}`` in strings using the path-root registry (demo data is built on use)."""
    if isinstance(value, str):
        return ROOT_PATTERN.sub(lambda m: str(PATH_ROOTS.get(m.group(1))()), value)
    if isinstance(value, list):
        return [resolve_roots(v) for v in value]
    if isinstance(value, dict):
        return {k: resolve_roots(v) for k, v in value.items()}
    return value


def root_templates(value: Any) -> Iterator[str]:
    """Every string under ``value`` (nested lists, tuples, dicts) holding a ``{root}``,
    unresolved: what preflight checks on disk and ``emu2-eval tasks`` reports."""
    if isinstance(value, str):
        if ROOT_PATTERN.search(value):
            yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from root_templates(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from root_templates(item)


def _check_roots(value: Any, problems: list[str]) -> None:
    if isinstance(value, str):
        for name in ROOT_PATTERN.findall(value):
            if name not in PATH_ROOTS:
                problems.append(
                    f"unknown path root {{{name}}}; valid: "
                    + ", ".join("{" + n + "}" for n in PATH_ROOTS.names())
                )
    elif isinstance(value, (list, dict)):
        for item in value.values() if isinstance(value, dict) else value:
            _check_roots(item, problems)


def _check_profile_spec(
    prompt: Any, where: str, problems: list[str], profiles: ProfileRegistry
) -> None:
    if isinstance(prompt, str):
        if prompt not in profiles:
            problems.append(
                f"{where}: unknown prompt profile {prompt!r}; valid: {', '.join(profiles)}"
            )
    elif isinstance(prompt, dict):
        problems.extend(f"{where}: {p}" for p in profiles.check_inline(prompt))
    else:
        problems.append(f"'{where}' must be a profile name or an inline profile mapping")


def _parse_fewshot(
    raw: Any, problems: list[str], profiles: ProfileRegistry, prompt: Any = None
) -> FewShotSpec | None:
    """Validate the ``fewshot:`` block (None when the task has none)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.append("'fewshot' must be a mapping")
        return None
    unknown = set(raw) - FEWSHOT_KEYS
    if unknown:
        problems.append(f"fewshot: unknown key(s) {', '.join(sorted(unknown))}")
    pool = raw.get("pool")
    if not isinstance(pool, dict) or pool.get("loader") not in DATA_LOADERS:
        problems.append(
            f"fewshot.pool must be a mapping with a registered 'loader' ({', '.join(DATA_LOADERS)})"
        )
        return None
    pool_args = pool.get("args") or {}
    _check_roots(pool_args, problems)
    strategy = raw.get("strategy", "random")
    if strategy not in DEMO_SELECTORS:
        problems.append(
            f"fewshot: unknown strategy {strategy!r}; valid: {', '.join(DEMO_SELECTORS)}"
        )
    encoder = raw.get("encoder", "color_histogram")
    if encoder not in FEATURE_ENCODERS:
        problems.append(
            f"fewshot: unknown encoder {encoder!r}; valid: {', '.join(FEATURE_ENCODERS)}"
        )
    elif strategy == "rices":
        problems.extend(check_encoder_args(encoder, raw.get("encoder_args") or {}))
    if raw.get("profile") is not None:
        _check_profile_spec(raw["profile"], "fewshot.profile", problems, profiles)
    text_examples = raw.get("zero_shot_text_examples", 0)
    if not isinstance(text_examples, int) or text_examples < 0:
        problems.append("fewshot.zero_shot_text_examples must be a non-negative integer")
        text_examples = 0
    per_image = raw.get("one_example_per_image", False)
    if not isinstance(per_image, bool):
        problems.append(f"fewshot.one_example_per_image must be true or false, not {per_image!r}")
        per_image = False
    demo_answer = raw.get("demo_answer", "multiple_choice_answer")
    if demo_answer not in DEMO_ANSWERS:
        problems.append(
            f"fewshot.demo_answer: unknown rule {demo_answer!r}; valid: {', '.join(DEMO_ANSWERS)}"
        )
        demo_answer = "multiple_choice_answer"
    elif demo_answer != "multiple_choice_answer":
        problems.extend(
            _answer_target_problems(raw.get("profile") or prompt, demo_answer, profiles)
        )
    return FewShotSpec(
        pool_loader=pool["loader"],
        pool_args=pool_args,
        strategy=strategy,
        encoder=encoder,
        encoder_args=raw.get("encoder_args") or {},
        profile=raw.get("profile"),
        zero_shot_text_examples=text_examples,
        one_example_per_image=per_image,
        demo_answer=demo_answer,
    )


def _answer_target_problems(profile: Any, demo_answer: str, profiles: ProfileRegistry) -> list[str]:
    """``demo_answer`` only changes what ``{answer}`` shows: refuse it on a few-shot profile
    whose demonstration target has no ``{answer}`` (captions), where it would do nothing."""
    if isinstance(profile, dict):
        target = str(profile.get("target", "{answer}"))
    elif isinstance(profile, str) and profile in profiles:
        target = profiles.get(profile).target
    else:
        return []  # a bad profile name: reported by its own check
    if "{answer}" in target:
        return []
    return [
        f"fewshot.demo_answer {demo_answer!r} needs a few-shot profile whose target shows "
        f"{{answer}}; its target is {target!r}: remove demo_answer"
    ]


def _parse_submission(raw: Any, problems: list[str]) -> SubmissionSpec | None:
    """Validate ``submission: {writer, args}`` (None when the task writes no server file)."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or raw.get("writer") not in SUBMISSION_WRITERS:
        problems.append(
            "submission must be a mapping with a registered 'writer' "
            f"({', '.join(SUBMISSION_WRITERS)}) and its 'args'"
        )
        return None
    unknown = set(raw) - {"writer", "args"}
    if unknown:
        problems.append(f"submission: unknown key(s) {', '.join(sorted(unknown))}")
    args = raw.get("args") or {}
    if not isinstance(args, dict):
        problems.append("submission.args must be a mapping")
        return None
    _check_roots(args, problems)
    return SubmissionSpec(raw["writer"], args)


def parse_task(raw: Any, path: str | Path, profiles: ProfileRegistry | None = None) -> TaskConfig:
    """Validate a parsed YAML mapping and build a TaskConfig, or raise TaskConfigError.

    Profile names are looked up in ``profiles`` (a task index's; default: the bundled ones)."""
    if profiles is None:
        profiles = TaskIndex().profiles
    problems: list[str] = []
    if not isinstance(raw, dict):
        raise TaskConfigError(path, ["top level must be a mapping"])
    unknown = set(raw) - TASK_KEYS
    if unknown:
        problems.append(f"unknown key(s) {', '.join(sorted(unknown))}")
    name = raw.get("task")
    if not isinstance(name, str) or not name:
        problems.append("'task' (the task name) is required")
    else:
        problems.extend(check_task_name(name))
    dataset = raw.get("dataset")
    loader, loader_args = "", {}
    if not isinstance(dataset, dict) or "loader" not in dataset:
        problems.append("'dataset' must be a mapping with 'loader' and 'args'")
    else:
        loader, loader_args = dataset["loader"], dataset.get("args") or {}
        if loader not in DATA_LOADERS:
            problems.append(f"unknown data loader {loader!r}; valid: {', '.join(DATA_LOADERS)}")
        if not isinstance(loader_args, dict):
            problems.append("'dataset.args' must be a mapping")
            loader_args = {}
        _check_roots(loader_args, problems)
        unknown_dataset = set(dataset) - DATASET_KEYS
        if unknown_dataset:
            problems.append(f"dataset: unknown key(s) {', '.join(sorted(unknown_dataset))}")
        checksums = dataset.get("checksums")
        if checksums is not None and not isinstance(checksums, str):
            problems.append("dataset.checksums must be the path of a sha256sum-style file")
        _check_roots(checksums, problems)
    request = raw.get("request", "generate")
    if request not in REQUEST_KINDS:
        problems.append(f"unknown request kind {request!r}; valid: {', '.join(REQUEST_KINDS)}")
    prompt = raw.get("prompt")
    _check_profile_spec(prompt, "prompt", problems, profiles)
    fewshot = _parse_fewshot(raw.get("fewshot"), problems, profiles, prompt)
    reference = raw.get("reference") or {}
    if not isinstance(reference, dict):
        problems.append("'reference' must be a mapping (benchmark, split, metric of the paper)")
        reference = {}
    generation = raw.get("generation") or {}
    if not isinstance(generation, dict):
        problems.append("'generation' must be a mapping")
        generation = {}
    bad_gen = set(generation) - GENERATION_KEYS
    if bad_gen:
        problems.append(
            f"unknown generation setting(s) {', '.join(sorted(bad_gen))}; "
            f"valid: {', '.join(sorted(GENERATION_KEYS))}"
        )
    problems.extend(check_generation(generation))
    filters = raw.get("filters") or []
    if not isinstance(filters, list):
        problems.append("'filters' must be a list of filter names")
        filters = []
    for name_ in filters:
        if name_ not in FILTERS:
            problems.append(f"unknown filter {name_!r}; valid: {', '.join(FILTERS)}")
    metrics: list[MetricSpec] = []
    raw_metrics = raw.get("metrics")
    if not isinstance(raw_metrics, list) or not raw_metrics:
        problems.append("'metrics' must be a non-empty list")
        raw_metrics = []
    for item in raw_metrics:
        spec = {"name": item} if isinstance(item, str) else item
        if not isinstance(spec, dict) or "name" not in spec:
            problems.append(f"metric entry {item!r} needs a 'name'")
            continue
        if not isinstance(spec["name"], str) or spec["name"] not in METRICS:
            problems.append(f"unknown metric {spec['name']!r}; valid: {', '.join(METRICS)}")
            continue
        options = {k: v for k, v in spec.items() if k != "name"}
        problems.extend(check_metric_options(spec["name"], options))
        metrics.append(MetricSpec(spec["name"], options))
    labels = raw.get("labels", True)
    if not isinstance(labels, bool):
        problems.append(
            f"'labels' must be true or false (false: a split without public labels, run "
            f"predict-only), got {labels!r}"
        )
    submission = _parse_submission(raw.get("submission"), problems)
    continuations = raw.get("continuations") or []
    if request == "loglikelihood" and not continuations:
        problems.append("a loglikelihood task needs 'continuations'")
    if problems:
        raise TaskConfigError(path, problems)
    return TaskConfig(
        name=name,
        path=str(path),
        loader=loader,
        loader_args=loader_args,
        prompt=prompt,
        request=request,
        generation=generation,
        filters=tuple(filters),
        metrics=tuple(metrics),
        continuations=tuple(continuations),
        fewshot=fewshot,
        reference=reference,
        description=raw.get("description", ""),
        group=raw.get("group", ""),
        raw=raw,
        labels=labels,
        submission=submission,
    )


def load_task_config(path: str | Path, profiles: ProfileRegistry | None = None) -> TaskConfig:
    return parse_task(read_yaml(path), path, profiles)

"""Checks before any model work: everything a run needs that is not the model itself.

``evaluate`` calls :func:`preflight` after the tasks are resolved and before the adapter is
built, so a missing annotation file, few-shot pool, metric backbone (CLIP, DINO, Inception) or
Java ends the run in seconds, in one ``Error:`` listing every problem with its fix, instead of
after the model loaded (or, for generation tasks, after every image was generated).

Only cheap facts are checked: paths exist, weights are in a local directory or the Hugging Face
cache when offline, ``java`` runs. The loaders and metrics still validate contents on use.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from emu2_eval.core.errors import UserError
from emu2_eval.tasks.config import ROOT_PATTERN, resolve_roots, root_templates
from emu2_eval.tasks.task import Task

#: Path roots -> the variable that moves them (``{demo}`` data is generated, never missing).
ROOT_VARIABLES = {"data_root": "EMU2_EVAL_DATA", "dreambench": "EMU2_EVAL_DREAMBENCH"}
#: Metrics whose ``backbone`` option names a checkpoint loaded with ``from_pretrained``.
BACKBONE_METRICS = {"clip_t": "CLIP", "clip_i": "CLIP", "dino": "DINO"}
JAVA_METRICS = {"caption_metrics"}
JAVA_VERSION = 17
JAVA_INSTALL = (
    f"install Java {JAVA_VERSION}: `apt-get install -y openjdk-{JAVA_VERSION}-jre-headless` "
    f"(Debian/Ubuntu), `conda install -c conda-forge openjdk={JAVA_VERSION}` or "
    f"`brew install openjdk@{JAVA_VERSION}`; then check that `java -version` works"
)


class PreflightError(UserError, ValueError):
    """Everything a run needs that is missing, each with its fix, found before any model work."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) found before loading the model:\n{lines}")


def preflight(
    tasks: Iterable[Task],
    shots: int,
    model_class: type | None = None,
    model: str = "",
    model_args: dict[str, Any] | None = None,
) -> None:
    """Raise :class:`PreflightError` listing every problem of these tasks (nothing if fine).

    ``model_args`` (of a model still to load) have their ``device`` checked: a GPU that is not
    there would otherwise fail inside torch after the weights were read.
    """
    problems: list[str] = []
    device = (model_args or {}).get("device")
    if isinstance(device, str):
        problems += device_problems(device, model)
    if model_args is not None and isinstance(model_class, type):
        problems += _argument_problems(model, model_class, model_args)
    for task in tasks:
        problems += _unsupported(task, model_class, model)
        problems += _unsupported_inputs(task, shots, model_class, model)
        problems += _data_problems(task, shots)
        problems += _backbone_problems(task, shots)
    if any(m.name in JAVA_METRICS for t in tasks for m in t.config.metrics):
        problems += java_problems()
    if problems:
        raise PreflightError(list(dict.fromkeys(problems)))


def _argument_problems(model: str, model_class: type, model_args: dict[str, Any]) -> list[str]:
    """The adapter's argument names and a local ``pretrained`` path, as ``build_adapter`` checks."""
    from emu2_eval.models.base import check_adapter_args

    try:
        check_adapter_args(model, model_class, model_args)
    except (ValueError, OSError) as exc:
        return [str(exc)]
    return []


def device_problems(device: str, model: str = "") -> list[str]:
    """Why ``device`` (``cpu``, ``cuda``, ``cuda:1``, ``mps``, ``auto``) is not usable here."""
    kind, _, index = device.partition(":")
    if kind not in ("cuda", "mps"):
        return []  # cpu, auto, or a device_map-style value the adapter checks itself
    import torch

    fix = "use --device cpu (or auto), or run where that device exists"
    if kind == "mps":
        if torch.backends.mps.is_available():
            return []
        return [f"device {device!r} for model {model!r}: no Apple MPS device here; {fix}"]
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        return [
            f"device {device!r} for model {model!r}: no CUDA GPU is visible (torch "
            f"{torch.__version__}, CUDA build: {torch.version.cuda or 'no'}); {fix}"
        ]
    if index.isdigit() and int(index) >= count:
        return [
            f"device {device!r} for model {model!r}: only {count} CUDA GPU(s) are visible "
            f"(cuda:0..cuda:{count - 1}); {fix}"
        ]
    return []


def _unsupported(task: Task, model_class: type | None, model: str) -> list[str]:
    problems = []
    kinds = getattr(model_class, "supported_kinds", None)
    if kinds and task.config.request not in kinds:
        problems.append(
            f"task {task.name!r} needs {task.config.request!r} requests, which model {model!r} "
            f"does not support ({', '.join(sorted(kinds))}); choose another task or model"
        )
    mode = _prompt_mode(task)
    modes = getattr(model_class, "prompt_modes", None)
    if mode and modes is not None and mode not in modes:
        problems.append(
            f"task {task.name!r} uses the {mode!r} prompt mode, which model {model!r} does not "
            f"render (it renders: {', '.join(sorted(modes)) or 'plain prompts only'}); choose "
            "another task or model"
        )
    return problems


def _prompt_mode(task: Task) -> str:
    try:
        return task.profile.mode
    except Exception:  # a broken profile is reported by the task checks, not here
        return ""


def _unsupported_inputs(task: Task, shots: int, model_class: type | None, model: str) -> list[str]:
    """A video (or other part kind) in the task's prompt that the adapter cannot take."""
    if not isinstance(model_class, type):
        return []
    from emu2_eval.models.base import ModelAdapter

    accepted = getattr(model_class, "input_kinds", ModelAdapter.input_kinds)
    try:
        needed = set(task.profile.input_kinds())
        if shots > 0 and task.config.fewshot is not None:
            needed |= task.fewshot_profile.input_kinds()
    except (KeyError, ValueError):  # an unknown or broken profile is reported by validation
        return []
    missing = sorted(needed - set(accepted))
    if not missing:
        return []
    return [
        f"task {task.name!r} shows the model {' and '.join(missing)} parts (prompt "
        f"{task.config.prompt!r}), which model {model!r} does not take (it takes: "
        f"{', '.join(sorted(accepted)) or 'text only'}); choose a model whose adapter takes "
        f"{' and '.join(missing)} (its `input_kinds`), or another task"
    ]


def _where(template: str) -> str:
    """How to move a root: the variable, its current value or default."""
    hints = []
    for root in ROOT_PATTERN.findall(template):
        variable = ROOT_VARIABLES.get(root)
        if variable is None:
            continue
        current = os.environ.get(variable)
        state = f"now {current!r}" if current is not None else "unset, so the default"
        hints.append(
            f"fix: {{{root}}} is {resolve_roots('{' + root + '}')} ({variable}, {state}): put "
            f"the files there, or set {variable} to the directory that holds them"
        )
    return "; ".join(hints)


def _data_problems(task: Task, shots: int) -> list[str]:
    config = task.config
    sources: list[tuple[str, Any]] = [("data", config.loader_args)]
    dataset = config.raw.get("dataset") or {}
    if isinstance(dataset, dict) and dataset.get("checksums"):
        sources.append(("checksums", dataset["checksums"]))
    spec = config.fewshot
    if spec is not None and (shots > 0 or spec.zero_shot_text_examples):
        sources.append(("few-shot pool", spec.pool_args))
    if config.submission is not None:  # read after the model ran: checked now
        sources.append(("submission", config.submission.args))
    problems = []
    for what, value in sources:
        for template in root_templates(value):
            path = resolve_roots(template)
            if not Path(path).exists():
                problems.append(
                    f"task {task.name!r}: {what} file {path} is missing (task file "
                    f"{config.path}: {template!r})"
                )
                hint = _where(template)
                if hint:  # once per root: preflight drops repeated lines
                    problems.append(hint)
    return problems


def _backbone_problems(task: Task, shots: int) -> list[str]:
    problems = []
    for metric in task.config.metrics:
        kind = BACKBONE_METRICS.get(metric.name)
        backbone = metric.options.get("backbone")
        if kind and isinstance(backbone, str):
            problem = checkpoint_problem(backbone)
            if problem:
                problems.append(
                    f"task {task.name!r}, metric {metric.name!r}: the {kind} backbone "
                    f"{backbone!r} {problem}"
                )
        if metric.name == "fid":
            problems += _inception_problem(task, metric.options.get("weights"))
    spec = task.config.fewshot
    pretrained = spec.encoder_args.get("pretrained") if spec is not None else None
    if pretrained and spec.strategy == "rices" and (shots > 0 or spec.zero_shot_text_examples):
        from emu2_eval.core.registry import FEATURE_ENCODERS

        title = getattr(FEATURE_ENCODERS.get(spec.encoder), "title", spec.encoder)
        problem = checkpoint_problem(str(pretrained))
        if problem:
            problems.append(
                f"task {task.name!r}: the few-shot {title} encoder {pretrained!r} {problem}"
            )
    return problems


def _inception_problem(task: Task, weights: Any) -> list[str]:
    from emu2_eval.scoring.metrics.fid import INCEPTION_URL, default_weights_path

    path = Path(weights).expanduser() if weights else default_weights_path()
    if path.is_file():
        return []
    return [
        f"task {task.name!r}, metric 'fid': the Inception weights {path} are missing: download "
        f"{INCEPTION_URL} to {default_weights_path()} (or set the metric's `weights:` option)"
    ]


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def checkpoint_problem(name: str) -> str | None:
    """Why ``name`` (a local directory or a hub id) cannot be loaded now, or None.

    A built-in name (``tiny-clip``, ``tiny-dino``) is built here if it is not yet: seconds, no
    download, and the metric then finds it ready.
    """
    from emu2_eval.core.tiny_backbones import BUILTIN_BACKBONES, resolve_backbone

    if name in BUILTIN_BACKBONES:
        resolve_backbone(name)
        return None
    local = Path(name).expanduser()
    if local.is_dir():
        if (local / "config.json").is_file():
            return None
        return f"is a directory without config.json ({local}): give a checkpoint directory"
    looks_local = name.startswith(("/", ".", "~")) or name.count("/") > 1
    if looks_local:
        return f"does not exist ({local}): give a checkpoint directory or a hub id"
    if not _offline():
        return None  # --online: from_pretrained downloads it
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    try:
        cached = try_to_load_from_cache(name, "config.json")
    except Exception:  # an id the hub library refuses: from_pretrained will say why
        return None
    if isinstance(cached, str):
        return None
    return (
        "is not in the Hugging Face cache and the harness is offline: download it "
        f"(`hf download {name}`), run with `emu2-eval --online ...`, or give a local "
        "checkpoint directory as the metric's `backbone:` option"
    )


def java_problems() -> list[str]:
    """Java for pycocoevalcap's tokenizer and METEOR: present and running (README: Java 17)."""
    java = shutil.which("java")
    if java is None:
        return [
            f"the caption metrics need Java {JAVA_VERSION} and no `java` is on PATH: "
            + JAVA_INSTALL
        ]
    try:
        done = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [
            f"`{java} -version` failed ({exc}): the caption metrics need Java "
            f"{JAVA_VERSION}; " + JAVA_INSTALL
        ]
    found = re.search(r'version "(\d+)(?:\.(\d+))?', done.stdout + done.stderr)
    if done.returncode != 0 or found is None:
        return [
            f"`{java} -version` did not run (exit {done.returncode}): the caption metrics "
            f"need Java {JAVA_VERSION}; " + JAVA_INSTALL
        ]
    major = int(found.group(1))
    if major == 1:  # "1.8.0_392" is Java 8
        major = int(found.group(2) or 0)
    if major < 8:
        return [f"`{java}` is Java {major}, too old for pycocoevalcap: " + JAVA_INSTALL]
    return []

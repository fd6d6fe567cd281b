"""The task registry: task names -> YAML files, read lazily, validated on demand."""

from __future__ import annotations

import difflib
from pathlib import Path

from emu2_eval.registry import UnknownNameError
from emu2_eval.tasks.config import TaskConfigError, load_task_config, read_yaml
from emu2_eval.tasks.locations import yaml_files
from emu2_eval.tasks.task import Task


def _task_files() -> list[Path]:
    return [p for p in yaml_files() if p.parent.name != "profiles"]


def task_index() -> dict[str, Path]:
    """Map each task name to its file (first directory wins, so user dirs override)."""
    index: dict[str, Path] = {}
    for path in _task_files():
        try:
            raw = read_yaml(path)
        except TaskConfigError:
            continue  # reported by validate_all
        if isinstance(raw, dict) and isinstance(raw.get("task"), str):
            index.setdefault(raw["task"], path)
    return index


def get_task(name: str) -> Task:
    """The Task called ``name``; an unknown name lists the valid ones."""
    index = task_index()
    if name not in index:
        close = difflib.get_close_matches(name, list(index), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise UnknownNameError(
            f"unknown task {name!r}{hint}; valid tasks: {', '.join(sorted(index))}"
        )
    return Task(load_task_config(index[name]))


def validate_all() -> tuple[list[str], list[TaskConfigError]]:
    """Load every task file without a model: (names of valid tasks, errors each naming a file)."""
    valid: list[str] = []
    errors: list[TaskConfigError] = []
    seen: dict[str, Path] = {}
    for path in _task_files():
        try:
            config = load_task_config(path)
            Task(config).profile  # noqa: B018 - resolves the profile file too
        except TaskConfigError as exc:
            errors.append(exc)
            continue
        except KeyError as exc:
            errors.append(TaskConfigError(path, [str(exc.args[0])]))
            continue
        if config.name in seen and seen[config.name].parent == path.parent:
            errors.append(
                TaskConfigError(path, [f"task name {config.name!r} also in {seen[config.name]}"])
            )
            continue
        seen.setdefault(config.name, path)
        valid.append(config.name)
    return valid, errors

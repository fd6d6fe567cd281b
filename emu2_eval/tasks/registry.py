"""The task registry: task names -> YAML files of a :class:`TaskIndex`, read lazily, validated on
demand. Every function takes the index to search; without one, the bundled tasks (and
``EMU2_EVAL_TASKS``) only."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from emu2_eval.core.registry import UnknownNameError
from emu2_eval.tasks.config import TaskConfigError, load_task_config, read_yaml
from emu2_eval.tasks.locations import TaskIndex
from emu2_eval.tasks.task import Task


def _task_files(index: TaskIndex) -> list[Path]:
    return [p for p in index.yaml_files() if p.parent.name != "profiles"]


def _scan(index: TaskIndex) -> tuple[dict[str, Path], list[TaskConfigError]]:
    """(task name -> file, first directory winning; the files that are not valid YAML)."""
    found: dict[str, Path] = {}
    broken: list[TaskConfigError] = []
    for path in _task_files(index):
        try:
            raw = read_yaml(path)
        except TaskConfigError as exc:
            broken.append(exc)
            continue
        if isinstance(raw, dict) and isinstance(raw.get("task"), str):
            found.setdefault(raw["task"], path)
    return found, broken


def task_index(index: TaskIndex | None = None) -> dict[str, Path]:
    """Map each task name to its file (first directory wins, so user dirs override)."""
    return _scan(index or TaskIndex())[0]


def _may_define(path: str, name: str) -> bool:
    """Whether an unreadable task file looks like it defines ``name`` (its text or file name)."""
    if Path(path).stem == name:
        return True
    pattern = rf"^task\s*:\s*[\"']?{re.escape(name)}[\"']?\s*(#.*)?$"
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    return re.search(pattern, text, flags=re.MULTILINE) is not None


def get_task(name: str, index: TaskIndex | None = None) -> Task:
    """The Task called ``name`` in ``index``; an unknown name lists the valid ones.

    A task file with a YAML syntax error has no readable name: when it seems to define ``name``
    its error (file and line) is raised, and any other unreadable file is listed, so a typo in
    a file is never reported as an unknown task alone.
    """
    index = index or TaskIndex()
    found, broken = _scan(index)
    if name not in found:
        for error in broken:
            if _may_define(error.path, name):
                raise error
        close = difflib.get_close_matches(name, list(found), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        unreadable = (
            "; these task files could not be read: " + "; ".join(str(e) for e in broken)
            if broken
            else ""
        )
        raise UnknownNameError(
            f"unknown task {name!r}{hint}; valid tasks: {', '.join(sorted(found))}{unreadable}"
        )
    return Task(load_task_config(found[name], index.profiles), index.profiles)


def validate_all(index: TaskIndex | None = None) -> tuple[list[str], list[TaskConfigError]]:
    """Load every task file without a model: (names of valid tasks, errors each naming a file)."""
    index = index or TaskIndex()
    valid: list[str] = []
    errors: list[TaskConfigError] = []
    seen: dict[str, Path] = {}
    for path in _task_files(index):
        try:
            config = load_task_config(path, index.profiles)
            Task(config, index.profiles).profile  # noqa: B018 - resolves the profile file too
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

"""Where task and profile YAML files are found."""

from __future__ import annotations

from pathlib import Path

from emu2_eval.core.environment import TASKS

_extra_dirs: list[Path] = []


def add_task_dir(path: str | Path) -> None:
    """Add a user directory of task YAMLs (``--include-path``); it is searched first."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"task directory {path} does not exist")
    if path not in _extra_dirs:
        _extra_dirs.insert(0, path)


def task_dirs() -> list[Path]:
    """User dirs, then ``EMU2_EVAL_TASKS``, then the project's ``tasks/`` (or installed copy)."""
    dirs = list(_extra_dirs)
    dirs += TASKS.get()  # each entry an existing directory, else an error naming the variable
    package = Path(__file__).resolve().parents[1]
    for candidate in (package.parent / "tasks", package / "_tasks"):
        if candidate.is_dir():
            dirs.append(candidate)
            break
    return dirs


def yaml_files(subdir: str | None = None) -> list[Path]:
    """All ``*.yaml`` files of the task dirs (optionally only under ``subdir``), sorted."""
    files: list[Path] = []
    for root in task_dirs():
        base = root / subdir if subdir else root
        if base.is_dir():
            files += sorted(base.rglob("*.yaml"))
    return files

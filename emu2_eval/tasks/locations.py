"""Where task and profile YAML files are found: a :class:`TaskIndex` value, passed explicitly.

The CLI and the API build one per command (``--include-path`` directories and the task
directories of installed entry points, :func:`emu2_eval.core.plugins.entry_point_task_dirs`)
and hand it to task and profile lookup; two indexes in one process never see each other's
directories.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from emu2_eval.core.environment import TASKS

if TYPE_CHECKING:
    from emu2_eval.tasks.profiles import ProfileRegistry


@dataclass(frozen=True)
class TaskIndex:
    """The task directories of a run: ``extra_dirs`` first (user directories, searched in this
    order), then ``EMU2_EVAL_TASKS``, then the project's ``tasks/`` (or its installed copy).

    Its prompt profiles (:attr:`profiles`) are read from the same directories on first use.
    """

    extra_dirs: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        dirs = tuple(Path(path) for path in self.extra_dirs)
        for path in dirs:
            if not path.is_dir():
                raise FileNotFoundError(f"task directory {path} does not exist")
        object.__setattr__(self, "extra_dirs", dirs)

    @classmethod
    def build(
        cls, include_paths: Iterable[str | Path] = (), plugin_dirs: Iterable[str | Path] = ()
    ) -> TaskIndex:
        """The index of ``--include-path`` directories (the last given searched first), then
        the entry points' directories (the last found first); a repeated directory counts once."""
        dirs: list[Path] = []
        for path in [*map(Path, plugin_dirs), *map(Path, include_paths)]:
            if path not in dirs:
                dirs.insert(0, path)
        return cls(tuple(dirs))

    def task_dirs(self) -> list[Path]:
        """User dirs, then ``EMU2_EVAL_TASKS``, then the project's ``tasks/`` (or installed
        copy)."""
        dirs = list(self.extra_dirs)
        dirs += TASKS.get()  # each entry an existing directory, else an error naming the variable
        package = Path(__file__).resolve().parents[1]
        for candidate in (package.parent / "tasks", package / "_tasks"):
            if candidate.is_dir():
                dirs.append(candidate)
                break
        return dirs

    def yaml_files(self, subdir: str | None = None) -> list[Path]:
        """All ``*.yaml`` files of the task dirs (optionally only under ``subdir``), sorted."""
        files: list[Path] = []
        for root in self.task_dirs():
            base = root / subdir if subdir else root
            if base.is_dir():
                files += sorted(base.rglob("*.yaml"))
        return files

    @cached_property
    def profiles(self) -> ProfileRegistry:
        """The prompt profiles of these directories (``profiles/*.yaml``), read on first use."""
        from emu2_eval.tasks.profiles import ProfileRegistry

        return ProfileRegistry(lambda: self.yaml_files("profiles"))

"""Adapters, metrics and filters from outside the package, visible to the CLI and the API.

Two ways, neither needing an edit of emu2_eval:

- an installed package declares entry points, e.g. in its pyproject.toml::

      [project.entry-points."emu2_eval.models"]
      my-vlm = "my_package.adapter:MyAdapter"

  (groups ``emu2_eval.models``, ``emu2_eval.metrics``, ``emu2_eval.filters``); they are
  registered by name, imported only when used; group ``emu2_eval.tasks`` names a directory of
  task YAML files (``my-tasks = "my_package:TASK_DIR"``, a path or a function returning one);
- ``emu2-eval --plugin FILE.py`` (or a module name) imports that code first; it registers
  with ``emu2_eval.core.registry.MODELS.register("my-vlm", MyAdapter)``.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import ModuleType

from emu2_eval.core.errors import UserError
from emu2_eval.core.registry import FILTERS, METRICS, MODELS, Registry

log = logging.getLogger(__name__)

GROUPS: dict[str, Registry] = {
    "emu2_eval.models": MODELS,
    "emu2_eval.metrics": METRICS,
    "emu2_eval.filters": FILTERS,
}
#: entry points naming a directory of task YAML files
TASKS_GROUP = "emu2_eval.tasks"
_loaded = False
#: (registry kind, name) -> the installed distribution whose entry point registered it
ENTRY_POINT_ORIGINS: dict[tuple[str, str], str] = {}


class PluginError(UserError, ImportError):
    """A ``--plugin`` file or module that cannot be imported."""


def load_entry_points() -> None:
    """Register every entry point of :data:`GROUPS` (once; a taken name is skipped, warned)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for group, registry in GROUPS.items():
        for point in entry_points(group=group):
            if point.name in registry:
                log.warning(
                    "entry point %s = %s (group %s) ignored: %s %r is already registered",
                    point.name, point.value, group, registry.kind, point.name,
                )  # fmt: skip
                continue
            registry.register(point.name, point.value)
            ENTRY_POINT_ORIGINS[(registry.kind, point.name)] = _distribution(point)


def _distribution(point: EntryPoint) -> str:
    dist = getattr(point, "dist", None)
    return getattr(dist, "name", None) or point.value.partition(":")[0]


def entry_point_task_dirs() -> list[Path]:
    """The directories named by ``emu2_eval.tasks`` entry points, in their order: each a path
    string attribute or a function returning one (``my_package:task_dir``). The CLI and the API
    put them in their task index, after ``--include-path``, before the bundled tasks. A broken
    entry point (import error, not a directory) is skipped with a warning."""
    dirs: list[Path] = []
    for point in entry_points(group=TASKS_GROUP):
        try:
            target = point.load()
            directory = Path(target() if callable(target) else target)
            if not directory.is_dir():
                raise FileNotFoundError(f"task directory {directory} does not exist")
        except Exception as exc:  # a broken plugin must not stop every command
            log.warning(
                "entry point %s = %s (group %s, %s) ignored: %s",
                point.name, point.value, TASKS_GROUP, _distribution(point), exc,
            )  # fmt: skip
            continue
        dirs.append(directory)
    return dirs


def load_plugin(target: str) -> ModuleType:
    """Import a plugin: a ``.py`` file (its own module name) or an importable module name."""
    path = Path(target).expanduser()
    try:
        if target.endswith(".py"):
            if not path.is_file():
                raise PluginError(f"--plugin {target}: no such file")
            name = f"emu2_eval_plugin_{path.stem}"
            spec = importlib.util.spec_from_file_location(name, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            return module
        return importlib.import_module(target)
    except PluginError:
        raise
    except Exception as exc:
        raise PluginError(
            f"--plugin {target}: importing it failed ({type(exc).__name__}: {exc}); give a "
            ".py file or an importable module that registers adapters (emu2-eval -v shows "
            "the traceback)"
        ) from exc

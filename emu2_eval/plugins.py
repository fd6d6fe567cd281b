"""Adapters, metrics and filters from outside the package, visible to the CLI and the API.

Two ways, neither needing an edit of emu2_eval:

- an installed package declares entry points, e.g. in its pyproject.toml::

      [project.entry-points."emu2_eval.models"]
      my-vlm = "my_package.adapter:MyAdapter"

  (groups ``emu2_eval.models``, ``emu2_eval.metrics``, ``emu2_eval.filters``); they are
  registered by name, imported only when used;
- ``emu2-eval --plugin FILE.py`` (or a module name) imports that code first; it registers
  with ``emu2_eval.registry.MODELS.register("my-vlm", MyAdapter)``.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

from emu2_eval.errors import UserError
from emu2_eval.registry import FILTERS, METRICS, MODELS, Registry

log = logging.getLogger(__name__)

GROUPS: dict[str, Registry] = {
    "emu2_eval.models": MODELS,
    "emu2_eval.metrics": METRICS,
    "emu2_eval.filters": FILTERS,
}
_loaded = False


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

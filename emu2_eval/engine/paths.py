"""Paths in results.json, written relative to the run directory or to a named root.

A results.json is shared, committed and compared across machines: the absolute paths of the
machine that ran it (``/home/alice/data/...``) are noise there and leak user names. Every path the
harness records (the response cache, task files, dataset files, checkpoints, metric weights) is
written as ``{root}/rest`` for the roots below, the same ``{root}`` syntax task files use, or as a
path relative to the run directory. ``--record-absolute-paths`` keeps them absolute.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: the run directory's results keys whose path values are rewritten (the model's arguments and
#: the command line are kept as the user typed them: reruns compare them)
PATH_MODES = ("relative", "absolute")


def path_roots() -> dict[str, Path]:
    """Named roots, most specific first: ``{dreambench}``, ``{data_root}``, ``{home}``
    (``EMU2_EVAL_HOME``: demo data and built-in models), ``{tasks}`` (the bundled task files)."""
    from emu2_eval.data.dreambench import dreambench_root
    from emu2_eval.data.roots import cache_home, data_root

    package = Path(__file__).resolve().parents[2]
    roots = {
        "dreambench": dreambench_root(),
        "data_root": data_root(),
        "home": cache_home(),
        "tasks": package / "tasks",
    }
    resolved = {name: Path(os.path.abspath(path)) for name, path in roots.items()}
    return dict(sorted(resolved.items(), key=lambda item: -len(str(item[1]))))


def portable(value: str, run_dir: Path, roots: dict[str, Path]) -> str:
    """``value`` if it is not an absolute path; else relative to ``run_dir`` when inside it,
    ``{root}/rest`` when under a root, otherwise relative to ``run_dir`` (``../..``)."""
    if not os.path.isabs(value):
        return value
    path = Path(os.path.abspath(value))
    run = Path(os.path.abspath(run_dir))
    if path == run or run in path.parents:
        return path.relative_to(run).as_posix() or "."
    for name, root in roots.items():
        if path == root or root in path.parents:
            rest = path.relative_to(root).as_posix()
            return f"{{{name}}}" + (f"/{rest}" if rest != "." else "")
    return Path(os.path.relpath(path, run)).as_posix()


def _walk(value: Any, convert: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return convert(value)
    if isinstance(value, list):
        return [_walk(v, convert) for v in value]
    if isinstance(value, dict):
        return {k: _walk(v, convert) for k, v in value.items()}
    return value


def portable_results(results: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """``results`` with the recorded paths made portable (see the module docstring): ``run``,
    ``model.info`` and each task block but its ``config`` (the task file's content as written)."""
    roots = path_roots()

    def convert(value: str) -> str:
        return portable(value, run_dir, roots)

    out = dict(results)
    out["run"] = _walk(results.get("run", {}), convert)
    model = dict(results.get("model", {}))
    if "info" in model:
        model["info"] = _walk(model["info"], convert)
    out["model"] = model
    tasks = {}
    for name, block in results.get("tasks", {}).items():
        tasks[name] = {
            key: (value if key == "config" else _walk(value, convert))
            for key, value in block.items()
        }
    out["tasks"] = tasks
    return out

"""What ``emu2-eval models``, ``metrics`` and ``tasks`` print: plugins included, nothing heavy.

Models are listed from the registry without importing them (a name, where it comes from: built
in, an installed package's entry point, or a ``--plugin``). Tasks are read from their YAML
files; their data is checked the way the preflight resolves it (``{data_root}``... paths exist),
except roots whose data the harness generates on first use (``{demo}``), which are not built
just to be listed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emu2_eval.core.registry import FILTERS, METRICS, MODELS, Registry
from emu2_eval.engine.preflight import ROOT_VARIABLES
from emu2_eval.tasks.config import (
    ROOT_PATTERN,
    TaskConfig,
    TaskConfigError,
    load_task_config,
    resolve_roots,
    root_templates,
)
from emu2_eval.tasks.locations import TaskIndex
from emu2_eval.tasks.registry import task_index


def origin(registry: Registry, name: str) -> str:
    """``built-in``, ``entry point (<distribution>)`` or ``plugin (<module>)``."""
    from emu2_eval.core.plugins import ENTRY_POINT_ORIGINS

    found = ENTRY_POINT_ORIGINS.get((registry.kind, name))
    if found:
        return f"entry point ({found})"
    target = registry.target(name)
    if target.startswith("emu2_eval."):
        return "built-in"
    return f"plugin ({target.partition(':')[0]})"


def registry_listing(registry: Registry, label: str, column: str = "class") -> str:
    """One line per registered name: name, origin, and the ``module:object`` it names (nothing
    is imported: listing a broken plugin does not fail)."""
    lines = [f"{label:16s} {'origin':32s} {column}"]
    for name in registry.names():
        lines.append(f"{name:16s} {origin(registry, name):32s} {registry.target(name)}")
    return "\n".join(lines)


def model_listing() -> str:
    """One line per adapter: name, origin, and the class it names."""
    return registry_listing(MODELS, "model")


def metric_listing() -> str:
    """The metrics, then the answer filters, each with its origin (built in, entry point of an
    installed package, or ``--plugin``)."""
    metrics = registry_listing(METRICS, "metric")
    filters = registry_listing(FILTERS, "filter", "function")
    return f"{metrics}\n\n{filters}"


def data_status(config: TaskConfig) -> str:
    """``present``, ``missing: <first file> (+N more)``, ``generated`` (built-in demo data,
    made on first use) or ``not checked`` (no file paths: e.g. a hub dataset)."""
    missing, generated, checked = [], False, 0
    sources: list[Any] = [config.loader_args]
    if config.fewshot is not None:
        sources.append(config.fewshot.pool_args)
    for template in root_templates(sources):
        if any(root not in ROOT_VARIABLES for root in ROOT_PATTERN.findall(template)):
            generated = True  # e.g. {demo}: resolving it would build the demo data
            continue
        checked += 1
        path = resolve_roots(template)
        if not Path(path).exists():
            missing.append(path)
    if missing:
        more = f" (+{len(missing) - 1} more)" if len(missing) > 1 else ""
        return f"missing: {missing[0]}{more}"
    if checked:
        return "present"
    return "generated" if generated else "not checked"


def task_listing_table(tasks: TaskIndex) -> str:
    """One line per task of ``tasks``: name, kind (request), few-shot support, data status,
    group, file."""
    index = task_index(tasks)
    header = f"{'task':28s} {'kind':16s} {'few-shot':9s} {'group':14s} {'data':40s} file"
    lines = [header]
    for name, path in sorted(index.items()):
        try:
            config = load_task_config(path, tasks.profiles)
        except TaskConfigError as exc:
            lines.append(
                f"{name:28s} {'(invalid)':16s} {'-':9s} {'-':14s} {'-':40s} {path}: "
                f"{'; '.join(exc.problems)[:80]}"
            )
            continue
        fewshot = "yes" if config.fewshot is not None else "no"
        lines.append(
            f"{name:28s} {config.request:16s} {fewshot:9s} {config.group or '-':14s} "
            f"{data_status(config):40s} {path}"
        )
    return "\n".join(lines)

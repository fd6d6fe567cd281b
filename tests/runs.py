"""``evaluate_run``: the engine's ``evaluate`` called the way most tests need it.

Tests name the model, its arguments, the tasks and the run directory, plus any other
:class:`RunConfig` field by keyword; the config is built here, once, as the CLI builds it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emu2_eval.engine.distributed import DistributedContext
from emu2_eval.engine.evaluate import evaluate
from emu2_eval.engine.run_config import RunConfig
from emu2_eval.models.base import ModelAdapter


def evaluate_run(
    model: str,
    model_args: dict[str, Any],
    task_names: list[str],
    output: Path,
    *,
    adapter: ModelAdapter | None = None,
    context: DistributedContext | None = None,
    **settings: Any,
) -> dict[str, Any] | None:
    """``evaluate(RunConfig(model, model_args, tasks, output, **settings), adapter)``."""
    config = RunConfig(
        model=model, model_args=model_args, tasks=tuple(task_names), output=output, **settings
    )
    return evaluate(config, adapter, context)

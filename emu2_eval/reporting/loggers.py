"""Optional experiment trackers: TensorBoard and Weights & Biases, off unless asked for.

Neither is a dependency: the import happens only when the user passes ``--tensorboard`` or
``--wandb-project``, and a missing package is an error naming the package to install (never a
silent skip).  Each metric is logged as ``<task>/<metric>`` with ``_low``/``_high`` beside it.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from emu2_eval.rundir.schema import RunResults, as_run_results


class TrackerUnavailableError(RuntimeError):
    """The requested tracker's package is not installed."""


def _import(module: str, package: str, option: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise TrackerUnavailableError(
            f"{option} needs the `{package}` package, which is not installed "
            f"(pip install {package})"
        ) from None


def scalars(results: Mapping[str, Any] | RunResults) -> dict[str, float]:
    """Flat ``{"task/metric": value, "task/metric_low": ..., ...}`` of a results dict."""
    out: dict[str, float] = {}
    for task, block in as_run_results(results).tasks.items():
        for metric, value in block.metrics.items():
            out[f"{task}/{metric}"] = float(value)
            interval = block.interval(metric)
            for side in ("low", "high"):
                if interval.get(side) is not None:
                    out[f"{task}/{metric}_{side}"] = float(interval[side])
    return out


def log_tensorboard(results: Mapping[str, Any] | RunResults, logdir: Path, step: int = 0) -> Path:
    """Write the scalars (and the manifest as text) to a TensorBoard event file."""
    run = as_run_results(results)
    module = _import("torch.utils.tensorboard", "tensorboard", "--tensorboard")
    writer = module.SummaryWriter(log_dir=str(logdir))
    try:
        for tag, value in scalars(run).items():
            writer.add_scalar(tag, value, step)
        writer.add_text("run/model", f"{run.model_name} {run.fingerprint}", step)
    finally:
        writer.close()
    return logdir


def log_wandb(
    results: Mapping[str, Any] | RunResults, project: str, name: str | None = None
) -> None:
    """Log the scalars to a W&B run (mode and credentials as wandb's own settings say)."""
    typed = as_run_results(results)
    wandb = _import("wandb", "wandb", "--wandb-project")
    run = wandb.init(
        project=project, name=name, config={"model": typed.model, "manifest": typed.manifest}
    )
    try:
        run.log(scalars(typed))
    finally:
        run.finish()

"""Optional experiment trackers: TensorBoard and Weights & Biases, off unless asked for.

Neither is a dependency: the import happens only when the user passes ``--tensorboard`` or
``--wandb-project``, and a missing package is an error naming the package to install (never a
silent skip).  Each metric is logged as ``<task>/<metric>`` with ``_low``/``_high`` beside it.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any


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


def scalars(results: dict[str, Any]) -> dict[str, float]:
    """Flat ``{"task/metric": value, "task/metric_low": ..., ...}`` of a results dict."""
    out: dict[str, float] = {}
    for task, block in results.get("tasks", {}).items():
        intervals = block.get("intervals", {})
        for metric, value in block.get("metrics", {}).items():
            out[f"{task}/{metric}"] = float(value)
            interval = intervals.get(metric, {})
            for side in ("low", "high"):
                if interval.get(side) is not None:
                    out[f"{task}/{metric}_{side}"] = float(interval[side])
    return out


def log_tensorboard(results: dict[str, Any], logdir: Path, step: int = 0) -> Path:
    """Write the scalars (and the manifest as text) to a TensorBoard event file."""
    module = _import("torch.utils.tensorboard", "tensorboard", "--tensorboard")
    writer = module.SummaryWriter(log_dir=str(logdir))
    try:
        for tag, value in scalars(results).items():
            writer.add_scalar(tag, value, step)
        model = results.get("model", {})
        writer.add_text("run/model", f"{model.get('name')} {model.get('fingerprint')}", step)
    finally:
        writer.close()
    return logdir


def log_wandb(results: dict[str, Any], project: str, name: str | None = None) -> None:
    """Log the scalars to a W&B run (mode and credentials as wandb's own settings say)."""
    wandb = _import("wandb", "wandb", "--wandb-project")
    run = wandb.init(
        project=project,
        name=name,
        config={"model": results.get("model", {}), "manifest": results.get("manifest", {})},
    )
    try:
        run.log(scalars(results))
    finally:
        run.finish()

"""Plots a person would rather look at than read: metric against shots, with the paper's points."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

PERCENT_UNITS = ("%", "percent")


def y_label(metric: str, unit: str | None) -> str:
    """The y axis label with its unit, ``score`` when the metric recorded none."""
    return f"{metric} ({unit.strip() if unit and unit.strip() else 'score'})"


def y_limits(values: list[float], unit: str | None) -> tuple[float, float]:
    """A y range a reader can judge a difference on: the full 0-100 for percentages, otherwise
    the data with at least one unit of room each side (a flat 0 line is not drawn as
    -0.04..0.04, which makes noise look like a trend)."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    low, high = (min(finite), max(finite)) if finite else (0.0, 1.0)
    if unit and unit.strip().lower() in PERCENT_UNITS:
        return min(0.0, low), max(100.0, high)
    pad = max(1.0, 0.1 * (high - low))
    return low - pad, high + pad


def point_label(mean: float, unit: str | None, seeds: int) -> str:
    """The label of one cell's point: its value with the unit and the seeds behind it."""
    from emu2_eval.reporting.format import fmt

    shown = fmt(float(mean)) + ("%" if unit and unit.strip().lower() in PERCENT_UNITS else "")
    return f"{shown}\n{seeds} seed{'s' if seeds != 1 else ''}"


def plot_sweep(summary: pd.DataFrame, path: Path, reference_model: str) -> Path:
    """One panel per (task, metric): measured mean +- std against shots, paper values as crosses."""
    import matplotlib.pyplot as plt

    from emu2_eval.core.atomic import save_figure_atomic

    fig = sweep_figure(summary, reference_model)
    try:
        save_figure_atomic(path, fig, dpi=120)
    finally:
        plt.close(fig)
    return path


def sweep_figure(summary: pd.DataFrame, reference_model: str):  # -> matplotlib Figure
    """The figure of :func:`plot_sweep`: every point labelled with its cell's value (and unit)
    and seed count, x axis in shots, y axis named with the metric's unit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = list(summary.groupby(["task", "metric"], sort=True))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
    for axis, ((task, metric), frame) in zip(axes[0], panels, strict=True):
        frame = frame.sort_values("shots")
        axis.errorbar(
            frame.shots,
            frame["mean"],
            yerr=frame["std"].fillna(0),
            marker="o",
            capsize=3,
            label="measured (mean ± std over seeds)",
        )
        paper = frame.dropna(subset=["paper"])
        if len(paper):
            axis.plot(
                paper.shots, paper.paper, "x--", color="tab:red", label=f"paper: {reference_model}"
            )
        axis.set_title(f"{task}")
        axis.set_xlabel("shots (demonstrations per query)")
        unit = (
            frame["units"].dropna().iloc[0]
            if "units" in frame and frame["units"].notna().any()
            else None
        )
        seeds = frame["seeds"] if "seeds" in frame else [1] * len(frame)
        for shots, mean, count in zip(frame.shots, frame["mean"], seeds, strict=True):
            axis.annotate(
                point_label(mean, unit, int(count)),
                (shots, mean),
                textcoords="offset points",
                xytext=(0, -10),
                ha="center",
                va="top",
                fontsize=7,
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.8},
            )
        axis.margins(x=0.12)  # room for the first and last labels
        spread = frame["std"].fillna(0)
        ys = [*(frame["mean"] - spread), *(frame["mean"] + spread)]
        if "paper" in frame:
            ys += list(frame["paper"].dropna())
        axis.set_ylabel(y_label(metric, unit))
        axis.set_ylim(*y_limits([float(v) for v in ys], unit))
        axis.set_xticks(sorted(frame.shots.unique()))
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    fig.tight_layout()
    return fig

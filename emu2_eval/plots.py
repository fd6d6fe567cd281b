"""Plots a person would rather look at than read: metric against shots, with the paper's points."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def plot_sweep(summary: pd.DataFrame, path: Path, reference_model: str) -> Path:
    """One panel per (task, metric): measured mean +- std against shots, paper values as crosses."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from emu2_eval.atomic import save_figure_atomic

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
        axis.set_xlabel("shots")
        axis.set_ylabel(metric)
        axis.set_xticks(sorted(frame.shots.unique()))
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    fig.tight_layout()
    try:
        save_figure_atomic(path, fig, dpi=120)
    finally:
        plt.close(fig)
    return path

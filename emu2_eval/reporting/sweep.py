"""The presentation of a sweep: sweep_summary.md and sweep.png beside the engine's CSV tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from emu2_eval.core.atomic import write_text_atomic
from emu2_eval.reporting.format import fmt
from emu2_eval.reporting.plots import plot_sweep


def write_sweep_report(summary: pd.DataFrame, output: Path, reference_model: str) -> None:
    """sweep_summary.md and sweep.png of a finished sweep (main process)."""
    write_text_atomic(output / "sweep_summary.md", sweep_markdown(summary))
    plot_sweep(summary, output / "sweep.png", reference_model)


def sweep_markdown(summary: pd.DataFrame) -> str:
    """sweep_summary.md: missing values (no paper number, one seed's std) read ``n/a`` as in the
    HTML report, not pandas' ``nan``."""
    header = list(summary.columns)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(":--" for _ in header) + "|"]
    for row in summary.itertuples(index=False):
        cells = [fmt(v) if isinstance(v, float) or v is None else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"

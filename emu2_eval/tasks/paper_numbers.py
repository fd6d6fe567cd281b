"""Published reference numbers (``results/paper/*.csv``) to set beside measured ones."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

PAPER_TABLE1 = "paper/emu2_table1_fewshot.csv"


def results_dir() -> Path:
    """The project's ``results/`` (or the copy installed with the package)."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package.parent / "results", package / "_results"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("results/ with the paper reference numbers was not found")


def paper_fewshot_table() -> pd.DataFrame:
    """Table 1 of the Emu2 paper: benchmark, split, metric, model, shots, text examples, value."""
    return pd.read_csv(results_dir() / PAPER_TABLE1)


def paper_value(
    table: pd.DataFrame, benchmark: str, metric: str, shots: int, model: str
) -> float | None:
    """The paper's number for one cell, or None when the paper has none."""
    rows = table[
        (table.benchmark == benchmark)
        & (table.metric == metric)
        & (table.shots == shots)
        & (table.model == model)
    ]
    return float(rows.value.iloc[0]) if len(rows) else None

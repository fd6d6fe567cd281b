"""Measured numbers beside the Emu2 paper's (Tables 1, 2, 4, 5, typed in under results/paper/).

A task names its paper row with ``reference: {benchmark, split, metric}`` in its YAML; the paper
model (``Emu2-37B`` for Table 1, ``Emu2-Chat`` for Table 2, ``Emu2-Gen`` for Tables 4-5) is
chosen by the user (``--paper-model``) because a checkpoint path does not say which row of the
paper it should reproduce.  The shots come from the run.  Whether the paper's number lies inside
the measured bootstrap interval is reported per row: outside is a sign of a protocol gap (split,
prompt, decoding), not a proof of one, since the paper's own uncertainty is not published.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from emu2_eval.references import PAPER_TABLE1, results_dir

PAPER_FILES: dict[str, str] = {
    "Table 1": PAPER_TABLE1,
    "Table 2": "paper/emu2_table2_chat.csv",
    "Table 4": "paper/emu2_table4_t2i.csv",
    "Table 5": "paper/emu2_table5_dreambench.csv",
}
COLUMNS = [
    "table",
    "benchmark",
    "split",
    "metric",
    "model",
    "shots",
    "flamingo_text_examples",
    "units",
    "value",
    "source",
]


def paper_tables() -> pd.DataFrame:
    """Every typed-in paper number, one row each, with the table it comes from."""
    frames = []
    for table, relative in PAPER_FILES.items():
        path = results_dir() / relative
        if not path.is_file():
            raise FileNotFoundError(f"{path} (the paper's {table}) is missing")
        frame = pd.read_csv(path)
        frame["table"] = table
        if "units" not in frame:
            frame["units"] = "percent"
        if "flamingo_text_examples" not in frame:
            frame["flamingo_text_examples"] = 0
        if "source" not in frame:
            frame["source"] = f"Emu2 paper {table}"
        frames.append(frame[COLUMNS])
    return pd.concat(frames, ignore_index=True)


def paper_models(table: pd.DataFrame | None = None) -> list[str]:
    table = paper_tables() if table is None else table
    return sorted(table.model.unique())


def reproduction_table(results: dict[str, Any], paper_model: str) -> pd.DataFrame:
    """Per task with a paper reference: measured [low, high], paper, difference, inside?"""
    table = paper_tables()
    if paper_model not in set(table.model):
        raise ValueError(
            f"--paper-model {paper_model!r} is not in the paper tables; valid: "
            + ", ".join(paper_models(table))
        )
    rows = []
    for task, block in results.get("tasks", {}).items():
        reference = block.get("reference") or {}
        if not reference.get("benchmark") or not reference.get("metric"):
            continue
        metric = reference["metric"]
        shots = int((block.get("fewshot") or {}).get("shots", 0) or 0)
        candidates = table[
            (table.model == paper_model)
            & (table.benchmark == reference["benchmark"])
            & (table.metric == metric)
            & (table.shots == shots)
            & (table.flamingo_text_examples == 0)
        ]
        if reference.get("split"):
            candidates = candidates[candidates.split == reference["split"]]
        measured = block.get("metrics", {}).get(metric)
        interval = block.get("intervals", {}).get(metric, {})
        low, high = interval.get("low"), interval.get("high")
        paper = float(candidates.value.iloc[0]) if len(candidates) else None
        inside = None
        if paper is not None and low is not None and high is not None:
            inside = bool(low <= paper <= high)
        rows.append(
            {
                "task": task,
                "benchmark": reference["benchmark"],
                "split": reference.get("split", ""),
                "metric": metric,
                "shots": shots,
                "measured": measured,
                "low": low,
                "high": high,
                "units": block.get("units", {}).get(metric, ""),
                "paper": paper,
                "paper_units": candidates.units.iloc[0] if len(candidates) else "",
                "diff": None if paper is None or measured is None else measured - paper,
                "paper_in_interval": inside,
                "source": candidates.table.iloc[0] if len(candidates) else "no paper number",
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "task",
            "benchmark",
            "split",
            "metric",
            "shots",
            "measured",
            "low",
            "high",
            "units",
            "paper",
            "paper_units",
            "diff",
            "paper_in_interval",
            "source",
        ],
    )

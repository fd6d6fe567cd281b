"""Tabular reports from results.json: a pandas table written as CSV and Markdown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd


def results_table(results: dict[str, Any]) -> pd.DataFrame:
    """One row per (task, metric): value, units, counts, and the metric options used."""
    rows = []
    model = results.get("model", {}).get("name", "")
    for task, block in results.get("tasks", {}).items():
        for metric, value in block.get("metrics", {}).items():
            rows.append(
                {
                    "model": model,
                    "task": task,
                    "metric": metric,
                    "value": round(float(value), 4),
                    "units": block.get("units", {}).get(metric, ""),
                    "n": block.get("n_scored", 0),
                    "errors": block.get("n_errors", 0),
                }
            )
        if not block.get("metrics"):
            rows.append(
                {
                    "model": model,
                    "task": task,
                    "metric": "(none scored)",
                    "value": None,
                    "units": "",
                    "n": block.get("n_scored", 0),
                    "errors": block.get("n_errors", 0),
                }
            )
    return pd.DataFrame(rows, columns=["model", "task", "metric", "value", "units", "n", "errors"])


def groups_table(results: dict[str, Any]) -> pd.DataFrame:
    """Per-group accuracies (answer type, question type) as rows."""
    rows = []
    for task, block in results.get("tasks", {}).items():
        for group_key, values in block.get("groups", {}).items():
            for group, value in sorted(values.items()):
                rows.append(
                    {
                        "task": task,
                        "group_by": group_key,
                        "group": group,
                        "value": round(float(value), 4),
                    }
                )
    return pd.DataFrame(rows, columns=["task", "group_by", "group", "value"])


def write_reports(results: dict[str, Any], run_dir: Path) -> pd.DataFrame:
    """Write report.csv, report.md (and groups.csv when there are groups); return the table."""
    table = results_table(results)
    table.to_csv(run_dir / "report.csv", index=False)
    groups = groups_table(results)
    markdown = table.to_markdown(index=False)
    if not groups.empty:
        groups.to_csv(run_dir / "groups.csv", index=False)
        markdown += "\n\n" + groups.to_markdown(index=False)
    (run_dir / "report.md").write_text(markdown + "\n", encoding="utf-8")
    return table

"""Reports from results.json: CSV, Markdown, LaTeX and HTML, every value with its interval.

Markdown, LaTeX and HTML show ``value [low, high]``; the CSV has ``low``/``high`` columns plus
the confidence, resamples and interval method. The files are written by
:func:`emu2_eval.reporting.write.write_reports`. The last two CSV columns stay ``n, errors``
(scripts read them by position); the settings that produced each number (shots, prompt profile,
strategy, seed, demos, scorer) come just before them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from emu2_eval.reporting.format import fmt, fmt_interval, md_cell
from emu2_eval.reporting.settings import (
    SETTING_COLUMNS,
    checkpoint_label,
    scorer_text,
    task_settings,
)

CONSOLE_COLUMNS = [
    "model",
    "task",
    "metric",
    "value",
    "low",
    "high",
    "units",
    *SETTING_COLUMNS,
    "n",
    "errors",
]
CSV_COLUMNS = [
    "model",
    "task",
    "metric",
    "value",
    "low",
    "high",
    "confidence",
    "resamples",
    "interval_method",
    "units",
    *SETTING_COLUMNS,
    "n",
    "errors",
]


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 4)


def report_frame(results: dict[str, Any]) -> pd.DataFrame:
    """One row per (task, metric) with value, interval, how it was computed, units, counts."""
    rows = []
    model = checkpoint_label(results)
    for task, block in results.get("tasks", {}).items():
        intervals = block.get("intervals", {})
        settings = task_settings(block)
        for metric, value in block.get("metrics", {}).items():
            interval = intervals.get(metric, {})
            rows.append(
                {
                    "model": model,
                    "task": task,
                    **settings,
                    "scorer": scorer_text(block, metric),
                    "metric": metric,
                    "value": _round(value),
                    "low": _round(interval.get("low")),
                    "high": _round(interval.get("high")),
                    "confidence": interval.get("confidence"),
                    "resamples": interval.get("resamples"),
                    "interval_method": interval.get("method", "not computed"),
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
                    **settings,
                    "metric": _unscored_label(block),
                    "interval_method": "",
                    "units": "",
                    "n": block.get("n_scored", 0),
                    "errors": block.get("n_errors", 0),
                }
            )
    return pd.DataFrame(rows, columns=CSV_COLUMNS)


def _unscored_label(block: dict[str, Any]) -> str:
    """Why a task has no numbers: predict-only (naming its submission file) or none scored."""
    if not block.get("predict_only"):
        return "(none scored)"
    submission = (block.get("submission") or {}).get("file")
    return f"(predict-only: {submission})" if submission else "(predict-only)"


def results_table(results: dict[str, Any]) -> pd.DataFrame:
    """The compact table printed by ``run``/``score``: value, low, high, units, counts."""
    return report_frame(results)[CONSOLE_COLUMNS]


def predict_only_lines(results: dict[str, Any], output: Path) -> list[str]:
    """One line per predict-only task: its response count and submission file, no numbers."""
    lines = []
    for name, block in results.get("tasks", {}).items():
        if not block.get("predict_only"):
            continue
        submission = block.get("submission") or {}
        where = (
            f"; submission file {output / submission['file']} ({submission['n_entries']} "
            f"entries, {submission['n_filled_empty']} left empty as not in the run)"
            if submission
            else ""
        )
        lines.append(
            f"{name}: predict-only, {block.get('n_samples', 0)} responses "
            f"({block.get('n_errors', 0)} errors), not scored{where}"
        )
    return lines


def groups_table(
    results: dict[str, Any], samples: Mapping[str, list[dict[str, Any]] | None] | None = None
) -> pd.DataFrame:
    """Per-group values (answer type, subject...) with n and an interval from the samples."""
    from emu2_eval.reporting.groups import groups_frame

    return groups_frame(results, samples, confidence_level(results))


def task_groups_table(
    results: dict[str, Any], samples: Mapping[str, list[dict[str, Any]] | None] | None = None
) -> pd.DataFrame:
    """Task groups' aggregate rows (mean over member tasks: :mod:`reporting.task_groups`)."""
    from emu2_eval.reporting.task_groups import TASK_GROUP_COLUMNS, group_aggregates

    return pd.DataFrame(group_aggregates(results, samples), columns=TASK_GROUP_COLUMNS)


def task_groups_markdown(table: pd.DataFrame, label: str) -> str:
    """The task groups' table (empty string when no group has two tasks in the run)."""
    if table.empty:
        return ""
    lines = [
        "Task groups (unweighted mean over the group's tasks):\n",
        f"| group | metric | value [{label}] | units | tasks | interval |",
        "|:--|:--|--:|:--|:--|:--|",
    ]
    for row in table.to_dict("records"):
        lines.append(
            f"| {row['group']} | {row['metric']} | "
            f"{fmt_interval(row['value'], row['low'], row['high'])} | {row['units']} | "
            f"{row['tasks']} | {md_cell(row['interval'])} |"
        )
    return "\n".join(lines)


def confidence_level(results: dict[str, Any]) -> float:
    """The confidence of the recorded intervals (0.95 when none were recorded)."""
    for block in results.get("tasks", {}).values():
        for interval in block.get("intervals", {}).values():
            if interval.get("confidence"):
                return float(interval["confidence"])
    return 0.95


def confidence_label(results: dict[str, Any]) -> str:
    """'95% CI' from the recorded intervals (the level actually used)."""
    for block in results.get("tasks", {}).values():
        for interval in block.get("intervals", {}).values():
            if interval.get("confidence"):
                return f"{round(100 * interval['confidence'])}% CI"
    return "CI"


def interval_notes(results: dict[str, Any]) -> list[str]:
    """How the intervals were computed, once per distinct method, naming approximations."""
    settings = None
    methods: dict[str, list[str]] = {}
    for task, block in results.get("tasks", {}).items():
        for metric, interval in block.get("intervals", {}).items():
            settings = settings or interval
            methods.setdefault(interval.get("method", ""), []).append(f"{task}/{metric}")
    if settings is None:
        return ["No intervals recorded (run `emu2-eval report RUN_DIR` to compute them)."]
    notes = [
        f"Intervals: {settings.get('interval', 'percentile')} bootstrap over documents, "
        f"{settings.get('resamples')} resamples, seed {settings.get('seed')}, "
        f"confidence {settings.get('confidence')}."
    ]
    for method, where in methods.items():
        notes.append(f"{', '.join(where)}: {method}")
    return notes


def protocol_notes(results: dict[str, Any]) -> list[str]:
    """The data protocol each task's loader recorded (DreamBench reference images, COCO caption
    sampling): a reader of the report must see which rule produced the numbers."""
    notes = []
    for task, block in results.get("tasks", {}).items():
        protocol = (block.get("dataset") or {}).get("protocol") or {}
        shown = [
            f"{key}: {value}"
            for key, value in protocol.items()
            if key != "images" and isinstance(value, (str, int, float, bool))
        ]
        if shown:
            notes.append(f"{task}: " + "; ".join(shown))
        notes += _convention_notes(task, block)
    return notes


def _convention_notes(task: str, block: dict[str, Any]) -> list[str]:
    """Scorer conventions a metric class asks to show (``shown_options``, e.g. the grounding
    box format): unpublished choices a reader must see beside the numbers."""
    from emu2_eval.core.registry import METRICS

    notes = []
    for name, options in (block.get("metric_options") or {}).items():
        keys = getattr(METRICS.get(name), "shown_options", ()) if name in METRICS else ()
        shown = [f"{key}: {options[key]}" for key in keys if key in (options or {})]
        if shown:
            notes.append(f"{task}/{name}: " + "; ".join(shown))
    return notes


def display_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows for human-facing tables: value formatted as ``value [low, high]``."""
    frame = report_frame(results)
    rows = []
    for row in frame.to_dict("records"):
        value = None if pd.isna(row["value"]) else row["value"]
        low = None if pd.isna(row["low"]) else row["low"]
        high = None if pd.isna(row["high"]) else row["high"]
        rows.append({**row, "shown": fmt_interval(value, low, high)})
    return rows


def markdown_report(
    results: dict[str, Any],
    paper_model: str | None = None,
    samples: Mapping[str, list[dict[str, Any]] | None] | None = None,
) -> str:
    """report.md: results with intervals, the interval method, groups, paper comparison."""
    label = confidence_label(results)
    lines = [
        "| model | task | shots | prompt | strategy | seed | demos | scorer | metric "
        f"| value [{label}] | units | n | errors |",
        "|:--|:--|--:|:--|:--|--:|:--|:--|:--|--:|:--|--:|--:|",
    ]
    for row in display_rows(results):
        lines.append(
            f"| {row['model']} | {row['task']} | {row['shots']} | {row['prompt']} | "
            f"{row['strategy']} | {row['seed']} | {row['demos']} | {md_cell(row['scorer'])} | "
            f"{row['metric']} | {row['shown']} | {row['units']} | {row['n']} | {row['errors']} |"
        )
    notes = interval_notes(results) + protocol_notes(results)
    text = "\n".join(lines) + "\n\n" + "\n".join(f"- {n}" for n in notes)
    groups = groups_table(results, samples)
    if not groups.empty:
        from emu2_eval.reporting.groups import groups_label

        shown = groups.assign(
            value=[
                fmt_interval(*(None if pd.isna(x) else x for x in v))
                for v in zip(groups.value, groups.low, groups.high, strict=True)
            ]
        ).drop(columns=["low", "high"])
        shown = shown.rename(columns={"value": f"value [{label}]"})
        text += f"\n\nGroups, {groups_label(groups)}:\n\n" + shown.to_markdown(index=False)
    aggregates = task_groups_markdown(task_groups_table(results, samples), label)
    if aggregates:
        text += "\n\n" + aggregates
    if paper_model:
        text += "\n\n" + reproduction_markdown(results, paper_model)
    return text + "\n"


def comparison_verdict(row: Mapping[str, Any]) -> str:
    """'yes'/'no' (paper inside the interval), 'n/a', or 'not comparable: <reason>'."""
    if row.get("comparable") is False:
        return f"not comparable: {row['reason']}"
    return {True: "yes", False: "no", None: "n/a"}[row["paper_in_interval"]]


def reproduction_markdown(results: dict[str, Any], paper_model: str) -> str:
    from emu2_eval.reporting.paper import reproduction_table

    table = reproduction_table(results, paper_model)
    if table.empty:
        return f"No task of this run names a paper row (`reference:`); paper model {paper_model}."
    lines = [
        f"Reproduction of {paper_model} (paper numbers: results/paper/)\n",
        "| task | benchmark | measured split | paper split | metric | shots | measured [CI] "
        "| paper | diff | paper in CI | source |",
        "|:--|:--|:--|:--|:--|--:|--:|--:|--:|:--|:--|",
    ]
    for row in table.to_dict("records"):
        lines.append(
            f"| {row['task']} | {row['benchmark']} | {row['measured_split']} | "
            f"{row['paper_split']} | {row['metric']} | "
            f"{row['shots']} | {fmt_interval(row['measured'], row['low'], row['high'])} | "
            f"{fmt(row['paper'])} | {fmt(row['diff'])} | {comparison_verdict(row)} | "
            f"{row['source']} |"
        )
    return "\n".join(lines)


def latex_report(
    results: dict[str, Any],
    paper_model: str | None = None,
    samples: Mapping[str, list[dict[str, Any]] | None] | None = None,
) -> str:
    """report.tex: booktabs tables of the results, task groups (and the paper comparison)."""
    from emu2_eval.reporting.latex import latex_table

    model = checkpoint_label(results)
    label = confidence_label(results)
    rows = [
        (
            row["task"],
            row["shots"],
            row["prompt"],
            row["strategy"],
            row["seed"],
            row["demos"],
            row["scorer"],
            row["metric"],
            row["shown"],
            row["units"],
            row["n"],
        )
        for row in display_rows(results)
    ]
    text = latex_table(
        [
            "task",
            "shots",
            "prompt",
            "strategy",
            "seed",
            "demos",
            "scorer",
            "metric",
            f"value [{label}]",
            "units",
            "n",
        ],
        rows,
        "lrllrlllrlr",
        caption=f"Results of {model}. " + " ".join(interval_notes(results)[:1]),
        label=f"tab:results-{model}",
    )
    aggregates = task_groups_table(results, samples)
    if not aggregates.empty:
        text += "\n" + latex_table(
            ["group", "metric", f"value [{label}]", "units", "tasks"],
            [
                (r["group"], r["metric"], fmt_interval(r["value"], r["low"], r["high"]),
                 r["units"], r["tasks"])
                for r in aggregates.to_dict("records")
            ],
            "llrll",
            caption="Task groups: unweighted mean over the group's tasks.",
            label=f"tab:groups-{model}",
        )  # fmt: skip
    if paper_model:
        from emu2_eval.reporting.paper import reproduction_table

        table = reproduction_table(results, paper_model)
        if not table.empty:
            paper_rows = [
                (
                    r["task"],
                    r["metric"],
                    r["shots"],
                    fmt_interval(r["measured"], r["low"], r["high"]),
                    fmt(r["paper"]),
                    fmt(r["diff"]),
                    comparison_verdict(r),
                )
                for r in table.to_dict("records")
            ]
            text += "\n" + latex_table(
                [
                    "task",
                    "metric",
                    "shots",
                    f"measured [{label}]",
                    f"paper ({paper_model})",
                    "diff",
                    "paper in CI",
                ],
                paper_rows,
                "llrrrrl",
                caption=f"Measured against the paper's {paper_model} numbers.",
                label=f"tab:paper-{paper_model}",
            )
    return text

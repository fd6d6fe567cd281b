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
from emu2_eval.rundir.schema import RunResults, TaskResult, as_run_results

Results = Mapping[str, Any] | RunResults  # what the engine hands over, or a typed results.json

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


def report_frame(results: Results) -> pd.DataFrame:
    """One row per (task, metric) with value, interval, how it was computed, units, counts."""
    run = as_run_results(results)
    rows = []
    model = checkpoint_label(run)
    for task, block in run.tasks.items():
        settings = task_settings(block)
        for metric, value in block.metrics.items():
            interval = block.interval(metric)
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
                    "units": block.units.get(metric, ""),
                    "n": block.scored,
                    "errors": block.errors,
                }
            )
        if not block.metrics:
            rows.append(
                {
                    "model": model,
                    "task": task,
                    **settings,
                    "metric": _unscored_label(block),
                    "interval_method": "",
                    "units": "",
                    "n": block.scored,
                    "errors": block.errors,
                }
            )
    return pd.DataFrame(rows, columns=CSV_COLUMNS)


def _unscored_label(block: TaskResult) -> str:
    """Why a task has no numbers: predict-only (naming its submission file) or none scored."""
    if not block.predict_only:
        return "(none scored)"
    submission = block.submission.get("file")
    return f"(predict-only: {submission})" if submission else "(predict-only)"


def results_table(results: Results) -> pd.DataFrame:
    """The compact table printed by ``run``/``score``: value, low, high, units, counts."""
    return report_frame(results)[CONSOLE_COLUMNS]


def predict_only_lines(results: Results, output: Path) -> list[str]:
    """One line per predict-only task: its response count and submission file, no numbers."""
    lines = []
    for name, block in as_run_results(results).tasks.items():
        if not block.predict_only:
            continue
        submission = block.submission
        where = (
            f"; submission file {output / submission['file']} ({submission['n_entries']} "
            f"entries, {submission['n_filled_empty']} left empty as not in the run)"
            if submission
            else ""
        )
        lines.append(
            f"{name}: predict-only, {block.n_samples or 0} responses "
            f"({block.errors} errors), not scored{where}"
        )
    return lines


def groups_table(
    results: Results, samples: Mapping[str, list[dict[str, Any]] | None] | None = None
) -> pd.DataFrame:
    """Per-group values (answer type, subject...) with n and an interval from the samples."""
    from emu2_eval.reporting.groups import groups_frame

    run = as_run_results(results)
    return groups_frame(run, samples, confidence_level(run))


def task_groups_table(
    results: Results, samples: Mapping[str, list[dict[str, Any]] | None] | None = None
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


def _recorded_confidence(results: Results) -> Any:
    """The confidence of the first recorded interval that has one (None when none has)."""
    for block in as_run_results(results).tasks.values():
        for interval in block.intervals.values():
            if interval.get("confidence"):
                return interval["confidence"]
    return None


def confidence_level(results: Results) -> float:
    """The confidence of the recorded intervals (0.95 when none were recorded)."""
    confidence = _recorded_confidence(results)
    return 0.95 if confidence is None else float(confidence)


def confidence_label(results: Results) -> str:
    """'95% CI' from the recorded intervals (the level actually used)."""
    confidence = _recorded_confidence(results)
    return "CI" if confidence is None else f"{round(100 * confidence)}% CI"


def interval_notes(results: Results) -> list[str]:
    """How the intervals were computed, once per distinct method, naming approximations."""
    settings = None
    methods: dict[str, list[str]] = {}
    for task, block in as_run_results(results).tasks.items():
        for metric, interval in block.intervals.items():
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


def protocol_notes(results: Results) -> list[str]:
    """The data protocol each task's loader recorded (DreamBench reference images, COCO caption
    sampling): a reader of the report must see which rule produced the numbers."""
    notes = []
    for task, block in as_run_results(results).tasks.items():
        shown = [
            f"{key}: {value}"
            for key, value in block.protocol.items()
            if key != "images" and isinstance(value, (str, int, float, bool))
        ]
        if shown:
            notes.append(f"{task}: " + "; ".join(shown))
        notes += _convention_notes(task, block)
    return notes


def _convention_notes(task: str, block: TaskResult) -> list[str]:
    """Scorer conventions a metric class asks to show (``shown_options``, e.g. the grounding
    box format): unpublished choices a reader must see beside the numbers."""
    from emu2_eval.core.registry import METRICS

    notes = []
    for name, options in block.metric_options.items():
        keys = getattr(METRICS.get(name), "shown_options", ()) if name in METRICS else ()
        shown = [f"{key}: {options[key]}" for key in keys if key in (options or {})]
        if shown:
            notes.append(f"{task}/{name}: " + "; ".join(shown))
    return notes


def display_rows(results: Results) -> list[dict[str, Any]]:
    """Rows for human-facing tables: value formatted as ``value [low, high]``."""
    frame = report_frame(results)
    rows = []
    for row in frame.to_dict("records"):
        value = None if pd.isna(row["value"]) else row["value"]
        low = None if pd.isna(row["low"]) else row["low"]
        high = None if pd.isna(row["high"]) else row["high"]
        rows.append({**row, "shown": fmt_interval(value, low, high)})
    return rows


# The results table of report.md and report.tex: its columns (``shown``: value [low, high]) and
# their alignment; report.md adds the model first and the errors last.
TABLE_COLUMNS = ["task", *SETTING_COLUMNS, "metric", "shown", "units", "n"]
TABLE_ALIGN = "lrllrlllrlr"


def _table_header(label: str) -> list[str]:
    return [f"value [{label}]" if c == "shown" else c for c in TABLE_COLUMNS]


def markdown_report(
    results: Results,
    paper_model: str | None = None,
    samples: Mapping[str, list[dict[str, Any]] | None] | None = None,
) -> str:
    """report.md: results with intervals, the interval method, groups, paper comparison."""
    results = as_run_results(results)
    label = confidence_label(results)
    align = {"l": ":--", "r": "--:"}
    lines = [
        "| " + " | ".join(["model", *_table_header(label), "errors"]) + " |",
        "|" + "|".join(align[a] for a in f"l{TABLE_ALIGN}r") + "|",
    ]
    for row in display_rows(results):
        cells = [md_cell(row[c]) if c == "scorer" else row[c] for c in TABLE_COLUMNS]
        cells = [row["model"], *cells, row["errors"]]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
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


def reproduction_markdown(results: Results, paper_model: str) -> str:
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
    results: Results,
    paper_model: str | None = None,
    samples: Mapping[str, list[dict[str, Any]] | None] | None = None,
) -> str:
    """report.tex: booktabs tables of the results, task groups (and the paper comparison)."""
    from emu2_eval.reporting.latex import latex_table

    results = as_run_results(results)
    model = checkpoint_label(results)
    label = confidence_label(results)
    rows = [tuple(row[c] for c in TABLE_COLUMNS) for row in display_rows(results)]
    text = latex_table(
        _table_header(label),
        rows,
        TABLE_ALIGN,
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

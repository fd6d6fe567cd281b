"""Measured numbers beside the Emu2 paper's (Tables 1-5, typed in under results/paper/).

A task names its paper row with ``reference: {benchmark, split, metric}`` in its YAML; the paper
model (``Emu2-37B`` for Table 1, ``Emu2-Chat`` for Tables 2-3, ``Emu2-Gen`` for Tables 4-5) is
chosen by the user (``--paper-model``) because a checkpoint path does not say which row of the
paper it should reproduce.  The shots come from the run.  Whether the paper's number lies inside
the measured bootstrap interval is reported per row: outside is a sign of a protocol gap (split,
prompt, decoding), not a proof of one, since the paper's own uncertainty is not published.

Every metric of a task that the paper reports for the benchmark gets a row (DreamBench: dino,
clip_i, clip_t; COCO: clip_i_vitl, clip_t_vitb). A row is marked not comparable, with the
reason, when the task says it differs from the paper's protocol: ``reference.measured_split``
(the split it runs on) differs from the paper's split; ``reference.tables`` (the paper tables
whose prompt and model variant the task follows) does not hold the paper row's table (a
base-model prompt against an Emu2-Chat row); ``reference.protocol`` (data choices the paper
made, e.g. DreamBench's ``reference_image: kosmos_g``) differs from what the run's loader
recorded (results.json ``dataset.protocol``); ``reference.scorer`` (``{metric: {option: value}}``,
e.g. the VQA accuracy ``variant``) differs from the metric options the run recorded.

Each row shows the split measured (``measured_split``: ``reference.measured_split``, else the
paper's split the task says it runs) next to the paper's (``paper_split``): a val number is never
labelled test-dev. A not-comparable row gets no in-interval verdict.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from emu2_eval.rundir.schema import RunResults, TaskResult, as_run_results, as_task_result
from emu2_eval.tasks.paper_numbers import PAPER_TABLE1, results_dir

PAPER_FILES: dict[str, str] = {
    "Table 1": PAPER_TABLE1,
    "Table 2": "paper/emu2_table2_chat.csv",
    "Table 3": "paper/emu2_table3_grounding.csv",
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


def measured_split(reference: Mapping[str, Any]) -> str:
    """The split a task's numbers come from: ``measured_split``, else the paper split it names."""
    return str(reference.get("measured_split") or reference.get("split") or "")


def recorded_options(block: TaskResult, metric: str) -> Mapping[str, Any]:
    """The recorded options of the metric that produced the row ``metric``: ``metric_options``
    is keyed by metric name (``clip_i``) while rows carry the metric key (``clip_i_vitl``), so
    the producer comes from the row's interval record or the metric's ``key`` option."""
    options = block.metric_options
    if metric in options:
        return options[metric] or {}
    producer = block.interval(metric).get("metric")
    if producer in options:
        return options[producer] or {}
    for recorded in options.values():
        if (recorded or {}).get("key") == metric:
            return recorded
    return {}


def scorer_mismatches(
    block: TaskResult | Mapping[str, Any], metric: str, wanted: Mapping[str, Any]
) -> list[str]:
    """A metric's recorded options (results.json ``metric_options``) against pinned values."""
    recorded = recorded_options(as_task_result(block), metric)
    return [
        f"scorer: {metric} {key} {recorded.get(key, 'not recorded')}, the paper's is {value}"
        for key, value in (wanted.get(metric) or {}).items()
        if recorded.get(key) != value
    ]


def _mismatches(
    reference: Mapping[str, Any],
    block: TaskResult,
    paper_split: str,
    paper_table: str,
    metric: str = "",
) -> list[str]:
    """Why a paper row cannot be compared with this task's run (empty: comparable)."""
    reasons = []
    measured = measured_split(reference)
    if measured and paper_split and measured != paper_split:
        reasons.append(f"split: measured on {measured}, the paper on {paper_split}")
    tables = reference.get("tables")
    if tables and paper_table not in tables:
        reasons.append(
            f"prompt/model variant: the task follows {', '.join(tables)} "
            f"(prompt {block.prompt_name or '?'}), the paper row is "
            f"from {paper_table}"
        )
    recorded = block.protocol
    for key, wanted in (reference.get("protocol") or {}).items():
        if recorded.get(key) != wanted:
            reasons.append(f"{key}: {recorded.get(key, 'not recorded')}, the paper used {wanted}")
    if metric and block.metrics.get(metric) is not None:
        reasons += scorer_mismatches(block, metric, reference.get("scorer") or {})
    return reasons


def _metrics_to_compare(
    table: pd.DataFrame, reference: Mapping[str, Any], block: TaskResult
) -> list[str]:
    """The reference metric first, then every other measured metric the paper has a row for."""
    paper_metrics = set(table[table.benchmark == reference["benchmark"]].metric)
    wanted = [reference["metric"]] if reference.get("metric") else []
    wanted += [m for m in block.metrics if m in paper_metrics and m not in wanted]
    return wanted


def _paper_table(paper_model: str) -> pd.DataFrame:
    """The paper tables; ValueError naming the valid models when ``paper_model`` is none."""
    table = paper_tables()
    if paper_model not in set(table.model):
        raise ValueError(
            f"--paper-model {paper_model!r} is not in the paper tables; valid: "
            + ", ".join(paper_models(table))
        )
    return table


def reproduction_table(results: Mapping[str, Any] | RunResults, paper_model: str) -> pd.DataFrame:
    """Per task and metric with a paper number: measured [low, high], paper, difference,
    inside?, and whether the two are comparable at all (with the reason when not)."""
    run = as_run_results(results)
    table = _paper_table(paper_model)
    rows = []
    for task, block in run.tasks.items():
        rows += _task_rows(table, task, block, paper_model)
    return pd.DataFrame(rows, columns=REPRODUCTION_COLUMNS)


def task_reproduction_table(task: str, block: TaskResult, paper_model: str) -> pd.DataFrame:
    """:func:`reproduction_table` of one task block (a reproduction cell, a stand-in)."""
    rows = _task_rows(_paper_table(paper_model), task, block, paper_model)
    return pd.DataFrame(rows, columns=REPRODUCTION_COLUMNS)


def _task_rows(
    table: pd.DataFrame, task: str, block: TaskResult, paper_model: str
) -> list[dict[str, Any]]:
    """The rows of one task: one per metric the paper has a number for (none without a
    ``reference``)."""
    rows: list[dict[str, Any]] = []
    reference = block.reference
    if not reference.get("benchmark") or not reference.get("metric"):
        return rows
    shots = block.shots
    model_rows = table[
        (table.model == paper_model)
        & (table.benchmark == reference["benchmark"])
        & (table.shots == shots)
        & (table.flamingo_text_examples == 0)
    ]
    if reference.get("split"):
        model_rows = model_rows[model_rows.split == reference["split"]]
    for metric in _metrics_to_compare(table, reference, block):
        candidates = model_rows[model_rows.metric == metric]
        measured = block.metrics.get(metric)
        interval = block.interval(metric)
        low, high = interval.get("low"), interval.get("high")
        paper = float(candidates.value.iloc[0]) if len(candidates) else None
        paper_split = str(candidates.split.iloc[0]) if len(candidates) else ""
        reasons = (
            _mismatches(reference, block, paper_split, candidates.table.iloc[0], metric)
            if len(candidates)
            else []
        )
        inside = None
        if paper is not None and low is not None and high is not None and not reasons:
            inside = bool(low <= paper <= high)
        rows.append(
            {
                "task": task,
                "benchmark": reference["benchmark"],
                "measured_split": measured_split(reference),
                "paper_split": paper_split or reference.get("split", ""),
                "metric": metric,
                "shots": shots,
                "measured": measured,
                "low": low,
                "high": high,
                "units": block.units.get(metric, ""),
                "paper": paper,
                "paper_units": candidates.units.iloc[0] if len(candidates) else "",
                "diff": None if paper is None or measured is None else measured - paper,
                "paper_in_interval": inside,
                "comparable": None if paper is None else not reasons,
                "reason": "; ".join(reasons),
                "source": candidates.table.iloc[0] if len(candidates) else "no paper number",
            }
        )
    return rows


REPRODUCTION_COLUMNS = [
    "task",
    "benchmark",
    "measured_split",
    "paper_split",
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
    "comparable",
    "reason",
    "source",
]

"""The measured-versus-paper table of ``emu2-eval reproduce tableN``.

Rows come from :func:`emu2_eval.reporting.paper.reproduction_table` (one per measured metric
with a paper number, with the not-comparable verdicts for split, prompt/model variant and data
protocol) for every cell of the recipe, plus a row for each paper number of the table's model
that no cell measured. A stand-in task (``--demo``, ``--tasks-map``) is compared against the
paper task's row and is always not comparable, with the reason. A run with ``--limit`` is
marked partial in every row, in the Markdown title and in ``reproduce.json``.

With several seeds (``--seeds``), a second table gives each number's mean and sample standard
deviation over the seeds next to the paper's: the paper publishes no seed, so one draw alone
cannot say whether a gap is the seed's or the harness's.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from emu2_eval.core.atomic import write_csv_atomic, write_json_atomic, write_text_atomic
from emu2_eval.reporting.paper import (
    REPRODUCTION_COLUMNS,
    paper_tables,
    scorer_mismatches,
    task_reproduction_table,
)
from emu2_eval.rundir.schema import RunResults, TaskResult, as_run_results

if TYPE_CHECKING:
    from emu2_eval.engine.reproduce import Plan

# the paper comparison's columns (task first, source last) with the reproduction's own around them
COLUMNS = [
    "paper_task",
    "task",
    "seed",
    *REPRODUCTION_COLUMNS[1:-1],
    "partial",
    "stand_in",
    "source",
]


def _stand_in_block(block: TaskResult, paper_task: str) -> TaskResult:
    """The stand-in's results compared against the paper task's row (its ``reference``)."""
    from emu2_eval.tasks.registry import get_task

    reference = dict(get_task(paper_task).config.reference)
    return TaskResult.from_mapping(block.name, {**block.raw, "reference": reference})


def model_mismatches(
    results: Mapping[str, Any] | RunResults, wanted: Mapping[str, Any]
) -> list[str]:
    """The run's model against the recipe's ``model:`` (adapters, recorded info values)."""
    run = as_run_results(results)
    reasons = []
    adapters = wanted.get("adapters") or []
    if adapters and run.model_name not in adapters:
        reasons.append(
            f"model: {run.model_name} is not the paper's model (adapter {' or '.join(adapters)})"
        )
    info = run.model_info
    for key, value in (wanted.get("info") or {}).items():
        if key in info and info[key] != value:
            reasons.append(f"model variant: {key} {info[key]}, the paper's is {value}")
    return reasons


def cell_rows(
    results: Mapping[str, Any] | RunResults,
    paper_task: str,
    ran: str,
    seed: int,
    paper_model: str,
    partial: bool,
    scorer: dict[str, Any] | None = None,
    model: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Paper comparison rows of one cell; stand-ins, other scorers and other models are
    marked not comparable, with the reason."""
    run = as_run_results(results)
    block = run.tasks[ran]
    stand_in = ran != paper_task
    if stand_in:
        block = _stand_in_block(block, paper_task)
    rows = task_reproduction_table(ran, block, paper_model)
    for column in ("comparable", "paper_in_interval", "reason"):
        rows[column] = rows[column].astype(object)
    model_reasons = model_mismatches(run, model or {})
    for index, row in rows.iterrows():
        extra = model_reasons + scorer_mismatches(block, row.metric, scorer or {})
        if extra and row.paper is not None and not pd.isna(row.paper):
            rows.at[index, "reason"] = "; ".join([r for r in [row.reason] if r] + extra)
            rows.at[index, "comparable"] = False
            rows.at[index, "paper_in_interval"] = None
    rows.insert(0, "paper_task", paper_task)
    rows["seed"] = seed
    rows["partial"] = partial
    rows["stand_in"] = stand_in
    if stand_in and len(rows):
        why = (
            f"stand-in: {ran} runs in place of {paper_task} (demo or mapped data, not the "
            "paper's benchmark)"
        )
        rows["reason"] = [why + ("; " + r if r else "") for r in rows["reason"]]
        rows["comparable"] = [None if pd.isna(p) else False for p in rows["paper"]]
        rows["paper_in_interval"] = None
    return rows


SEED_KEYS = ["paper_task", "task", "benchmark", "measured_split", "paper_split", "metric", "shots"]
SEED_COLUMNS = [*SEED_KEYS, "n_seeds", "mean", "std", "min", "max", "paper", "difference"]


def seed_summary(measured: pd.DataFrame) -> pd.DataFrame:
    """Mean, sample standard deviation (ddof 1), min and max of each measured number over the
    seeds that measured it; ``difference`` is mean minus paper (absent without a paper number)."""
    rows = []
    measured = measured[measured.measured.notna()] if len(measured) else measured
    for key, group in measured.groupby(SEED_KEYS, sort=False, dropna=False):
        values = group.measured.astype(float)
        paper = group.paper.iloc[0]
        mean = float(values.mean())
        rows.append(
            {
                **dict(zip(SEED_KEYS, key, strict=True)),
                "n_seeds": int(group.seed.nunique()),
                "mean": mean,
                "std": float(values.std(ddof=1)) if len(values) > 1 else None,
                "min": float(values.min()),
                "max": float(values.max()),
                "paper": paper,
                "difference": None if pd.isna(paper) else mean - float(paper),
            }
        )
    return pd.DataFrame(rows, columns=SEED_COLUMNS)


def _unmeasured(the_plan: Plan, measured: pd.DataFrame, partial: bool) -> pd.DataFrame:
    """Paper numbers of the table's model (shots of the recipe) that no cell produced."""
    recipe = the_plan.recipe
    table = paper_tables()
    table = table[(table.table == recipe.table) & (table.model == recipe.paper_model)]
    table = table[table.flamingo_text_examples == 0]
    shots = {k for entry in recipe.tasks for k in entry.shots}
    seen = set(zip(measured.benchmark, measured.metric, measured.shots, strict=True))
    rows = []
    for row in table.itertuples():
        if int(row.shots) not in shots or (row.benchmark, row.metric, int(row.shots)) in seen:
            continue
        rows.append(
            {
                "paper_task": "",
                "task": "",
                "benchmark": row.benchmark,
                "measured_split": "",
                "paper_split": row.split,
                "metric": row.metric,
                "shots": int(row.shots),
                "paper": float(row.value),
                "paper_units": row.units,
                "comparable": False,
                "reason": "not measured: no task of the recipe reports this metric",
                "partial": partial,
                "stand_in": False,
                "source": recipe.table,
            }
        )
    return pd.DataFrame(rows)


def write_reproduction(
    the_plan: Plan,
    cells: list[tuple[str, str, int, int, Path]],
    output: Path,
    limit: int | float | None,
) -> pd.DataFrame:
    """Write reproduce_<table>.csv/.md and reproduce.json into ``output``; return the table."""
    from emu2_eval.engine.reproduce import cell_results

    recipe = the_plan.recipe
    partial = limit is not None or the_plan.shots_subset is not None
    scorers = {entry.task: entry.scorer for entry in recipe.tasks}
    frames = [
        cell_rows(
            cell_results(path),
            paper,
            ran,
            seed,
            recipe.paper_model,
            partial,
            scorers.get(paper),
            recipe.model,
        )
        for paper, ran, _shots, seed, path in cells
    ]
    frames = [f for f in frames if len(f)]
    measured = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    missing = _unmeasured(the_plan, measured, partial)
    parts = [f for f in (measured, missing) if len(f)]
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)
    table = table.reindex(columns=COLUMNS)
    stem = f"reproduce_{recipe.name}"
    seeds = seed_summary(measured) if len(recipe.seeds) > 1 else None
    write_csv_atomic(output / f"{stem}.csv", table)
    if seeds is not None:
        write_csv_atomic(output / f"{stem}_seeds.csv", seeds)
    write_text_atomic(output / f"{stem}.md", markdown(the_plan, table, limit, seeds))
    write_json_atomic(
        output / "reproduce.json",
        {
            "recipe": recipe.name,
            "recipe_file": str(recipe.path),
            "table": recipe.table,
            "paper_model": recipe.paper_model,
            "seeds": recipe.seeds,
            "gen_kwargs": the_plan.gen_kwargs,
            "tasks": {
                e.task: {"ran": the_plan.runs[e.task], "shots": e.shots} for e in recipe.tasks
            },
            "stand_ins": the_plan.stand_ins(),
            "limit": limit,
            "shots_subset": the_plan.shots_subset,
            "partial": partial,
            "cells": [str(path.relative_to(output)) for *_, path in cells],
            "rows": table.to_dict(orient="records"),
            "over_seeds": None if seeds is None else seeds.to_dict(orient="records"),
        },
    )
    return table


def markdown(
    the_plan: Plan,
    table: pd.DataFrame,
    limit: int | float | None,
    seeds: pd.DataFrame | None = None,
) -> str:
    """Title with the partial / stand-in warnings, the table, then the over-seeds table."""
    recipe = the_plan.recipe
    lines = [f"# Reproduction of the Emu2 paper's {recipe.table} ({recipe.paper_model})", ""]
    if limit is not None:
        lines.append(f"**PARTIAL**: --limit {limit}; not the full benchmark.")
    if the_plan.shots_subset is not None:
        kept = ",".join(map(str, the_plan.shots_subset))
        lines.append(f"**PARTIAL**: --shots {kept}; not every shot count of the paper.")
    if the_plan.stand_ins():
        pairs = ", ".join(f"{r} for {p}" for p, r in the_plan.stand_ins().items())
        lines.append(f"**DEMO / STAND-IN data** ({pairs}): not comparable to the paper.")
    if the_plan.gen_kwargs:
        settings = ", ".join(f"{k}={v}" for k, v in the_plan.gen_kwargs.items())
        lines.append(f"Recipe generation settings: {settings}.")
    lines += ["", table.to_markdown(index=False), ""]
    if seeds is not None:
        listed = ",".join(map(str, recipe.seeds))
        lines += [
            f"## Over seeds {listed} (mean, sample standard deviation)",
            "",
            seeds.to_markdown(index=False),
            "",
        ]
    return "\n".join(lines)

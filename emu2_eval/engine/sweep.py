"""k-shot sweeps: a grid of independent (task, shots, seed) cells, each a resumable run.

Every cell is its own run directory under ``OUTPUT/cells/<task>/shots<k>-seed<s>``; a complete
cell is skipped, an interrupted one resumes from the shared response cache. The model is loaded
once for the whole grid. The summary gives mean and std over seeds per shots (population std,
ddof=0, as open_flamingo reports it) beside the paper's numbers.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from emu2_eval.core.atomic import write_csv_atomic
from emu2_eval.core.timing import bar_prefix, say
from emu2_eval.engine.distributed import DistributedContext, create_context
from emu2_eval.engine.evaluate import evaluate, load_adapter
from emu2_eval.engine.preflight import preflight
from emu2_eval.engine.run_config import RunConfig
from emu2_eval.engine.runner import FewShotSettings
from emu2_eval.engine.seed_notes import seed_warnings
from emu2_eval.models.base import ModelAdapter
from emu2_eval.rundir.schema import read_run_results, results_path
from emu2_eval.tasks.paper_numbers import paper_fewshot_table, paper_value
from emu2_eval.tasks.registry import get_task
from emu2_eval.tasks.task import Task

logger = logging.getLogger(__name__)


def cell_dir(output: Path, task: str, shots: int, seed: int) -> Path:
    return output / "cells" / task / f"shots{shots}-seed{seed}"


def cell_label(task: str, shots: int, seed: int) -> str:
    """How a cell is named in progress bars and messages: ``task 4-shot seed 1``."""
    return f"{task} {shots}-shot seed {seed}"


def preflight_grid(
    tasks: list[Task], shots_list: list[int], model: str, model_args: dict[str, Any]
) -> None:
    """The run preflight for a whole grid, before the one model load: data, few-shot pools
    (at the largest shots), backbones, Java, the adapter's request kinds and its arguments."""
    from emu2_eval.core.registry import MODELS

    preflight(tasks, max(shots_list, default=0), MODELS.get(model), model, model_args)


def _cell_complete(path: Path, task: str, config_hash: str, fingerprint: str, limit: Any) -> bool:
    """A cell without results.json is not run yet; a damaged one (not JSON, not a results file,
    a newer schema) is refused naming the file, never silently re-run over."""
    if not results_path(path).is_file():
        return False
    results = read_run_results(path)
    block = results.tasks.get(task)
    return (
        block is not None
        and block.config_hash == config_hash
        and results.fingerprint == fingerprint
        and results.limit == limit
    )


def run_cell(
    config: RunConfig,
    name: str,
    fewshot: FewShotSettings,
    config_hash: str,
    fingerprint: str,
    adapter: ModelAdapter | None = None,
    context: DistributedContext | None = None,
) -> Path:
    """Evaluate one (task, shots, seed) cell of a sweep or reproduction into its own run
    directory, sharing ``config.output``'s response cache; a complete cell is skipped.

    ``config`` is the grid's: the cell's config replaces its task, shots, seed, output and cache.
    ``context`` is the grid's one distributed context (every cell runs in step on every rank).
    """
    path = cell_dir(config.output, name, fewshot.shots, fewshot.seed)
    if _cell_complete(path, name, config_hash, fingerprint, config.limit):
        logger.info("skip complete cell %s", path)
        return path
    cell = dataclasses.replace(
        config,
        tasks=(name,),
        output=path,
        cache_path=config.output / "cache.sqlite",
        seed=fewshot.seed,
        fewshot=fewshot,
    )
    with bar_prefix(cell_label(name, fewshot.shots, fewshot.seed)):
        evaluate(cell, adapter, context)
    return path


def run_sweep(
    config: RunConfig,
    shots_list: list[int],
    seeds: list[int],
    reference_model: str = "Emu2-37B",
) -> pd.DataFrame | None:
    """Run every missing cell of the grid (``config.tasks`` x shots x seeds) under
    ``config.output``, then write the cell and summary tables (CSV). The context policy of
    every cell is ``config.fewshot``'s.

    The Markdown summary and the plot are the reporting layer's
    (:func:`emu2_eval.reporting.sweep.write_sweep_report`, called by the CLI).

    Under a data-parallel launch every process runs every cell's shards; the main process
    writes the summary and the others return None.
    """
    model, model_args, output = config.model, config.model_args, config.output
    tasks = {name: get_task(name, config.task_index) for name in config.tasks}
    for name, task in tasks.items():
        if any(k > 0 for k in shots_list) and task.config.fewshot is None:
            raise ValueError(f"task {name!r} has no 'fewshot' pool: it runs 0-shot only")
    preflight_grid(list(tasks.values()), shots_list, model, model_args)
    context = create_context(config.dist_timeout)
    if context.is_main:
        for line in seed_warnings(tasks.values(), shots_list, seeds):
            say(line)
    output.mkdir(parents=True, exist_ok=True)
    adapter = load_adapter(model, model_args, config.topology, context)
    fingerprint = adapter.fingerprint()
    policy = config.fewshot.context_policy
    for name, task in tasks.items():
        for shots in shots_list:
            for seed in seeds:
                run_cell(
                    config,
                    name,
                    FewShotSettings(shots=shots, seed=seed, context_policy=policy),
                    task.config.config_hash,
                    fingerprint,
                    adapter,
                    context,
                )
    if not context.is_main:
        return None
    cells = collect_cells(output, list(config.tasks), shots_list, seeds)
    summary = summarise(cells, reference_model)
    write_csv_atomic(output / "sweep_cells.csv", cells)
    write_csv_atomic(output / "sweep_summary.csv", summary)
    return summary


def collect_cells(
    output: Path, task_names: list[str], shots_list: list[int], seeds: list[int]
) -> pd.DataFrame:
    """One row per (task, shots, seed, metric) from the cells' results.json."""
    rows = []
    for task in task_names:
        for shots in shots_list:
            for seed in seeds:
                results = read_run_results(cell_dir(output, task, shots, seed)).raw
                block = results["tasks"][task]
                for metric, value in block["metrics"].items():
                    rows.append(
                        {
                            "task": task,
                            "shots": shots,
                            "seed": seed,
                            "metric": metric,
                            "value": value,
                            "units": block.get("units", {}).get(metric, ""),
                            "n": block["n_scored"],
                            "errors": block["n_errors"],
                            "benchmark": block.get("reference", {}).get("benchmark"),
                            "reference_metric": block.get("reference", {}).get("metric"),
                        }
                    )
    return pd.DataFrame(rows)


def summarise(cells: pd.DataFrame, reference_model: str) -> pd.DataFrame:
    """Mean and std over seeds per (task, metric, shots), with the paper's value and the gap."""
    grouped = cells.groupby(["task", "metric", "shots"], sort=True)
    summary = grouped.agg(
        mean=("value", "mean"),
        std=("value", lambda v: float(v.std(ddof=0))),
        seeds=("seed", "nunique"),
        units=("units", "first"),
        n=("n", "max"),
        benchmark=("benchmark", "first"),
        reference_metric=("reference_metric", "first"),
    ).reset_index()
    table = paper_fewshot_table()
    papers = []
    for row in summary.itertuples():
        value = None
        if row.benchmark and row.reference_metric == row.metric:
            value = paper_value(table, row.benchmark, row.metric, int(row.shots), reference_model)
        papers.append(value)
    summary["paper"] = papers
    summary["diff"] = summary["mean"] - summary["paper"]
    summary = summary.drop(columns=["reference_metric"])
    return summary.round(4)

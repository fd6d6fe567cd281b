"""Aggregate rows of task groups (the ``group:`` key of task files: ``vqa``, ``demo``...).

A group selected with ``--tasks vqa`` gets, per metric key that two or more of its tasks report
in the same unit, the **unweighted mean over its tasks** (each task counts once, whatever its
number of documents; lm-eval's "unweighted" group mean). Its interval combines per-task bootstrap
replicates: each task's documents are resampled on their own (the task's recorded resamples and
confidence, a seed derived from the recorded seed and the task name, since tasks are independent
samples), the b-th replicate of the group is the mean of the tasks' b-th replicates, and the
interval is the percentile interval of those. When a task's replicates cannot be made (its
samples file is not at hand, or its metric has no resampler) the interval is "not available"
with that reason; the mean is still shown.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from emu2_eval.rundir.schema import RunResults, as_run_results

TASK_GROUP_COLUMNS = [
    "group", "metric", "value", "low", "high", "units", "n_tasks", "tasks", "interval",
]  # fmt: skip


def task_group_members(results: Mapping[str, Any] | RunResults) -> dict[str, list[str]]:
    """Group -> its tasks in this run, from each task's recorded config (``group:``)."""
    groups: dict[str, list[str]] = {}
    for task, block in as_run_results(results).tasks.items():
        if block.group:
            groups.setdefault(block.group, []).append(task)
    return groups


def group_aggregates(
    results: Mapping[str, Any] | RunResults,
    samples: Mapping[str, list[dict[str, Any]] | None] | None = None,
) -> list[dict[str, Any]]:
    """One row per (group, metric key) shared by two or more of the group's tasks."""
    run = as_run_results(results)
    tasks = run.tasks
    rows = []
    for group, members in sorted(task_group_members(run).items()):
        if len(members) < 2:
            continue  # a group of one is its task's own row
        keys: dict[tuple[str, str], list[str]] = {}
        for task in members:
            block = tasks[task]
            for key, value in block.metrics.items():
                if value is not None:
                    unit = block.units.get(key, "")
                    keys.setdefault((key, unit), []).append(task)
        for (key, unit), having in keys.items():
            if len(having) < 2:
                continue
            value = float(np.mean([tasks[t].metrics[key] for t in having]))
            low, high, note = _combined_interval(run, samples or {}, having, key)
            rows.append(
                {
                    "group": group, "metric": key, "value": round(value, 4),
                    "low": None if low is None else round(low, 4),
                    "high": None if high is None else round(high, 4),
                    "units": unit, "n_tasks": len(having), "tasks": ", ".join(having),
                    "interval": note,
                }
            )  # fmt: skip
    return rows


def _task_seed(seed: int, task: str) -> int:
    blob = f"group-replicates\x1f{seed}\x1f{task}".encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:4], "little")


def _combined_interval(
    results: RunResults,
    samples: Mapping[str, list[dict[str, Any]] | None],
    having: list[str],
    key: str,
) -> tuple[float | None, float | None, str]:
    """(low, high, how) of the group mean of ``key`` over the tasks ``having`` it."""
    from emu2_eval.scoring.stats.bootstrap import distribution, percentile_interval
    from emu2_eval.scoring.stats.intervals import scored_docs
    from emu2_eval.scoring.stats.resamplers import build_resampler, resampler_class
    from emu2_eval.scoring.stats.settings import BootstrapSettings

    replicates = []
    settings = None
    for task in having:
        block = results.tasks[task]
        recorded = block.interval(key)
        metric = recorded.get("metric")
        if not metric or resampler_class(metric) is None:
            return None, None, f"not available: {task}/{key} has no bootstrap resampler"
        records = samples.get(task)
        if not records:
            return None, None, f"not available: the samples file of {task} is not at hand"
        if settings is None:
            settings = BootstrapSettings(
                resamples=int(recorded.get("resamples") or 1000),
                seed=int(recorded.get("seed") or 0),
                confidence=float(recorded.get("confidence") or 0.95),
            )
        options = block.metric_options.get(metric) or {}
        docs = scored_docs(records)
        if not docs:
            return None, None, f"not available: {task} has no scored documents"
        resampler = build_resampler(metric, docs, block.metrics, options)
        own = replace(settings, seed=_task_seed(settings.seed, task))
        replicates.append(distribution(resampler, own)[key])
    assert settings is not None
    interval = percentile_interval(np.mean(np.vstack(replicates), axis=0), settings.confidence)
    how = (
        f"percentile bootstrap of the mean of per-task replicates ({settings.resamples} "
        f"resamples, each task resampled on its own)"
    )
    return interval.low, interval.high, how

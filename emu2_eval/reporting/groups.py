"""Per-group results with their document counts and bootstrap intervals.

A group mean over 3 documents and one over 300 look alike without ``n`` and an interval.  The
groups recorded in results.json are means of per-sample scores over the documents sharing a doc
field (``answer_type``; ``dino/subject`` is the ``dino`` score grouped by ``subject``); the
per-sample scores are in the samples files, so counts and intervals are computed from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from emu2_eval.reporting.scales import score_scale
from emu2_eval.rundir.schema import RunResults, TaskResult, as_run_results, as_task_result

GROUP_COLUMNS = ["task", "group_by", "group", "value", "low", "high", "n"]
RESAMPLES = 1000


def group_field(group_key: str) -> str:
    """The doc field a group key groups by (``dino/subject`` -> ``subject``)."""
    return group_key.rsplit("/", 1)[-1]


def _score_name(group_key: str, records: list[dict[str, Any]]) -> str | None:
    if "/" in group_key:
        return group_key.rsplit("/", 1)[0]
    names = {n for r in records for n in (r.get("scores") or {})}
    return next(iter(names)) if len(names) == 1 else None


def _interval(values: np.ndarray, confidence: float, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (RESAMPLES, len(values)))].mean(axis=1)
    tail = 100 * (1 - confidence) / 2
    return float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


def group_rows(
    task: str,
    block: TaskResult | Mapping[str, Any],
    records: list[dict[str, Any]] | None,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """One row per (group_by, group): value as recorded, and n/low/high from the samples."""
    block = as_task_result(block, task)
    scored = [r for r in records or [] if r.get("error") is None]
    rows = []
    for group_key, values in block.groups.items():
        field, name = group_field(group_key), _score_name(group_key, scored)
        per_group: dict[str, list[float]] = {}
        for record in scored:
            score = (record.get("scores") or {}).get(name) if name else None
            label = (record.get("doc") or {}).get(field)
            if isinstance(score, int | float) and label is not None:
                per_group.setdefault(str(label), []).append(float(score))
        everything = [v for vs in per_group.values() for v in vs]
        metric = name if name in block.metrics else group_key
        scale = _group_scale(values, per_group) or score_scale(block, metric, everything)
        for group, value in sorted(values.items()):
            found = np.asarray(per_group.get(str(group), []), dtype=float)
            low = high = None
            if len(found) > 1:
                low, high = (scale * v for v in _interval(found, confidence, seed))
            rows.append(
                {
                    "task": task,
                    "group_by": group_key,
                    "group": group,
                    "value": round(float(value), 4),
                    "low": None if low is None else round(low, 4),
                    "high": None if high is None else round(high, 4),
                    "n": len(found) if records is not None else None,
                }
            )
    return rows


def _group_scale(values: Mapping[str, Any], per_group: Mapping[str, list[float]]) -> float | None:
    """The factor between the recorded group means and the sample means (100 for percent)."""
    for group, value in values.items():
        found = per_group.get(str(group))
        if found and np.mean(found) and value:
            return 100.0 if abs(float(value) / float(np.mean(found))) > 10 else 1.0
    return None


def groups_frame(
    results: Mapping[str, Any] | RunResults,
    samples: Mapping[str, list[dict[str, Any]] | None] | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Every task's groups; n/low/high are empty where the task's samples are not at hand."""
    run = as_run_results(results)
    rows = []
    for task, block in run.tasks.items():
        records = (samples or {}).get(task)
        rows += group_rows(task, block, records, confidence, run.seed)
    return pd.DataFrame(rows, columns=GROUP_COLUMNS)


def groups_label(frame: pd.DataFrame) -> str:
    """'per answer_type / question_type' or 'per subject (dino, clip_i)': what was grouped by."""
    fields: dict[str, list[str]] = {}
    for key in dict.fromkeys(frame["group_by"]):
        field = group_field(str(key))
        fields.setdefault(field, [])
        if "/" in str(key):
            fields[field].append(str(key).rsplit("/", 1)[0])
    parts = [f"{f} ({', '.join(m)})" if m else f for f, m in fields.items()]
    return "per " + " / ".join(parts)

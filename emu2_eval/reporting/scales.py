"""One unit convention in every report: per-sample scores on the scale of the task's tables.

Metrics score each sample on 0-1 (VQA accuracy, correctness) and report the task mean in
percent; a reader comparing a sample's ``0.3`` with the table's ``41.5`` must not have to know
that.  The factor is read off the run itself (task value / mean sample score), so a metric
whose table is on the sample scale (FID, CLIP x100 per sample) is left alone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from emu2_eval.rundir.schema import TaskResult, as_task_result

PERCENT_UNITS = ("%", "percent")


def score_scale(block: TaskResult | Mapping[str, Any], name: str, values: Iterable[Any]) -> float:
    """100.0 when the task's table shows ``name`` in percent and the samples are on 0-1, else 1."""
    block = as_task_result(block)
    finite = [float(v) for v in values if isinstance(v, int | float) and math.isfinite(v)]
    if not finite:
        return 1.0
    mean = sum(finite) / len(finite)
    summary = block.metrics.get(name)
    if isinstance(summary, int | float) and math.isfinite(summary) and mean and summary:
        return 100.0 if abs(summary / mean) > 10 else 1.0
    unit = str(block.units.get(name, "")).strip().lower()
    return 100.0 if unit in PERCENT_UNITS and max(abs(v) for v in finite) <= 1.0 else 1.0


def sample_scales(
    block: TaskResult | Mapping[str, Any], records: list[dict[str, Any]]
) -> dict[str, float]:
    """score name -> factor, for every per-sample score the task's records carry."""
    block = as_task_result(block)
    values: dict[str, list[Any]] = {}
    for record in records:
        for name, value in (record.get("scores") or {}).items():
            values.setdefault(name, []).append(value)
    return {name: score_scale(block, name, vals) for name, vals in values.items()}

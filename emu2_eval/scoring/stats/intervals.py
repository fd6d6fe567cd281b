"""The interval step: per task, a bootstrap interval for every metric value.

Used by scoring (``run`` and ``score`` both go through ``score_records``) and by the commands
that read run directories (``report``, ``baseline``), so every path records intervals the same
way: ``intervals: {key: {low, high, confidence, interval, method, resamples, seed, ...}}`` in the
task's block of results.json.  A metric without a resampler gets an entry whose ``method`` says
so and whose bounds are null: reported, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from emu2_eval.core.registry import METRICS
from emu2_eval.scoring.stats.bootstrap import distribution, percentile_interval
from emu2_eval.scoring.stats.resamplers import (
    ScoredDoc,
    build_resampler,
    higher_is_better,
    resampler_class,
)
from emu2_eval.scoring.stats.settings import BootstrapSettings, current


def scored_docs(records: Iterable[Mapping[str, Any]]) -> list[ScoredDoc]:
    """Scored documents from sample records (run-directory JSON lines); errors are skipped."""
    return [
        ScoredDoc(
            doc_id=str(r["doc_id"]),
            fields=r.get("doc", {}),
            prediction=r.get("filtered"),
            scores=r.get("scores") or {},
        )
        for r in records
        if r.get("error") is None
    ]


def metric_intervals(
    metric_name: str,
    docs: Sequence[ScoredDoc],
    summary: Mapping[str, float],
    options: Mapping[str, Any],
    settings: BootstrapSettings | None = None,
) -> dict[str, dict[str, Any]]:
    """Intervals of one metric's keys; keys without a resampler get a null-bounded entry."""
    settings = settings or current()
    if not docs or not summary:
        return {}
    if resampler_class(metric_name) is None:
        reason = no_interval_reason(metric_name)
        return {
            key: _entry(metric_name, key, None, None, reason, settings, docs) for key in summary
        }
    resampler = build_resampler(metric_name, docs, summary, options)
    values = distribution(resampler, settings)
    methods = resampler.methods()
    out: dict[str, dict[str, Any]] = {}
    for key in resampler.keys:
        interval = percentile_interval(values[key], settings.confidence)
        out[key] = _entry(
            metric_name, key, interval.low, interval.high, methods[key], settings, docs
        )
        out[key]["valid_resamples"] = interval.valid
    return out


def no_interval_reason(metric_name: str) -> str:
    """Why a metric has no interval: its class's ``interval_unavailable``, else no resampler."""
    own = getattr(METRICS.get(metric_name), "interval_unavailable", None)
    return own or f"not available: metric {metric_name!r} has no resampler"


def _entry(
    metric_name: str,
    key: str,
    low: float | None,
    high: float | None,
    method: str,
    settings: BootstrapSettings,
    docs: Sequence[ScoredDoc],
) -> dict[str, Any]:
    return {
        "low": low,
        "high": high,
        **settings.describe(),
        "method": method,
        "n_docs": len(docs),
        "metric": metric_name,
        "higher_is_better": higher_is_better(metric_name, key),
    }


def task_intervals(
    metric_options: Mapping[str, Mapping[str, Any]],
    metrics: Mapping[str, float],
    records: Iterable[Mapping[str, Any]],
    settings: BootstrapSettings | None = None,
) -> dict[str, dict[str, Any]]:
    """Intervals of a task block as stored in a run directory (metric options + samples).

    Keys no resampler covers are attributed to the task's metric(s) without a resampler.
    """
    docs = scored_docs(records)
    with_resampler = [name for name in metric_options if resampler_class(name) is not None]
    without = [name for name in metric_options if name not in with_resampler]
    out: dict[str, dict[str, Any]] = {}
    for name in with_resampler:
        out.update(metric_intervals(name, docs, metrics, metric_options[name], settings))
    leftover = {key: value for key, value in metrics.items() if key not in out}
    if leftover and without:
        out.update(metric_intervals(without[0], docs, leftover, {}, settings))
    return out

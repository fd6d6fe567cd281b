"""Scoring: filters then metrics over per-sample records. Shared by ``run`` and ``score``.

Records are the JSON lines of a run directory, so scoring needs neither the model nor the data.
Scoring never mutates the records it is given.  Every metric value gets a bootstrap interval
(:mod:`emu2_eval.scoring.stats.intervals`) computed with the default settings
(:func:`emu2_eval.scoring.stats.settings.current`: 1000 resamples, seed 0, 95 %);
``emu2-eval report`` recomputes them with others.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from emu2_eval.core.image_files import ImageLoadError
from emu2_eval.core.registry import FILTERS, METRICS
from emu2_eval.rundir.images import GeneratedImageError
from emu2_eval.scoring.metrics.base import Sample, scorer_label
from emu2_eval.scoring.stats.intervals import metric_intervals
from emu2_eval.scoring.stats.resamplers import ScoredDoc
from emu2_eval.scoring.stats.settings import current
from emu2_eval.tasks.config import TaskConfig
from emu2_eval.tasks.labels import check_labelled


class MetricImageError(ValueError):
    """A metric cannot read an image it scores (a dataset's real image, a generated picture):
    a clear error naming the task, metric and file, read through the same guards as samples."""


def apply_filters(response: Any, filters: Sequence[str]) -> Any:
    """Run the task's named filters in order on a text response (other kinds pass through)."""
    if not isinstance(response, str):
        return response
    for name in filters:
        response = FILTERS.get(name)(response)
    return response


def score_records(
    config: TaskConfig, records: list[dict[str, Any]], run_dir: Path | None = None
) -> dict[str, Any]:
    """Filter and score records; returns the task's result block and per-sample scores.

    Records with an ``error`` are not scored; they are counted in ``n_errors``. ``intervals``
    holds a bootstrap interval per metric value, over the scored documents. Docs without the
    fields the metrics need (an unlabelled split) are refused, naming the task and the fix.
    ``run_dir`` is where the records' generated images are (each Sample carries it).
    """
    ok = [r for r in records if r.get("error") is None]
    check_labelled(config, ((r["doc_id"], r["doc"]) for r in ok), "the run's samples")
    samples = [
        Sample(
            doc_id=r["doc_id"],
            fields=r["doc"],
            prediction=apply_filters(r["response"], config.filters),
            run_dir=run_dir,
        )
        for r in ok
    ]
    metrics: dict[str, float] = {}
    groups: dict[str, dict[str, dict[str, float]]] = {}
    units: dict[str, str] = {}
    options: dict[str, dict[str, Any]] = {}
    per_sample: dict[str, dict[str, float]] = {s.doc_id: {} for s in samples}
    results = []
    for spec in config.metrics:
        metric = METRICS.get(spec.name)(**spec.options)
        try:
            result = metric.score(samples)
        except (ImageLoadError, GeneratedImageError) as exc:
            raise MetricImageError(
                f"task {config.name!r}, metric {spec.name!r}: {exc}. Fix or replace the file, "
                "then `emu2-eval score RUN_DIR` re-scores without the model"
            ) from None
        metrics.update(result.summary)
        units.update(result.units)
        options[spec.name] = result.options
        for group_key, values in result.groups.items():
            groups[group_key] = values
        for doc_id, scores in result.per_sample.items():
            per_sample.setdefault(doc_id, {}).update(scores)
        results.append((spec.name, result))
    docs = [
        ScoredDoc(s.doc_id, s.fields, s.prediction, per_sample.get(s.doc_id, {})) for s in samples
    ]
    settings = current()
    intervals: dict[str, dict[str, Any]] = {}
    for name, result in results:
        intervals.update(metric_intervals(name, docs, result.summary, result.options, settings))
    return {
        "metrics": metrics,
        "groups": groups,
        "units": units,
        "metric_options": options,
        # the convention each metric scored with (VQA accuracy variant...), shown in reports
        "scorer": {name: scorer_label(name, opts) for name, opts in options.items()},
        "intervals": intervals,
        "n_samples": len(records),
        "n_scored": len(samples),
        "n_errors": len(records) - len(ok),
        "filtered": {s.doc_id: s.prediction for s in samples},
        "per_sample": per_sample,
    }


def predict_only_block(config: TaskConfig, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The result block of a predict-only task: filtered responses and counts, no numbers."""
    ok = [r for r in records if r.get("error") is None]
    return {
        "metrics": {},
        "groups": {},
        "units": {},
        "metric_options": {},
        "intervals": {},
        "n_samples": len(records),
        "n_scored": 0,
        "n_errors": len(records) - len(ok),
        "filtered": {r["doc_id"]: apply_filters(r["response"], config.filters) for r in ok},
        "per_sample": {},
    }

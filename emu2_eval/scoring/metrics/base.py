"""The metric interface: score a task's samples (doc fields + filtered predictions) at once.

Metrics receive JSON-safe doc fields, not datasets, so a run directory can be re-scored later
without the data or the model. Corpus-level metrics (CIDEr, AUC) need all samples together,
which is why the interface takes the whole list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from emu2_eval.scoring.stats.resamplers import Resampler


@dataclass(frozen=True)
class Sample:
    """One scored item: its id, the doc fields metrics read, and the filtered prediction.

    ``run_dir`` is the run directory stored predictions point into (generated images are
    references relative to it); given by whoever scores, never looked up from ambient state.
    """

    doc_id: str
    fields: Mapping[str, Any]
    prediction: str
    run_dir: Path | None = None


@dataclass
class MetricResult:
    """Task-level numbers (in the units named in ``units``), per-sample scores and group means."""

    summary: dict[str, float]
    per_sample: dict[str, dict[str, float]] = field(default_factory=dict)
    groups: dict[str, dict[str, float]] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


class Metric:
    """Base class; subclasses are registered in ``emu2_eval.core.registry.METRICS``."""

    name = "metric"
    required_fields: tuple[str, ...] = ()
    #: How the metric is recomputed on a bootstrap resample; None: no interval, and the
    #: results say why (``interval_unavailable``, else "has no resampler").
    resampler: ClassVar[type[Resampler] | None] = None
    #: Direction of every result key (a bool), or per key (``{"fid": False}``; keys not named
    #: are higher-is-better). Read by intervals, baselines and the gate.
    higher_is_better: ClassVar[bool | Mapping[str, bool]] = True
    #: Why the metric has no interval (results.json ``intervals.<key>.method``); None: generic.
    interval_unavailable: ClassVar[str | None] = None
    #: options naming the scoring convention, shown as the reports' ``scorer`` column
    scorer_options: tuple[str, ...] = ("variant",)

    @classmethod
    def scorer_label(cls, options: Mapping[str, Any]) -> str:
        """The scoring convention these recorded ``options`` name (``official``,
        ``backbone=tiny-clip``...), ``default`` when the metric has none to choose."""
        shown = [
            str(options[key]) if key == "variant" else f"{key}={options[key]}"
            for key in cls.scorer_options
            if options.get(key) not in (None, "")
        ]
        return ", ".join(shown) or "default"

    def __init__(self, **options: Any) -> None:
        if options:
            raise ValueError(f"metric {self.name!r} takes no options, got {', '.join(options)}")
        self.options: dict[str, Any] = {}

    def score(self, samples: Sequence[Sample]) -> MetricResult:
        raise NotImplementedError


def scorer_label(metric: str, options: Mapping[str, Any]) -> str:
    """:meth:`Metric.scorer_label` of the registered ``metric`` (a plugin metric that is not a
    :class:`Metric` subclass: its ``variant`` option, else ``default``)."""
    from emu2_eval.core.registry import METRICS

    try:
        cls = METRICS.get(metric)
    except Exception:  # a metric no longer registered: the recorded options still say it
        cls = Metric
    label = getattr(cls, "scorer_label", None)
    return label(options) if callable(label) else Metric.scorer_label(options)

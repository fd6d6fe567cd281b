"""Resamplers: how each metric is recomputed on a reweighted corpus.

A resampler is built once from a task's scored documents (doc fields, filtered prediction and
the per-sample scores the metric stored) and then evaluates the metric for many weight vectors
(``weights[b, i]`` = copies of document ``i`` in resample ``b``).  The metric class declares
both its resampler (class attribute ``resampler``: a Resampler subclass, or None when the metric
has none, e.g. FID) and its direction (``higher_is_better``: a bool, or one per result key), so
a plugin metric brings its own and nothing is looked up by name (:func:`resampler_class`,
:func:`higher_is_better`).

Per-sample outcomes (``sample_outcomes``) serve the failure browser and the list of flipped
samples in ``emu2-eval compare``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from emu2_eval.core.registry import METRICS

EXACT = "percentile bootstrap over documents (metric recomputed on each resample)"


@dataclass(frozen=True)
class ScoredDoc:
    """One scored document as a run directory stores it (errored samples are never scored)."""

    doc_id: str
    fields: Mapping[str, Any]
    prediction: Any
    scores: Mapping[str, float] = field(default_factory=dict)


class Resampler:
    """Base class: one metric's values (in its report units) for a batch of weight vectors."""

    #: Result keys this resampler provides intervals for (set per instance when it depends on
    #: the metric's options, e.g. SPICE).
    keys: tuple[str, ...] = ()
    #: What the per-sample outcome means (for the failure browser and flipped samples).
    sample_label: ClassVar[str] = "score"
    #: Per-sample outcome of a fully right answer; None when the outcome is continuous.
    perfect: ClassVar[float | None] = None

    def __init__(
        self,
        docs: Sequence[ScoredDoc],
        summary: Mapping[str, float],
        options: Mapping[str, Any],
    ) -> None:
        if not docs:
            raise ValueError("a resampler needs at least one scored document")
        self.doc_ids: list[str] = [d.doc_id for d in docs]
        self.summary = dict(summary)
        self.options = dict(options)

    @property
    def n_docs(self) -> int:
        return len(self.doc_ids)

    @property
    def cost_per_resample(self) -> int | None:
        """Array elements one resample touches (bounds the chunk size); None: n_docs."""
        return None

    def methods(self) -> dict[str, str]:
        """How each key's interval is obtained; approximations say so in words."""
        return {key: EXACT for key in self.keys}

    def statistics(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """Metric value per row of ``weights`` (shape (B, n_docs)) for every key."""
        raise NotImplementedError

    @classmethod
    def sample_outcomes(cls, docs: Sequence[ScoredDoc]) -> np.ndarray:
        """Per-document outcome, higher is better (see ``sample_label`` and ``perfect``).

        A classmethod on stored per-sample scores, so reports and ``compare`` get outcomes
        without building the resampler (no tokenisation, no Java).
        """
        raise NotImplementedError


def weighted_mean(weights: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Mean of ``values`` in each resample: ``weights @ values / sum(weights)``."""
    return (weights @ values) / weights.sum(axis=1)


class FixedKeyMeanResampler(Resampler):
    """The mean of the one per-sample score the class names (``score_key``), times ``scale``:
    exact bootstrap, one matmul.  Subclasses add keys of their own (MMMU, grounding)."""

    score_key: ClassVar[str] = ""
    scale: ClassVar[float] = 1.0

    def __init__(
        self, docs: Sequence[ScoredDoc], summary: Mapping[str, float], options: Mapping[str, Any]
    ) -> None:
        super().__init__(docs, summary, options)
        self.keys = (self.score_key,)
        missing = [d.doc_id for d in docs if self.score_key not in d.scores]
        if missing:
            raise ValueError(
                f"per-sample score {self.score_key!r} missing for doc(s) {', '.join(missing[:5])}"
            )
        self.values = np.array([float(d.scores[self.score_key]) for d in docs], dtype=np.float64)

    def statistics(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        return {self.score_key: self.scale * weighted_mean(weights, self.values)}

    @classmethod
    def sample_outcomes(cls, docs: Sequence[ScoredDoc]) -> np.ndarray:
        return np.array([float(d.scores.get(cls.score_key, np.nan)) for d in docs])


class SummaryKeysMeanResampler(Resampler):
    """Every key of the metric's summary, each the mean of the per-sample score of that name
    (keys chosen by the metric's options, e.g. ``key: clip_i_vitl``): exact bootstrap."""

    def __init__(
        self, docs: Sequence[ScoredDoc], summary: Mapping[str, float], options: Mapping[str, Any]
    ) -> None:
        super().__init__(docs, summary, options)
        self.keys = tuple(summary)
        self.values = {
            key: np.array([float(d.scores[key]) for d in docs], dtype=np.float64)
            for key in self.keys
        }

    def statistics(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        return {key: weighted_mean(weights, values) for key, values in self.values.items()}

    @classmethod
    def sample_outcomes(cls, docs: Sequence[ScoredDoc]) -> np.ndarray:
        """The doc's first stored score (a metric with several keys: its first one)."""
        return np.array([float(next(iter(d.scores.values()), np.nan)) for d in docs])


class VQAAccuracyResampler(FixedKeyMeanResampler):
    """VQA accuracy: mean of per-question accuracies in [0, 1], reported in percent."""

    score_key = "vqa_accuracy"
    scale = 100.0
    sample_label = "vqa_accuracy (0-1)"
    perfect = 1.0


class RocAucResampler(Resampler):
    """ROC-AUC recomputed on every resample from the stored per-sample log-odds.

    Weighted Mann-Whitney statistic, vectorised over resamples: documents are sorted by score
    once, tied scores form groups, and for each resample the AUC is
    ``sum_g W+_g * (W-_below_g + W-_g / 2) / (W+ * W-)`` with ``W±`` the resampled class
    weights.  With unit weights it equals :func:`emu2_eval.scoring.metrics.roc_auc.roc_auc`.
    Resamples that draw one class only have no AUC (NaN); the interval reports how many.
    """

    keys = ("roc_auc",)
    sample_label = "correct (log-odds > 0 agrees with label)"
    perfect = 1.0

    def __init__(
        self, docs: Sequence[ScoredDoc], summary: Mapping[str, float], options: Mapping[str, Any]
    ) -> None:
        super().__init__(docs, summary, options)
        try:
            scores = np.array([float(d.scores["score"]) for d in docs], dtype=np.float64)
            labels = np.array([int(d.fields["label"]) for d in docs])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(
                f"roc_auc intervals need each sample's stored 'score' and doc 'label' ({exc})"
            ) from None
        self.scores, self.labels = scores, labels
        self.order = np.argsort(scores, kind="mergesort")
        ordered = scores[self.order]
        self.starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        self.positive = labels[self.order] == 1

    def statistics(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        ordered = weights[:, self.order]
        pos = np.where(self.positive, ordered, 0.0)
        neg = ordered - pos
        group_pos = np.add.reduceat(pos, self.starts, axis=1)
        group_neg = np.add.reduceat(neg, self.starts, axis=1)
        below = np.cumsum(group_neg, axis=1) - group_neg
        numerator = (group_pos * (below + 0.5 * group_neg)).sum(axis=1)
        denominator = pos.sum(axis=1) * neg.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            auc = np.where(denominator > 0, numerator / denominator, np.nan)
        return {"roc_auc": 100.0 * auc}

    @classmethod
    def sample_outcomes(cls, docs: Sequence[ScoredDoc]) -> np.ndarray:
        def correct(doc: ScoredDoc) -> float:
            score, label = doc.scores.get("score"), doc.fields.get("label")
            if score is None or label not in (0, 1):
                return np.nan
            return float((float(score) > 0) == (label == 1))

        return np.array([correct(d) for d in docs], dtype=np.float64)


def resampler_class(metric_name: str) -> type[Resampler] | None:
    """The resampler the registered metric's class declares (``resampler``), or None."""
    declared = getattr(METRICS.get(metric_name), "resampler", None)
    if isinstance(declared, type) and issubclass(declared, Resampler):
        return declared
    return None


def build_resampler(
    metric_name: str,
    docs: Sequence[ScoredDoc],
    summary: Mapping[str, float],
    options: Mapping[str, Any],
) -> Resampler:
    """Build the resampler of ``metric_name`` or raise naming the metric without one."""
    cls = resampler_class(metric_name)
    if cls is None:
        raise LookupError(
            f"metric {metric_name!r} has no resampler: give its class a `resampler` attribute "
            "(a subclass of emu2_eval.scoring.stats.resamplers.Resampler)"
        )
    return cls(docs, summary, options)


def higher_is_better(metric_name: str, key: str) -> bool:
    """Direction of one result key, declared by the metric class.

    A metric class sets ``higher_is_better`` to a bool or to a mapping of result keys to bools
    (e.g. ``{"fid": False, "kid": False}``); a key it does not name, or a class that declares
    nothing (a plugin metric), means higher is better.
    """
    declared = getattr(METRICS.get(metric_name), "higher_is_better", True)
    if isinstance(declared, Mapping):
        return bool(declared.get(key, True))
    return bool(declared)

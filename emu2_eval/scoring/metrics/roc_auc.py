"""ROC-AUC for binary classification read off a generative model (Hateful Memes).

The AUC is the Mann-Whitney statistic: the probability that a random positive scores above a
random negative, ties counting one half. Computed from average ranks in O(n log n), it equals
sklearn's ``roc_auc_score`` (trapezoidal ROC area), which the Hateful Memes README recommends.

Score of a sample: the model's log-odds of the positive continuation among the candidates,
``logP(positive) - logsumexp(logP(others))``. The Emu2 paper does not say how its AUC was read
off the model; shared/reference/PROTOCOL.md pins "P(yes) vs P(no) of the next token". With
candidates [" yes", " no"] this is ``log P(yes)/P(no)``, a monotone function of P(yes)
renormalised over {yes, no}, so the AUC is the same as ranking by that probability; comparing
against "no" removes what raw ``logP(yes)`` would mix in (how likely *any* short answer is after
this prompt), tokens shared by all candidates cancel, and log space avoids underflow when both
probabilities are tiny.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from emu2_eval.scoring.metrics.base import Metric, MetricResult, Sample
from emu2_eval.scoring.stats.resamplers import RocAucResampler


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, tied values sharing the mean of their ranks."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(values)]
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.repeat((starts + 1 + ends) / 2.0, ends - starts)
    return ranks


def roc_auc(scores: Sequence[float], labels: Sequence[int]) -> float:
    """Area under the ROC curve of ``scores`` for binary ``labels`` (1 = positive), in [0, 1]."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels)
    if s.ndim != 1 or y.ndim != 1 or len(s) != len(y):
        raise ValueError(f"scores and labels must be flat and equally long ({s.size} vs {y.size})")
    if np.isnan(s).any():
        raise ValueError("scores contain NaN")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    positive = y == 1
    n_pos = int(positive.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        only = "positive" if n_neg == 0 else "negative"
        raise ValueError(f"ROC-AUC needs both classes; all {len(y)} labels are {only}")
    rank_sum = float(_average_ranks(s)[positive].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def candidate_log_odds(loglikelihoods: Sequence[float], positive: int) -> float:
    """``ll[positive] - logsumexp(ll[others])``: log-odds of the positive candidate."""
    values = np.asarray(loglikelihoods, dtype=np.float64)
    others = np.delete(values, positive)
    top = others.max()
    if np.isneginf(top):
        return float("inf") if values[positive] > -np.inf else float("nan")
    return float(values[positive] - (top + np.log(np.exp(others - top).sum())))


class RocAucMetric(Metric):
    """ROC-AUC in percent over a loglikelihood task's candidate log-probabilities.

    Each prediction is the list of continuation log-likelihoods of the task's ``continuations``
    (e.g. [logP(" yes"), logP(" no")]); option ``positive`` is the index of the continuation that
    means label 1. Doc field ``label`` (0/1) is the truth.
    """

    name = "roc_auc"
    required_fields = ("label",)
    resampler = RocAucResampler
    higher_is_better = True

    def __init__(self, positive: int = 0) -> None:
        if type(positive) is not int or positive < 0:
            raise ValueError(
                f"roc_auc option positive must be a non-negative index, got {positive!r}"
            )
        self.options: dict[str, Any] = {"positive": positive, "score": "log_odds"}

    def _score(self, sample: Sample) -> float:
        prediction: Any = sample.prediction
        if not isinstance(prediction, (list, tuple)) or len(prediction) < 2:
            raise ValueError(
                f"roc_auc: doc {sample.doc_id} prediction must be the log-likelihoods of 2+ "
                f"continuations (a loglikelihood task), got {prediction!r}"
            )
        if self.options["positive"] >= len(prediction):
            raise ValueError(
                f"roc_auc: positive={self.options['positive']} but doc {sample.doc_id} has only "
                f"{len(prediction)} continuation log-likelihoods"
            )
        score = candidate_log_odds(prediction, self.options["positive"])
        if np.isnan(score):
            raise ValueError(f"roc_auc: doc {sample.doc_id} has no finite log-likelihood")
        return score

    def _label(self, sample: Sample) -> int:
        label = sample.fields.get("label")
        if label not in (0, 1) or isinstance(label, float):
            state = "has no label" if label is None else f"has label {label!r}, not 0/1"
            raise ValueError(
                f"roc_auc: doc {sample.doc_id} {state}; this split cannot be scored "
                "(unlabelled test splits can be run, not scored)"
            )
        return int(label)

    def score(self, samples: Sequence[Sample]) -> MetricResult:
        if not samples:
            return MetricResult(summary={}, options=self.options)
        labels = [self._label(s) for s in samples]
        scores = [self._score(s) for s in samples]
        auc = roc_auc(scores, labels)
        return MetricResult(
            summary={"roc_auc": 100.0 * auc},
            per_sample={s.doc_id: {"score": v} for s, v in zip(samples, scores, strict=True)},
            units={"roc_auc": "percent"},
            options=self.options,
        )

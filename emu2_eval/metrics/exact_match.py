"""Exact-match accuracy after a named answer normalisation (GQA and other one-answer QA).

Variants (option ``normalize``, recorded with the result):

- ``llava``: LLaVA-1.5's GQA protocol: the answer is stripped (its ``model_vqa_loader``),
  trailing ``"."`` removed and lower-cased (``scripts/convert_gqa_for_eval.py``), then compared
  by string equality with the official answer as GQA's ``eval.py`` does (``predicted == gold``).
- ``ignore_case_punctuation``: lm-eval/lmms-eval's ``exact_match`` with ``ignore_case`` and
  ``ignore_punctuation`` (lower-case, delete every ``string.punctuation`` character, both sides),
  plus surrounding whitespace stripped.
- ``none``: plain string equality.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Sequence

from emu2_eval.metrics.base import Metric, MetricResult, Sample
from emu2_eval.stats.resamplers import MeanScoreResampler

_PUNCTUATION = str.maketrans("", "", string.punctuation)


def _llava(text: str) -> str:
    return text.strip().rstrip(".").lower()


def _ignore_case_punctuation(text: str) -> str:
    return text.lower().translate(_PUNCTUATION).strip()


#: variant -> (prediction normaliser, whether the gold answer goes through it too)
NORMALIZERS: dict[str, tuple[Callable[[str], str], bool]] = {
    "llava": (_llava, False),
    "ignore_case_punctuation": (_ignore_case_punctuation, True),
    "none": (lambda text: text, False),
}


def exact_match(prediction: str, answer: str, normalize: str = "llava") -> bool:
    """Whether ``prediction`` equals ``answer`` after the ``normalize`` variant."""
    function, both = NORMALIZERS[normalize]
    return function(prediction) == (function(answer) if both else answer)


class ExactMatchResampler(MeanScoreResampler):
    """Mean of per-question 0/1 matches, in percent."""

    score_key = "exact_match"
    scale = 100.0
    sample_label = "exact_match (0/1)"
    perfect = 1.0


class ExactMatchMetric(Metric):
    """Accuracy in percent over the doc field ``answer``; groups by ``group_by`` fields."""

    name = "exact_match"
    resampler = ExactMatchResampler
    required_fields = ("answer",)

    def __init__(
        self, normalize: str = "llava", group_by: str = "structural_type,semantic_type"
    ) -> None:
        if normalize not in NORMALIZERS:
            valid = ", ".join(NORMALIZERS)
            raise ValueError(f"unknown exact_match normalize {normalize!r}; valid: {valid}")
        self.options = {"normalize": normalize, "group_by": group_by}

    def score(self, samples: Sequence[Sample]) -> MetricResult:
        if not samples:
            return MetricResult(summary={}, options=self.options)
        hits = [
            1.0 if exact_match(s.prediction, str(s.fields["answer"]), self.options["normalize"])
            else 0.0
            for s in samples
        ]
        groups: dict[str, dict[str, float]] = {}
        for key in filter(None, self.options["group_by"].split(",")):
            labels = [str(s.fields.get(key, "")) for s in samples]
            if any(labels):
                groups[key] = _group_means(hits, labels)
        return MetricResult(
            summary={"exact_match": 100.0 * sum(hits) / len(hits)},
            per_sample={s.doc_id: {"exact_match": h} for s, h in zip(samples, hits, strict=True)},
            groups=groups,
            units={"exact_match": "percent"},
            options=self.options,
        )


def _group_means(scores: Sequence[float], labels: Sequence[str]) -> dict[str, float]:
    """Percent per label, in order of first occurrence."""
    totals: dict[str, list[float]] = {}
    for score, label in zip(scores, labels, strict=True):
        totals.setdefault(label, []).append(score)
    return {label: 100.0 * sum(v) / len(v) for label, v in totals.items()}

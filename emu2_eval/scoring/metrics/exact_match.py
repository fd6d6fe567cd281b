"""Exact-match accuracy after a named answer normalisation (GQA, MSVD-QA, MSRVTT-QA).

The Emu2 paper reports "exact match" (Table 2) without its normalisation, so ``normalize`` names
it and is recorded with the result:

- ``vqa``: the official VQA answer normalisation on both sides (punctuation, lower-case, number
  words to digits, articles dropped, contractions:
  :func:`emu2_eval.scoring.metrics.vqa_accuracy.normalize_answer`), the "standard normalisation" of
  short-answer QA; the video-QA tasks use it.
- ``llava``: LLaVA-1.5's GQA protocol: the answer is stripped (its ``model_vqa_loader``),
  trailing ``"."`` removed and lower-cased (``scripts/convert_gqa_for_eval.py``), then compared
  by string equality with the official answer as GQA's ``eval.py`` does (``predicted == gold``).
- ``ignore_case_punctuation``: lm-eval/lmms-eval's ``exact_match`` with ``ignore_case`` and
  ``ignore_punctuation`` (lower-case, delete every ``string.punctuation`` character, both sides),
  plus surrounding whitespace stripped.
- ``lower``: lower-case and surrounding whitespace only, both sides.
- ``none``: plain string equality.

A doc's ``answer`` (a string) or ``answers`` (a non-empty list: any one matches) is the truth.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Sequence
from typing import Any

from emu2_eval.scoring.metrics.base import Metric, MetricResult, Sample
from emu2_eval.scoring.stats.resamplers import FixedKeyMeanResampler

_PUNCTUATION = str.maketrans("", "", string.punctuation)


def _vqa(text: str) -> str:
    from emu2_eval.scoring.metrics.vqa_accuracy import normalize_answer

    return normalize_answer(text)


def _llava(text: str) -> str:
    return text.strip().rstrip(".").lower()


def _ignore_case_punctuation(text: str) -> str:
    return text.lower().translate(_PUNCTUATION).strip()


#: variant -> (prediction normaliser, whether the gold answer goes through it too)
NORMALIZERS: dict[str, tuple[Callable[[str], str], bool]] = {
    "vqa": (_vqa, True),
    "llava": (_llava, False),
    "ignore_case_punctuation": (_ignore_case_punctuation, True),
    "lower": (lambda text: text.strip().lower(), True),
    "none": (lambda text: text, False),
}
NORMALIZATIONS: tuple[str, ...] = tuple(NORMALIZERS)
DEFAULT_GROUP_BY = "question_type,structural_type,semantic_type"


def check_normalize(name: str) -> str:
    """``name``, or a ValueError listing the valid variants."""
    if name not in NORMALIZERS:
        valid = ", ".join(NORMALIZERS)
        raise ValueError(f"unknown exact_match normalize {name!r}; valid: {valid}")
    return name


def truths(fields: Any) -> list[str]:
    """The accepted answers of a doc: ``answers`` (list) or ``[answer]``."""
    answers = fields.get("answers")
    if isinstance(answers, list) and answers:
        return [str(a) for a in answers]
    return [str(fields["answer"])]


def exact_match(prediction: str, answers: str | Sequence[str], normalize: str = "vqa") -> bool:
    """Whether ``prediction`` equals ``answers`` (or any of them) after the ``normalize``
    variant."""
    function, both = NORMALIZERS[check_normalize(normalize)]
    gold = [answers] if isinstance(answers, str) else list(answers)
    predicted = function(prediction or "")
    return any(predicted == (function(a) if both else a) for a in gold)


class ExactMatchResampler(FixedKeyMeanResampler):
    """Mean of per-question 0/1 matches, in percent."""

    score_key = "exact_match"
    scale = 100.0
    sample_label = "exact_match (0/1)"
    perfect = 1.0


class ExactMatchMetric(Metric):
    """Accuracy in percent over the doc's ``answer``/``answers``; groups by ``group_by`` fields
    (those the docs have)."""

    name = "exact_match"
    resampler = ExactMatchResampler
    higher_is_better = True
    required_fields = ("answer",)

    def __init__(self, normalize: str = "vqa", group_by: str = DEFAULT_GROUP_BY) -> None:
        self.options = {"normalize": check_normalize(normalize), "group_by": group_by}

    def score(self, samples: Sequence[Sample]) -> MetricResult:
        if not samples:
            return MetricResult(summary={}, options=self.options)
        normalize = self.options["normalize"]
        hits = [
            1.0 if exact_match(s.prediction, truths(s.fields), normalize) else 0.0 for s in samples
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

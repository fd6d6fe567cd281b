"""Exact match after a named normalisation: the metric of MSVD-QA and MSRVTT-QA (Emu2 Table 2).

The video-QA sets have one answer word per question. The Emu2 paper reports "exact match"
without its normalisation; ``normalize`` names it and is recorded with the result:

- ``vqa`` (default): the official VQA answer normalisation applied to both sides
  (punctuation, lower-case, number words to digits, articles dropped, contractions:
  :func:`emu2_eval.metrics.vqa_accuracy.normalize_answer`), the "standard normalisation" of
  short-answer QA;
- ``lower``: lower-case and surrounding whitespace only;
- ``none``: the strings as they are.

A doc's ``answer`` (a string) or ``answers`` (a list: any one matches) is the truth.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from emu2_eval.metrics.base import Metric, MetricResult, Sample
from emu2_eval.stats.resamplers import MeanScoreResampler

NORMALIZATIONS: tuple[str, ...] = ("vqa", "lower", "none")


def normalizer(name: str) -> Callable[[str], str]:
    """The text normalisation called ``name`` (see the module docstring)."""
    if name == "vqa":
        from emu2_eval.metrics.vqa_accuracy import normalize_answer

        return normalize_answer
    if name == "lower":
        return lambda text: text.strip().lower()
    if name == "none":
        return lambda text: text
    raise ValueError(f"unknown exact_match normalize {name!r}; valid: {', '.join(NORMALIZATIONS)}")


def truths(fields: Any) -> list[str]:
    """The accepted answers of a doc: ``answers`` (list) or ``[answer]``."""
    answers = fields.get("answers")
    if isinstance(answers, list) and answers:
        return [str(a) for a in answers]
    return [str(fields["answer"])]


def exact_match(prediction: str, answers: Sequence[str], normalize: str = "vqa") -> float:
    """1.0 when the normalised prediction equals any normalised answer, else 0.0."""
    norm = normalizer(normalize)
    return float(norm(prediction or "") in {norm(a) for a in answers})


class ExactMatchResampler(MeanScoreResampler):
    """Exact match: mean of per-question 0/1 scores, reported in percent."""

    score_key = "exact_match"
    scale = 100.0
    sample_label = "exact match (0/1)"
    perfect = 1.0


class ExactMatchMetric(Metric):
    """Exact match in percent, overall and per ``question_type`` (when the docs have one)."""

    name = "exact_match"
    required_fields = ("answer",)
    resampler = ExactMatchResampler

    def __init__(self, normalize: str = "vqa") -> None:
        normalizer(normalize)  # refuse an unknown name when the task is read
        self.options = {"normalize": normalize}

    def score(self, samples: Sequence[Sample]) -> MetricResult:
        if not samples:
            return MetricResult(summary={}, options=self.options)
        normalize = self.options["normalize"]
        scores = np.array([exact_match(s.prediction, truths(s.fields), normalize) for s in samples])
        groups: dict[str, dict[str, float]] = {}
        labels = [str(s.fields.get("question_type", "")) for s in samples]
        if any(labels):
            groups["question_type"] = {
                label: 100.0 * float(scores[[x == label for x in labels]].mean())
                for label in sorted(set(labels))
            }
        return MetricResult(
            summary={"exact_match": 100.0 * float(scores.mean())},
            per_sample={
                s.doc_id: {"exact_match": float(v)} for s, v in zip(samples, scores, strict=True)
            },
            groups=groups,
            units={"exact_match": "percent"},
            options=self.options,
        )

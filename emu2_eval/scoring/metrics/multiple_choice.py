"""SEED-Bench accuracy: the chosen option letter against the answer, per evaluation dimension.

SEED-Bench (``SEED-Bench.json``) asks 4-option questions in 12 dimensions: 1-9 on images, 10-12
on videos. A generating model answers with text; ``parser`` names how a letter is read from it
(recorded with the result):

- ``letter_or_text`` (default): a leading option letter (``A``, ``A.``, ``(A)``, ``A) ...``,
  ``Answer: A``); failing that, the option whose text the answer equals (case and surrounding
  punctuation ignored); otherwise no choice, which counts as wrong;
- ``letter``: the leading letter only.

Reported (percent): ``accuracy`` over all questions, ``accuracy_image`` (dimensions 1-9) and
``accuracy_video`` (10-12) over their questions, as SEED-Bench's leaderboard reports them, and
``dimension_mean`` (the mean of the per-dimension accuracies), since which average a paper means
is not always said. Per-dimension accuracies are the ``dimension`` group.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from emu2_eval.scoring.metrics.base import Metric, MetricResult, Sample
from emu2_eval.scoring.stats.resamplers import Resampler, ScoredDoc

LETTERS = ("A", "B", "C", "D")
PARSERS: tuple[str, ...] = ("letter_or_text", "letter")
IMAGE_DIMENSIONS = frozenset(range(1, 10))
VIDEO_DIMENSIONS = frozenset(range(10, 13))
_LEADING_LETTER = re.compile(
    r"^\s*(?:(?:the\s+)?(?:answer|option)\s*(?:is)?\s*[:：]?\s*)?[(\[]?([A-D])(?![A-Za-z])",
    re.IGNORECASE,
)


def parse_choice(
    prediction: str, options: Mapping[str, str], parser: str = "letter_or_text"
) -> str:
    """The option letter a free-text answer chooses, or ``""`` when it chooses none."""
    if parser not in PARSERS:
        raise ValueError(f"unknown multiple-choice parser {parser!r}; valid: {', '.join(PARSERS)}")
    text = prediction or ""
    found = _LEADING_LETTER.match(text)
    if found and (found.group(1).isupper() or len(text.strip()) <= 3):
        return found.group(1).upper()
    if parser == "letter":
        return ""

    def squash(value: str) -> str:
        return re.sub(r"\s+", " ", value).strip().strip(".,;:!?\"'").strip().lower()

    answer = squash(text)
    matches = [letter for letter, option in options.items() if squash(option) == answer]
    return matches[0] if len(matches) == 1 else ""


def _dimension(fields: Mapping[str, Any]) -> int:
    return int(fields["question_type_id"])


class SeedAccuracyResampler(Resampler):
    """Every SEED key recomputed on each resample from the stored per-question 0/1 scores."""

    sample_label = "correct (0/1)"
    perfect = 1.0

    def __init__(
        self, docs: Sequence[ScoredDoc], summary: Mapping[str, float], options: Mapping[str, Any]
    ) -> None:
        super().__init__(docs, summary, options)
        try:
            self.values = np.array([float(d.scores["accuracy"]) for d in docs])
            dimensions = np.array([_dimension(d.fields) for d in docs])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(
                f"SEED accuracy intervals need each sample's stored 'accuracy' and doc "
                f"'question_type_id' ({exc})"
            ) from None
        self.masks = {
            "accuracy": np.ones(len(docs), dtype=bool),
            "accuracy_image": np.isin(dimensions, sorted(IMAGE_DIMENSIONS)),
            "accuracy_video": np.isin(dimensions, sorted(VIDEO_DIMENSIONS)),
        }
        self.dimension_masks = [dimensions == d for d in sorted(set(dimensions.tolist()))]
        self.keys = tuple(k for k in (*self.masks, "dimension_mean") if k in summary)

    def _mean(self, weights: np.ndarray, mask: np.ndarray) -> np.ndarray:
        chosen = weights[:, mask]
        with np.errstate(invalid="ignore", divide="ignore"):
            return 100.0 * (chosen @ self.values[mask]) / chosen.sum(axis=1)

    def statistics(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        out = {k: self._mean(weights, m) for k, m in self.masks.items() if k in self.keys}
        if "dimension_mean" in self.keys:
            per_dimension = np.stack([self._mean(weights, m) for m in self.dimension_masks])
            with np.errstate(invalid="ignore"):
                out["dimension_mean"] = np.nanmean(per_dimension, axis=0)
        return out

    @classmethod
    def sample_outcomes(cls, docs: Sequence[ScoredDoc]) -> np.ndarray:
        return np.array([float(d.scores.get("accuracy", np.nan)) for d in docs])


class SeedAccuracyMetric(Metric):
    """SEED-Bench accuracy (percent): all, image and video parts, per dimension."""

    name = "seed_accuracy"
    required_fields = ("answer", "choices", "question_type_id")
    resampler = SeedAccuracyResampler
    higher_is_better = True

    def __init__(self, parser: str = "letter_or_text") -> None:
        parse_choice("", {}, parser)  # refuse an unknown parser when the task is read
        self.options = {
            "parser": parser,
            "image_dimensions": sorted(IMAGE_DIMENSIONS),
            "video_dimensions": sorted(VIDEO_DIMENSIONS),
        }

    def score(self, samples: Sequence[Sample]) -> MetricResult:
        if not samples:
            return MetricResult(summary={}, options=self.options)
        parser = self.options["parser"]
        correct = np.array(
            [
                float(parse_choice(s.prediction, s.fields["choices"], parser) == s.fields["answer"])
                for s in samples
            ]
        )
        dimensions = np.array([_dimension(s.fields) for s in samples])
        names = {_dimension(s.fields): str(s.fields.get("dimension", "")) for s in samples}
        summary = {"accuracy": 100.0 * float(correct.mean())}
        for key, wanted in (
            ("accuracy_image", IMAGE_DIMENSIONS),
            ("accuracy_video", VIDEO_DIMENSIONS),
        ):
            mask = np.isin(dimensions, sorted(wanted))
            if mask.any():
                summary[key] = 100.0 * float(correct[mask].mean())
        per_dimension = {
            f"{d} {names[d]}".strip(): 100.0 * float(correct[dimensions == d].mean())
            for d in sorted(set(dimensions.tolist()))
        }
        summary["dimension_mean"] = float(np.mean(list(per_dimension.values())))
        return MetricResult(
            summary=summary,
            per_sample={
                s.doc_id: {"accuracy": float(v)} for s, v in zip(samples, correct, strict=True)
            },
            groups={"dimension": per_dimension},
            units={key: "percent" for key in summary},
            options=self.options,
        )

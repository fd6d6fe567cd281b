"""MMMU accuracy: parsed answers (``mmmu_parsing``), per subject, per discipline and overall.

Option ``fallback`` (recorded): what a multiple-choice response that points to no option counts
as. MMMU's code draws ``random.choice`` from a generator seeded once per process (so the draw of
a question depends on the ones before it); here ``random`` draws from a generator seeded by the
doc id (the same in any order, batch or resumed run) and ``wrong`` scores the question 0 (a lower
bound). The share of such responses is reported as ``mmmu_unparsed``.

Overall accuracy is the mean over questions, as MMMU's ``calculate_ins_level_acc`` weights
subjects by their question counts.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from emu2_eval.scoring.metrics.base import Metric, MetricResult, Sample
from emu2_eval.scoring.metrics.mmmu_parsing import open_correct, parse_choice, parse_open
from emu2_eval.scoring.stats.resamplers import FixedKeyMeanResampler, ScoredDoc, weighted_mean

FALLBACKS = ("random", "wrong")


def fallback_letter(doc_id: str, letters: Sequence[str]) -> str:
    """The letter ``fallback: random`` picks for ``doc_id``: seeded by the id alone."""
    return random.Random(f"mmmu-fallback:{doc_id}").choice(list(letters))


def score_one(sample: Sample, fallback: str) -> tuple[bool, bool]:
    """(correct, unparsed) for one MMMU sample."""
    fields = sample.fields
    answer = fields["answer"]
    if fields["question_type"] != "multiple-choice":
        return open_correct(answer, parse_open(sample.prediction)), False
    options: list[str] = list(fields["options"])
    index2ans = {chr(ord("A") + i): option for i, option in enumerate(options)}
    letter = parse_choice(sample.prediction, index2ans)
    unparsed = letter is None
    if unparsed:
        if fallback == "wrong":
            return False, True
        letter = fallback_letter(sample.doc_id, list(index2ans))
    golds = [answer] if isinstance(answer, str) else list(answer)
    return letter in golds, unparsed


class MMMUResampler(FixedKeyMeanResampler):
    """Means of per-question 0/1 correctness and of unparsed answers, in percent."""

    score_key = "accuracy"
    scale = 100.0
    sample_label = "accuracy (0/1)"
    perfect = 1.0

    def __init__(
        self, docs: Sequence[ScoredDoc], summary: Mapping[str, float], options: Mapping[str, Any]
    ) -> None:
        super().__init__(docs, summary, options)
        self.keys = ("accuracy", "mmmu_unparsed")
        self.unparsed = np.array([float(d.scores.get("mmmu_unparsed", 0.0)) for d in docs])

    def statistics(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        return {
            **super().statistics(weights),
            "mmmu_unparsed": self.scale * weighted_mean(weights, self.unparsed),
        }


class MMMUAccuracyMetric(Metric):
    """``accuracy`` in percent (the key of the paper's Table 2 row) and ``mmmu_unparsed``;
    groups ``discipline`` and ``subject``."""

    name = "mmmu_accuracy"
    resampler = MMMUResampler
    higher_is_better = True  # mmmu_unparsed too, as results.json has always recorded it
    required_fields = ("answer", "question_type", "options", "subject")

    def __init__(self, fallback: str = "random") -> None:
        if fallback not in FALLBACKS:
            valid = ", ".join(FALLBACKS)
            raise ValueError(f"unknown mmmu_accuracy fallback {fallback!r}; valid: {valid}")
        self.options: dict[str, Any] = {"fallback": fallback, "parser": "mmmu_eval_utils"}

    def score(self, samples: Sequence[Sample]) -> MetricResult:
        if not samples:
            return MetricResult(summary={}, options=self.options)
        hits, unparsed = [], []
        for sample in samples:
            correct, missing = score_one(sample, self.options["fallback"])
            hits.append(1.0 if correct else 0.0)
            unparsed.append(missing)
        groups: dict[str, dict[str, float]] = {}
        for key in ("discipline", "subject"):
            totals: dict[str, list[float]] = {}
            for sample, hit in zip(samples, hits, strict=True):
                totals.setdefault(str(sample.fields.get(key, "")), []).append(hit)
            groups[key] = {k: 100.0 * sum(v) / len(v) for k, v in sorted(totals.items())}
        return MetricResult(
            summary={
                "accuracy": 100.0 * sum(hits) / len(hits),
                "mmmu_unparsed": 100.0 * sum(unparsed) / len(unparsed),
            },
            per_sample={
                s.doc_id: {"accuracy": h, "mmmu_unparsed": float(u)}
                for s, h, u in zip(samples, hits, unparsed, strict=True)
            },
            groups=groups,
            units={"accuracy": "percent", "mmmu_unparsed": "percent"},
            options=self.options,
        )

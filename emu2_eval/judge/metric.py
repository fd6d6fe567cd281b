"""``gpt_judge``: the metric entry of the GPT-judged tasks (MM-Vet, TouchStone).

``emu2-eval run`` never calls a judge: this metric scores nothing (no number is printed), it
only records that the task is predict-only and how to finish it: ``emu2-eval judge RUN --task
TASK`` writes the official submission file, and grades it only when given an endpoint.
"""

from __future__ import annotations

from collections.abc import Sequence

from emu2_eval.scoring.metrics.base import Metric, MetricResult, Sample

BENCHMARKS = ("mmvet", "touchstone")


class GPTJudgeMetric(Metric):
    """Predict-only placeholder naming the benchmark whose judge protocol applies."""

    name = "gpt_judge"
    resampler = None  # predict-only: no number, so no interval
    higher_is_better = True

    def __init__(self, benchmark: str) -> None:
        if benchmark not in BENCHMARKS:
            valid = ", ".join(BENCHMARKS)
            raise ValueError(f"unknown gpt_judge benchmark {benchmark!r}; valid: {valid}")
        self.options = {
            "benchmark": benchmark,
            "judge": "none during run (predict-only): emu2-eval judge RUN --task TASK "
            "writes the submission file; --judge-base-url/--judge-model grade it",
        }

    def score(self, samples: Sequence[Sample]) -> MetricResult:
        return MetricResult(summary={}, options=self.options)

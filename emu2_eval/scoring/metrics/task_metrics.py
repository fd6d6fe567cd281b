"""Task-level metrics wired to the registry: VQA accuracy and the COCO caption metrics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from emu2_eval.scoring.metrics.base import Metric, MetricResult, Sample
from emu2_eval.scoring.stats.caption import CaptionResampler
from emu2_eval.scoring.stats.resamplers import VQAAccuracyResampler


class VQAAccuracyMetric(Metric):
    """VQA accuracy in percent, overall and per answer type / question type.

    Option ``variant``: ``official`` (GT-Vision-Lab vqaEval.py), ``always_normalize``
    (lmms-eval / OpenFlamingo), ``emu_lavis`` or ``okvqa_stemmed`` (the Emu team's
    ``VQAEval`` / ``OKVQAEval``). The variant is recorded with the result
    (results.json ``metric_options.vqa_accuracy.variant``).
    """

    name = "vqa_accuracy"
    required_fields = ("answers",)
    resampler = VQAAccuracyResampler
    higher_is_better = True

    def __init__(self, variant: str = "official") -> None:
        from emu2_eval.scoring.metrics.vqa_accuracy import VQA_ACCURACY_VARIANTS

        if variant not in VQA_ACCURACY_VARIANTS:
            valid = ", ".join(VQA_ACCURACY_VARIANTS)
            raise ValueError(f"unknown vqa_accuracy variant {variant!r}; valid: {valid}")
        self.options = {"variant": variant}

    def score(self, samples: Sequence[Sample]) -> MetricResult:
        from emu2_eval.scoring.metrics.vqa_accuracy import grouped_accuracy, score_many

        if not samples:
            return MetricResult(summary={}, options=self.options)
        scores = score_many(
            [s.prediction for s in samples],
            [s.fields["answers"] for s in samples],
            variant=self.options["variant"],
        )
        groups: dict[str, dict[str, float]] = {}
        for key in ("answer_type", "question_type"):
            labels = [str(s.fields.get(key, "")) for s in samples]
            if any(labels):
                groups[key] = {k: 100.0 * v for k, v in grouped_accuracy(scores, labels).items()}
        return MetricResult(
            summary={"vqa_accuracy": 100.0 * float(scores.mean())},
            per_sample={
                s.doc_id: {"vqa_accuracy": float(v)} for s, v in zip(samples, scores, strict=True)
            },
            groups=groups,
            units={"vqa_accuracy": "percent"},
            options=self.options,
        )


class CaptionMetric(Metric):
    """BLEU-1..4, METEOR, ROUGE-L, CIDEr(-D) via pycocoevalcap, x100 as papers report them."""

    name = "caption_metrics"
    required_fields = ("references",)
    resampler = CaptionResampler
    higher_is_better = True

    def __init__(self, spice: bool | None = False) -> None:
        self.options: dict[str, Any] = {"spice": spice, "scale": 100}

    @classmethod
    def scorer_label(cls, options: Mapping[str, Any]) -> str:
        """pycocoevalcap's scorers called directly, with or without SPICE."""
        return "pycocoevalcap, " + ("with SPICE" if options.get("spice") else "no SPICE")

    def score(self, samples: Sequence[Sample]) -> MetricResult:
        from emu2_eval.scoring.metrics.caption_metrics import caption_metrics_detailed

        if not samples:
            return MetricResult(summary={}, options=self.options)
        predictions = {s.doc_id: s.prediction for s in samples}
        references = {s.doc_id: list(s.fields["references"]) for s in samples}
        corpus, per_image = caption_metrics_detailed(
            predictions, references, spice=self.options["spice"]
        )
        return MetricResult(
            summary={k: 100.0 * v for k, v in corpus.items()},
            per_sample={str(k): dict(v) for k, v in per_image.items()},
            units={k: "x100" for k in corpus},
            options=self.options,
        )

"""Referring-expression comprehension accuracy: a box is right when IoU >= threshold (0.5).

Per sample: the answer's box is parsed (:func:`emu2_eval.scoring.metrics.boxes.parse_box`),
scaled to pixels of the original image with the task's ``box_format``, and compared with the doc's
``bbox`` (COCO ``[x, y, w, h]``). An answer without a box is wrong and counted in
``unparseable``. Options are recorded with the result and shown in reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from emu2_eval.scoring.metrics.base import Metric, MetricResult, Sample
from emu2_eval.scoring.metrics.boxes import BOX_FORMATS, IOU_MODES, coco_to_xyxy, iou, parse_box
from emu2_eval.scoring.stats.resamplers import FixedKeyMeanResampler, ScoredDoc, weighted_mean


class GroundingResampler(FixedKeyMeanResampler):
    """Accuracy (percent) and the unparseable count, both exact on every resample."""

    score_key = "iou_accuracy"
    scale = 100.0
    sample_label = "box right (IoU >= threshold)"
    perfect = 1.0

    def __init__(self, docs, summary, options) -> None:  # type: ignore[no-untyped-def]
        super().__init__(docs, summary, options)
        self.keys = ("iou_accuracy", "unparseable")
        self.unparsed = np.array([float(d.scores.get("unparseable", 0.0)) for d in docs])

    def statistics(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        return {
            "iou_accuracy": 100.0 * weighted_mean(weights, self.values),
            "unparseable": weights @ self.unparsed,
        }

    @classmethod
    def sample_outcomes(cls, docs: Sequence[ScoredDoc]) -> np.ndarray:
        return np.array([float(d.scores.get("iou_accuracy", np.nan)) for d in docs])


class GroundingAccuracyMetric(Metric):
    """``iou_accuracy`` (percent of sentences whose box has IoU >= ``threshold``) and
    ``unparseable`` (how many answers held no box; they count as wrong)."""

    name = "iou_accuracy"
    required_fields = ("bbox", "width", "height")
    resampler = GroundingResampler
    higher_is_better: ClassVar[dict[str, bool]] = {"iou_accuracy": True, "unparseable": False}
    # conventions the paper does not publish: shown in every report (emu2_eval.reporting.tables)
    shown_options: ClassVar[tuple[str, ...]] = (
        "box_format",
        "box_format_meaning",
        "iou_mode",
        "threshold",
        "rule",
    )

    def __init__(
        self, box_format: str = "emu2_224", iou_mode: str = "continuous", threshold: float = 0.5
    ) -> None:
        if box_format not in BOX_FORMATS:
            raise ValueError(
                f"iou_accuracy option box_format={box_format!r}; valid: {', '.join(BOX_FORMATS)}"
            )
        if iou_mode not in IOU_MODES:
            raise ValueError(
                f"iou_accuracy option iou_mode={iou_mode!r}; valid: {', '.join(IOU_MODES)}"
            )
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            raise ValueError(f"iou_accuracy option threshold must be a number, got {threshold!r}")
        if not 0 < threshold <= 1:
            raise ValueError(f"iou_accuracy option threshold must be in (0, 1], got {threshold}")
        self.options: dict[str, Any] = {
            "box_format": box_format,
            "box_format_meaning": BOX_FORMATS[box_format].description,
            "iou_mode": iou_mode,
            "threshold": float(threshold),
            "rule": "IoU >= threshold; first box of the answer; no box: wrong (unparseable)",
            "ground_truth": "COCO bbox [x, y, w, h] -> [x, y, x + w, y + h]",
        }

    def _one(self, sample: Sample) -> dict[str, float]:
        fields = sample.fields
        missing = [k for k in self.required_fields if k not in fields]
        if missing:
            raise ValueError(
                f"iou_accuracy: doc {sample.doc_id} has no {', '.join(missing)}; this split "
                "cannot be scored (a grounding task needs the box and the image size)"
            )
        answer = sample.prediction if isinstance(sample.prediction, str) else ""
        box = parse_box(answer)
        if box is None:
            return {"iou_accuracy": 0.0, "iou": 0.0, "unparseable": 1.0}
        fmt = BOX_FORMATS[self.options["box_format"]]
        pixels = fmt.to_pixels(box, float(fields["width"]), float(fields["height"]))
        value = iou(pixels, coco_to_xyxy(fields["bbox"]), self.options["iou_mode"])
        right = float(value >= self.options["threshold"])
        return {"iou_accuracy": right, "iou": value, "unparseable": 0.0}

    def score(self, samples: Sequence[Sample]) -> MetricResult:
        if not samples:
            return MetricResult(summary={}, options=self.options)
        per_sample = {s.doc_id: self._one(s) for s in samples}
        right = [v["iou_accuracy"] for v in per_sample.values()]
        return MetricResult(
            summary={
                "iou_accuracy": 100.0 * float(np.mean(right)),
                "unparseable": float(sum(v["unparseable"] for v in per_sample.values())),
            },
            per_sample=per_sample,
            units={"iou_accuracy": "percent", "unparseable": "count"},
            options=self.options,
        )

"""Grounding accuracy (IoU >= 0.5) against boxes and IoUs computed by hand, and Emu2's box
format parsed from answers (README / baaivision/Emu#66: ``[x1, y1, x2, y2]`` on 0..224)."""

from __future__ import annotations

import pytest

from emu2_eval.scoring.metrics.base import Sample
from emu2_eval.scoring.metrics.boxes import coco_to_xyxy, iou, parse_box
from emu2_eval.scoring.metrics.grounding import GroundingAccuracyMetric
from emu2_eval.scoring.stats.intervals import metric_intervals
from emu2_eval.scoring.stats.resamplers import ScoredDoc, higher_is_better

# (box a, box b, mode, IoU worked out on paper)
HAND_IOUS = [
    ((0, 0, 10, 10), (0, 0, 10, 10), "continuous", 1.0),
    ((0, 0, 10, 10), (5, 0, 15, 10), "continuous", 50 / 150),
    ((0, 0, 10, 10), (0, 0, 10, 20), "continuous", 0.5),  # exactly the threshold
    ((0, 0, 10, 10), (0, 0, 10, 20.1), "continuous", 100 / 201),  # just below
    ((0, 0, 10, 10), (0, 0, 10, 19.9), "continuous", 100 / 199),  # just above
    ((0, 0, 10, 10), (10, 0, 20, 10), "continuous", 0.0),  # touching edges
    ((0, 0, 10, 10), (10, 0, 20, 10), "inclusive_pixels", 11 / 231),  # share a pixel column
    ((0, 0, 9, 9), (5, 0, 14, 9), "inclusive_pixels", 50 / 150),
    ((0, 0, 10, 10), (20, 20, 30, 30), "continuous", 0.0),  # apart
    ((0, 0, 10, 10), (5, 0, 5, 10), "continuous", 0.0),  # zero-width box
    ((5, 0, 5, 10), (5, 0, 5, 10), "continuous", 0.0),  # two degenerate boxes: empty union
    ((0, 0, 10, 10), (10, 10, 0, 0), "continuous", 0.0),  # corners the wrong way round
    ((2, 2, 4, 4), (0, 0, 10, 10), "continuous", 4 / 100),  # inside
]


@pytest.mark.parametrize(("a", "b", "mode", "expected"), HAND_IOUS)
def test_iou_matches_hand_computed_values(a, b, mode, expected) -> None:
    assert iou(a, b, mode) == pytest.approx(expected, abs=1e-12)
    assert iou(b, a, mode) == pytest.approx(expected, abs=1e-12)


def test_parse_box_reads_emu2s_output_format() -> None:
    official = "<s> <phrase> the squirrel </phrase> <object> [12, 30, 200, 220] </object> </s>"
    assert parse_box(official) == (12, 30, 200, 220)
    several = (
        "<phrase>two dogs</phrase><object>[0, 4, 100, 120]</object>"
        "</delimiter_of_multi_objects/><object>[110, 4, 224, 118]</object>"
    )
    assert parse_box(several) == (0, 4, 100, 120)  # the first object's box
    assert parse_box("counted [1, 2, 3, 4] then <object>[5,6,7,8]</object>") == (5, 6, 7, 8)
    assert parse_box("it is at [10.5, 20, 30, 40.25] in the picture") == (10.5, 20, 30, 40.25)
    for bad in ("", "the squirrel", "[1, 2, 3]", "<object>[a, b, c, d]</object>", "1, 2, 3, 4"):
        assert parse_box(bad) is None, bad
    assert coco_to_xyxy([10, 20, 30, 40]) == (10, 20, 40, 60)


def _samples() -> list[Sample]:
    """A 448 x 224 image (wide); ground truth COCO [0, 0, 224, 112] = left half, top half."""
    doc = {"bbox": [0.0, 0.0, 224.0, 112.0], "width": 448.0, "height": 224.0}
    answers = {
        "exact": "<object>[0, 0, 112, 112]</object>",  # x * 2, y * 1 -> (0, 0, 224, 112): IoU 1
        "half": "<object>[0, 0, 224, 112]</object>",  # -> (0, 0, 448, 112): IoU 0.5, right
        "third": "<object>[0, 0, 56, 224]</object>",  # -> (0, 0, 112, 224): IoU 1/3, wrong
        "none": "I cannot find it",  # no box: wrong, unparseable
    }
    return [Sample(doc_id=k, fields=doc, prediction=v) for k, v in answers.items()]


def test_accuracy_scales_emu2_coordinates_by_width_and_height() -> None:
    result = GroundingAccuracyMetric().score(_samples())
    assert result.summary == {"iou_accuracy": 50.0, "unparseable": 1.0}
    ious = {k: v["iou"] for k, v in result.per_sample.items()}
    assert ious == pytest.approx({"exact": 1.0, "half": 0.5, "third": 1 / 3, "none": 0.0})
    assert [result.per_sample[k]["iou_accuracy"] for k in ("exact", "half", "third", "none")] == [
        1.0,
        1.0,
        0.0,
        0.0,
    ]
    assert result.per_sample["none"]["unparseable"] == 1.0
    assert result.units == {"iou_accuracy": "percent", "unparseable": "count"}
    assert result.options["box_format"] == "emu2_224" and result.options["threshold"] == 0.5
    assert result.options["iou_mode"] == "continuous"


def test_box_format_and_threshold_are_options() -> None:
    # read as pixels, [0, 0, 112, 112] covers a quarter of the truth's 224 x 112: IoU 0.5
    pixels = GroundingAccuracyMetric(box_format="pixels").score(_samples())
    assert pixels.per_sample["exact"]["iou"] == pytest.approx(0.5)
    strict = GroundingAccuracyMetric(threshold=0.75).score(_samples())
    assert strict.summary["iou_accuracy"] == 25.0
    for bad, match in (
        ({"box_format": "qwen"}, "box_format='qwen'; valid: emu2_224, pixels"),
        ({"iou_mode": "pixels"}, "iou_mode='pixels'; valid: continuous, inclusive_pixels"),
        ({"threshold": 0}, r"threshold must be in \(0, 1\]"),
        ({"threshold": "half"}, "threshold must be a number"),
    ):
        with pytest.raises(ValueError, match=match):
            GroundingAccuracyMetric(**bad)


def test_a_doc_without_its_box_cannot_be_scored() -> None:
    with pytest.raises(ValueError, match="doc q1 has no bbox"):
        GroundingAccuracyMetric().score(
            [Sample("q1", {"width": 10.0, "height": 10.0}, "[0, 0, 1, 1]")]
        )


def test_bootstrap_interval_of_accuracy_and_unparseable() -> None:
    metric = GroundingAccuracyMetric()
    samples = _samples() * 5
    samples = [Sample(f"{s.doc_id}{i}", s.fields, s.prediction) for i, s in enumerate(samples)]
    result = metric.score(samples)
    docs = [
        ScoredDoc(s.doc_id, s.fields, s.prediction, result.per_sample[s.doc_id]) for s in samples
    ]
    intervals = metric_intervals("iou_accuracy", docs, result.summary, result.options)
    accuracy, unparsed = intervals["iou_accuracy"], intervals["unparseable"]
    assert 0 <= accuracy["low"] < 50.0 < accuracy["high"] <= 100
    assert 0 <= unparsed["low"] < 5.0 < unparsed["high"] <= 20
    assert higher_is_better("iou_accuracy", "iou_accuracy")
    assert not higher_is_better("iou_accuracy", "unparseable")

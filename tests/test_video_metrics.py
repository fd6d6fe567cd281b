"""exact_match (MSVD-QA, MSRVTT-QA) and seed_accuracy (SEED-Bench) against hand computations."""

from __future__ import annotations

import numpy as np
import pytest

from emu2_eval.core.registry import METRICS
from emu2_eval.scoring.metrics.base import Sample
from emu2_eval.scoring.metrics.exact_match import ExactMatchMetric, exact_match
from emu2_eval.scoring.metrics.multiple_choice import SeedAccuracyMetric, parse_choice
from emu2_eval.scoring.stats.intervals import metric_intervals
from emu2_eval.scoring.stats.resamplers import ScoredDoc, resampler_class


def test_exact_match_normalisations_by_hand() -> None:
    # vqa: punctuation, case, number words and articles all normalised on both sides
    assert exact_match("Two.", ["2"]) == 1.0
    assert exact_match("the Dog", ["dog"]) == 1.0
    assert exact_match("dogs", ["dog"]) == 0.0
    assert exact_match("", ["dog"]) == 0.0
    assert exact_match("cat", ["dog", "cat"]) == 1.0  # any accepted answer
    # lower: case and outer spaces only; none: as is
    assert exact_match(" Two ", ["two"], "lower") == 1.0
    assert exact_match("the dog", ["dog"], "lower") == 0.0
    assert exact_match("Dog", ["dog"], "none") == 0.0
    with pytest.raises(ValueError, match="valid: vqa, llava, ignore_case_punctuation, lower, none"):
        ExactMatchMetric(normalize="stem")


def test_exact_match_metric_summary_groups_and_interval() -> None:
    rows = [  # (prediction, answer, question_type): right, right, wrong, right, wrong
        ("A man.", "man", "who"),
        ("three", "3", "how"),
        ("woman", "man", "who"),
        ("Guitar", "guitar", "what"),
        ("playing", "guitar", "what"),
    ]
    samples = [
        Sample(str(i), {"answer": a, "question_type": t}, p) for i, (p, a, t) in enumerate(rows)
    ]
    result = ExactMatchMetric().score(samples)
    assert result.summary == {"exact_match": 60.0}  # 3 of 5
    assert result.groups["question_type"] == {"how": 100.0, "what": 50.0, "who": 50.0}
    assert [result.per_sample[str(i)]["exact_match"] for i in range(5)] == [1, 1, 0, 1, 0]
    assert result.options["normalize"] == "vqa"  # the default
    docs = [
        ScoredDoc(s.doc_id, s.fields, s.prediction, result.per_sample[s.doc_id]) for s in samples
    ]
    interval = metric_intervals("exact_match", docs, result.summary, result.options)["exact_match"]
    assert 0.0 <= interval["low"] <= 60.0 <= interval["high"] <= 100.0


@pytest.mark.parametrize(
    ("prediction", "letter"),
    [
        ("A", "A"), ("B.", "B"), ("(C)", "C"), ("D) a dog", "D"), ("Answer: B", "B"),
        ("The answer is C", "C"), ("b", "B"), ("red", "B"), ("Red.", "B"),
        ("a red one", ""), ("E", ""), ("", ""), ("blue or red", ""),
    ],
)  # fmt: skip
def test_choice_parser(prediction: str, letter: str) -> None:
    options = {"A": "blue", "B": "red", "C": "green", "D": "yellow"}
    assert parse_choice(prediction, options) == letter


def test_letter_only_parser_ignores_option_text() -> None:
    options = {"A": "blue", "B": "red", "C": "green", "D": "yellow"}
    assert parse_choice("red", options, "letter") == ""
    assert parse_choice("B", options, "letter") == "B"


def _seed_samples() -> list[Sample]:
    """Dimension 1: 2/3 right; dimension 5: 0/1; dimension 10: 1/2; dimension 12: 1/1."""
    options = {"A": "cat", "B": "dog", "C": "cow", "D": "hen"}
    rows = [  # (dimension, answer, prediction)
        (1, "A", "A"), (1, "B", "dog"), (1, "C", "D"),
        (5, "D", "none"),
        (10, "A", "A."), (10, "B", "C"),
        (12, "C", "(C) a cow"),
    ]  # fmt: skip
    return [
        Sample(
            f"q{i}",
            {"answer": a, "choices": options, "question_type_id": d, "dimension": f"dim{d}"},
            p,
        )
        for i, (d, a, p) in enumerate(rows)
    ]


def test_seed_accuracy_by_hand() -> None:
    result = SeedAccuracyMetric().score(_seed_samples())
    # all: 4 of 7; image (dimensions 1, 5): 2 of 4; video (10: 1 of 2, 12: 1 of 1): 2 of 3
    assert result.summary["accuracy"] == pytest.approx(100 * 4 / 7)
    assert result.summary["accuracy_image"] == pytest.approx(100 * 2 / 4)
    assert result.summary["accuracy_video"] == pytest.approx(100 * 2 / 3)
    # mean of the per-dimension accuracies 66.67, 0, 50, 100
    assert result.summary["dimension_mean"] == pytest.approx((200 / 3 + 0 + 50 + 100) / 4)
    assert result.groups["dimension"] == pytest.approx(
        {"1 dim1": 200 / 3, "5 dim5": 0.0, "10 dim10": 50.0, "12 dim12": 100.0}
    )
    assert [result.per_sample[f"q{i}"]["accuracy"] for i in range(7)] == [1, 1, 0, 0, 1, 0, 1]
    assert result.options["parser"] == "letter_or_text"


def test_seed_resampler_reproduces_every_key_on_unit_weights() -> None:
    samples = _seed_samples()
    result = SeedAccuracyMetric().score(samples)
    docs = [
        ScoredDoc(s.doc_id, s.fields, s.prediction, result.per_sample[s.doc_id]) for s in samples
    ]
    resampler = resampler_class("seed_accuracy")(docs, result.summary, result.options)
    values = resampler.statistics(np.ones((1, len(docs))))
    assert set(values) == set(result.summary)
    for key, value in result.summary.items():
        assert values[key][0] == pytest.approx(value), key
    intervals = metric_intervals("seed_accuracy", docs, result.summary, result.options)
    assert all(intervals[k]["low"] <= result.summary[k] <= intervals[k]["high"] for k in intervals)


def test_image_only_run_reports_no_video_accuracy() -> None:
    samples = [s for s in _seed_samples() if s.fields["question_type_id"] < 10]
    result = SeedAccuracyMetric().score(samples)
    assert "accuracy_video" not in result.summary
    assert result.summary["accuracy"] == result.summary["accuracy_image"] == 50.0
    assert {"exact_match", "seed_accuracy"} <= set(METRICS.names())

"""Tests for emu2_eval.scoring.metrics.vqa_accuracy (port of the official GT-Vision-Lab/VQA
accuracy)."""

from __future__ import annotations

import functools
import json
import operator
import random
from pathlib import Path

import numpy as np
import pytest

from emu2_eval.scoring.metrics.vqa_accuracy import (
    VQA_ACCURACY_VARIANTS,
    grouped_accuracy,
    normalize_answer,
    score_many,
    vqa_accuracy,
)

GOLDEN_PATH = Path(__file__).parent / "data" / "vqa_official_golden.json"


@pytest.fixture(scope="module")
def golden() -> dict:
    with GOLDEN_PATH.open(encoding="utf-8") as fh:
        return json.load(fh)


def _naive_loo(flags: list[bool]) -> float:
    """Leave-one-out credit mean, summed left to right like the official code (plain additions
    in order, not ``sum``, whose float rounding Python 3.12 changed)."""
    credits = [min(1.0, (sum(flags) - f) / 3) for f in flags]
    return functools.reduce(operator.add, credits, 0.0) / len(flags)


# --------------------------------------------------------------------------- golden (official)


def test_golden_header_names_source(golden: dict) -> None:
    header = golden["header"]
    assert header["source_repo"] == "https://github.com/GT-Vision-Lab/VQA"
    assert len(header["source_commit"]) == 40
    assert len(golden["cases"]) >= 200
    assert GOLDEN_PATH.stat().st_size < 200_000


@pytest.mark.parametrize(
    ("variant", "key"),
    [("official", "official_accuracy"), ("always_normalize", "always_normalize_accuracy")],
)
def test_golden_vqa_accuracy(golden: dict, variant: str, key: str) -> None:
    for case in golden["cases"]:
        got = vqa_accuracy(case["prediction"], case["answers"], variant)
        assert abs(got - case[key]) <= 1e-12, (case, got)
        # Same left-to-right summation as the official code, so even the last bit agrees.
        assert got == case[key], (case, got)


@pytest.mark.parametrize(
    ("variant", "key"),
    [("official", "official_accuracy"), ("always_normalize", "always_normalize_accuracy")],
)
def test_golden_score_many(golden: dict, variant: str, key: str) -> None:
    cases = golden["cases"]
    got = score_many([c["prediction"] for c in cases], [c["answers"] for c in cases], variant)
    want = np.array([c[key] for c in cases])
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert np.array_equal(got, want)


# ------------------------------------------------------------------------ protocol behaviour


def test_no_normalisation_when_all_answers_agree() -> None:
    assert vqa_accuracy("Yes", ["yes"] * 10) == 0.0
    assert vqa_accuracy("Yes", ["yes"] * 10, variant="always_normalize") == 1.0
    assert vqa_accuracy("yes.", ["yes"] * 10) == 0.0
    assert vqa_accuracy("two", ["2"] * 10) == 0.0
    assert vqa_accuracy("two", ["2"] * 10, variant="always_normalize") == 1.0
    # Whitespace cleaning always happens and is applied before the agreement test.
    assert vqa_accuracy(" yes\n", ["yes"] * 10) == 1.0
    assert vqa_accuracy("Yes", [" yes"] * 5 + ["yes\t"] * 5) == 0.0


def test_normalisation_when_answers_disagree() -> None:
    # One differing answer (even only in case) switches normalisation on for everything.
    assert vqa_accuracy("Yes", ["yes"] * 9 + ["Yes"]) == 1.0
    assert vqa_accuracy("two", ["2"] * 3 + ["3"] * 7) == pytest.approx(0.9, abs=1e-12)
    assert vqa_accuracy("Two!", ["two"] * 5 + ["2"] * 5) == 1.0
    assert vqa_accuracy("none", ["0"] * 4 + ["1"] * 6) == 1.0


def test_articles_are_dropped() -> None:
    assert normalize_answer("The dog") == "dog"
    assert normalize_answer("a cat and an apple") == "cat and apple"
    assert normalize_answer("the") == ""
    assert vqa_accuracy("the dog", ["dog"] * 2 + ["a dog"] * 2 + ["cat"] * 6) == 1.0


def test_number_words_and_contractions() -> None:
    assert normalize_answer("Ten") == "10"
    assert normalize_answer("none") == "0"
    assert normalize_answer("eleven") == "eleven"
    assert normalize_answer("dont") == "don't"
    assert normalize_answer("I dont know") == "i don't know"
    assert normalize_answer("whats") == "what's"
    # Official quirks kept: capitalised keys never match (text is lower-cased first) and
    # "somebody'd" maps to "somebodyd".
    assert normalize_answer("Im") == "im"
    assert normalize_answer("somebody'd") == "somebodyd"
    assert vqa_accuracy("dont", ["don't"] * 4 + ["no"] * 6) == 1.0


def test_period_strip_removes_at_most_32_periods() -> None:
    assert normalize_answer("yes.") == "yes"
    assert normalize_answer("3.") == "3"  # the official "look-behind" is really a no-op
    assert normalize_answer("3.5") == "3.5"
    assert normalize_answer(".5") == ".5"
    assert normalize_answer("x" + "." * 32) == "x"
    assert normalize_answer("x" + "." * 40) == "x" + "." * 8
    assert normalize_answer("x. " * 40) == " ".join(["x"] * 32 + ["x."] * 8)
    assert vqa_accuracy("x" + "." * 40, ["x"] * 5 + ["y"] * 5) == 0.0
    assert vqa_accuracy("x" + "." * 32, ["x"] * 5 + ["y"] * 5) == 1.0


def test_punctuation_rules_look_at_the_input_text() -> None:
    # A mark touching a space anywhere in the input is deleted everywhere ...
    assert normalize_answer("t - shirt") == "t shirt"
    assert normalize_answer("a-b c- d") == "ab c d"
    # ... otherwise it becomes a space.
    assert normalize_answer("t-shirt") == "t shirt"
    assert normalize_answer("black/white") == "black white"
    assert normalize_answer("(left)") == "left"
    # Apostrophes, colons, '#', '$', '%' ... are not in the official list.
    assert normalize_answer("10:30") == "10:30"
    assert normalize_answer("$5") == "$5"


def test_comma_between_digits_deletes_all_punctuation() -> None:
    assert normalize_answer("1,000") == "1000"
    assert normalize_answer("x,y") == "x y"
    # With a digit-comma-digit anywhere, every mark is deleted rather than spaced.
    assert normalize_answer("1,000 black/white") == "1000 blackwhite"
    assert normalize_answer("1,,2") == "1 2"  # the official needs exactly one comma
    assert vqa_accuracy("1000", ["1,000"] * 5 + ["1000!"] * 5) == 1.0


@pytest.mark.parametrize(
    ("n_match", "expected"),
    [(0, 0.0), (1, 0.3), (2, 0.6), (3, 0.9), (4, 1.0), (5, 1.0), (9, 1.0), (10, 1.0)],
)
def test_leave_one_out(n_match: int, expected: float) -> None:
    # n matching answers: they each see n-1 matches, the others see n; credit min(1, k/3).
    answers = ["cat"] * n_match + ["dog"] * (10 - n_match)
    closed_form = n_match * min(1, (n_match - 1) / 3) + (10 - n_match) * min(1, n_match / 3)
    assert vqa_accuracy("cat", answers) == pytest.approx(expected, abs=1e-12)
    assert vqa_accuracy("cat", answers) == pytest.approx(max(0.0, closed_form) / 10, abs=1e-12)


def test_summation_order_matches_official_bit_for_bit() -> None:
    # The official sums credits in answer order, so the last bit depends on match positions.
    orders = (["a", "a"] + ["b"] * 8, ["b"] * 8 + ["a", "a"], ["b", "a", "b", "a"] + ["b"] * 6)
    for answers in orders:
        flags = [a == "a" for a in answers]
        assert vqa_accuracy("a", answers) == _naive_loo(flags)
        assert score_many(["a"], [answers])[0] == _naive_loo(flags)
    values = {vqa_accuracy("a", p) for p in (["a", "a"] + ["b"] * 8, ["b"] * 8 + ["a", "a"])}
    assert all(abs(v - 0.6) <= 1e-15 for v in values)


def test_other_answer_counts() -> None:
    assert vqa_accuracy("yes", ["yes"]) == 0.0  # nothing is left after leaving one out
    assert vqa_accuracy("yes", ["yes", "no"]) == pytest.approx(1 / 6)
    assert vqa_accuracy("yes", ["yes", "yes", "no"]) == pytest.approx((1 / 3 + 1 / 3 + 2 / 3) / 3)


def test_errors() -> None:
    with pytest.raises(ValueError, match=r"official.*always_normalize"):
        vqa_accuracy("yes", ["yes"], variant="lenient")
    with pytest.raises(ValueError, match="official"):
        score_many(["yes"], [["yes"]], variant="lenient")
    with pytest.raises(ValueError):
        vqa_accuracy("yes", [])
    with pytest.raises(ValueError):
        score_many(["yes", "no"], [["yes"], []])
    with pytest.raises(ValueError):
        score_many(["yes"], [["yes"], ["no"]])
    with pytest.raises(TypeError):
        vqa_accuracy("yes", "yes")
    assert VQA_ACCURACY_VARIANTS == ("official", "always_normalize", "emu_lavis", "okvqa_stemmed")


def test_normalize_answer_is_memoised() -> None:
    normalize_answer("memo test, Two")
    before = normalize_answer.cache_info().hits
    assert normalize_answer("memo test, Two") == "memo test 2"
    assert normalize_answer.cache_info().hits == before + 1


# -------------------------------------------------------------- score_many == per-item scoring

_ATOMS = [
    "yes", "Yes", "no", "NO!", "2", "two", "Two", "none", "0", "10", "ten", "a dog", "the dog",
    "dog", "dont", "don't", "1,000", "1000", "3.", "3.5", "t-shirt", "t - shirt", "red/white",
    "(left)", " yes", "yes\t", "yes\nno", "", "a", "x. " * 35, "wow" + "." * 40, "it's",
]  # fmt: skip


def _random_case(rng: random.Random) -> tuple[str, list[str]]:
    n = 10 if rng.random() < 0.85 else rng.choice([1, 2, 3, 5, 7, 12])
    pool = rng.sample(_ATOMS, rng.randint(1, 4))
    answers = [rng.choice(pool) for _ in range(n)]
    pred = rng.choice(answers) if rng.random() < 0.6 else rng.choice(_ATOMS)
    if rng.random() < 0.3:
        pred = rng.choice([pred.upper(), pred + ".", "the " + pred, pred + "!", f" {pred}\n"])
    return pred, answers


@pytest.mark.parametrize("variant", VQA_ACCURACY_VARIANTS)
def test_score_many_matches_per_item(variant: str) -> None:
    rng = random.Random(1234)
    cases = [_random_case(rng) for _ in range(3000)]
    preds = [p for p, _ in cases]
    answers = [a for _, a in cases]
    got = score_many(preds, answers, variant)
    want = np.array([vqa_accuracy(p, a, variant) for p, a in cases])
    assert got.dtype == np.float64
    assert np.array_equal(got, want)
    assert ((got >= 0) & (got <= 1)).all()
    assert len(set(got.tolist())) > 10  # the random set exercises many score values


def test_score_many_accepts_tuples_and_empty_input() -> None:
    assert score_many([], []).shape == (0,)
    got = score_many(("two", "Yes"), (("2", "2", "3"), ("yes",) * 10))
    assert np.array_equal(got, [vqa_accuracy("two", ["2", "2", "3"]), 0.0])


# ------------------------------------------------------------------------- grouped accuracy


def test_grouped_accuracy() -> None:
    scores = np.array([1.0, 0.0, 0.3, 0.6, 1.0])
    groups = ["yes/no", "number", "yes/no", "other", "number"]
    result = grouped_accuracy(scores, groups)
    assert list(result) == ["yes/no", "number", "other"]  # first-appearance order
    assert result["yes/no"] == pytest.approx(0.65)
    assert result["number"] == pytest.approx(0.5)
    assert result["other"] == pytest.approx(0.6)
    assert all(0.0 <= v <= 1.0 for v in result.values())
    assert grouped_accuracy([], []) == {}
    with pytest.raises(ValueError):
        grouped_accuracy([1.0, 0.0], ["a"])


# ------------------------------------------------ golden (the Emu team's LAVIS / OK-VQA scorers)

EMU_GOLDEN_PATH = Path(__file__).parent / "data" / "vqa_emu_lavis_golden.json"
EMU_VARIANTS = [("emu_lavis", "emu_lavis_accuracy"), ("okvqa_stemmed", "okvqa_stemmed_accuracy")]


@pytest.fixture(scope="module")
def emu_golden() -> dict:
    with EMU_GOLDEN_PATH.open(encoding="utf-8") as fh:
        return json.load(fh)


def test_emu_golden_header_names_source(emu_golden: dict) -> None:
    header = emu_golden["header"]
    assert header["source_repo"] == "https://github.com/baaivision/Emu"
    assert header["source_commit"] == "13c395e4a70ca78d87dd2a4e7987ce0a13c7e649"
    assert header["source_file"] == "Emu1/mm_eval/datasets/vqa_tools/vqa_eval.py"
    assert header["nltk"]
    assert len(emu_golden["cases"]) >= 350


@pytest.mark.parametrize(("variant", "key"), EMU_VARIANTS)
def test_emu_golden_vqa_accuracy(emu_golden: dict, variant: str, key: str) -> None:
    for case in emu_golden["cases"]:
        got = vqa_accuracy(case["prediction"], case["answers"], variant)
        assert got == case[key], (case, got)


@pytest.mark.parametrize(("variant", "key"), EMU_VARIANTS)
def test_emu_golden_score_many(emu_golden: dict, variant: str, key: str) -> None:
    cases = emu_golden["cases"]
    got = score_many([c["prediction"] for c in cases], [c["answers"] for c in cases], variant)
    assert np.array_equal(got, np.array([c[key] for c in cases]))


def test_emu_golden_cases_separate_the_variants(emu_golden: dict) -> None:
    """The golden cases are not all alike: each Emu variant differs from the official scorer
    and from the other on many of them (so the tests above would catch a mixed-up variant)."""
    cases = emu_golden["cases"]
    official = [vqa_accuracy(c["prediction"], c["answers"]) for c in cases]
    lavis = [c["emu_lavis_accuracy"] for c in cases]
    stemmed = [c["okvqa_stemmed_accuracy"] for c in cases]
    assert sum(a != b for a, b in zip(official, lavis, strict=True)) >= 20
    assert sum(a != b for a, b in zip(lavis, stemmed, strict=True)) >= 20


def test_emu_lavis_keeps_answers_raw() -> None:
    # answers never lower-cased, number words kept: a normalised prediction cannot meet them
    assert vqa_accuracy("yes", ["Yes"] * 10, "emu_lavis") == 0.0
    assert vqa_accuracy("two", ["two"] * 10, "emu_lavis") == 0.0
    assert vqa_accuracy("two", ["2"] * 10, "emu_lavis") == 1.0
    assert vqa_accuracy("two", ["two"] * 10, "official") == 1.0
    # raw agreement test: a leading space makes the answers disagree, then only punctuation
    assert vqa_accuracy("yes", [" yes"] * 10, "emu_lavis") == 0.0


def test_okvqa_stemmed_stems_the_whole_string() -> None:
    assert vqa_accuracy("dogs", ["dog", "dog", "dog", "dogs"], "okvqa_stemmed") == 1.0
    assert vqa_accuracy("dogs", ["dog", "dog", "dog", "dogs"], "emu_lavis") == 0.25
    assert vqa_accuracy("red cars", ["red car"] * 3 + ["cars"], "okvqa_stemmed") == 0.75
    # answers that agree are left raw, the prediction is stemmed: "dogs" -> "dog" != "dogs"
    assert vqa_accuracy("dogs", ["dogs"] * 10, "okvqa_stemmed") == 0.0


def test_metric_records_the_variant() -> None:
    from emu2_eval.scoring.metrics.base import Sample
    from emu2_eval.scoring.metrics.task_metrics import VQAAccuracyMetric

    samples = [Sample("1", {"answers": ["dog", "dog", "dog", "dogs"]}, "dogs")]
    result = VQAAccuracyMetric(variant="okvqa_stemmed").score(samples)
    assert result.options == {"variant": "okvqa_stemmed"}
    assert result.summary["vqa_accuracy"] == 100.0
    assert VQAAccuracyMetric(variant="emu_lavis").score(samples).summary["vqa_accuracy"] == 25.0

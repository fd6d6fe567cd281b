"""ROC-AUC: rank formula vs brute-force pair counts and sklearn; the metric on log-likelihoods."""

from __future__ import annotations

import math

import numpy as np
import pytest

from emu2_eval.core.registry import METRICS
from emu2_eval.scoring.metrics.base import Sample
from emu2_eval.scoring.metrics.roc_auc import RocAucMetric, candidate_log_odds, roc_auc


def brute_force_auc(scores: list[float], labels: list[int]) -> float:
    """Count positive-negative pairs ranked right, ties half: the definition, O(n^2)."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y == 1]
    neg = [s for s, y in zip(scores, labels, strict=True) if y == 0]
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def random_case(seed: int, n: int, distinct: int | None) -> tuple[list[float], list[int]]:
    """Scores with many ties when ``distinct`` is small; both classes guaranteed."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=n)
    labels[:2] = (0, 1)
    if distinct is None:
        scores = rng.normal(size=n) + 0.7 * labels
    else:
        scores = rng.integers(0, distinct, size=n) + (labels * rng.integers(0, 2, size=n))
    return [float(s) for s in scores], [int(y) for y in labels]


CASES = [(seed, n, d) for seed in range(4) for n, d in ((7, 2), (50, 3), (300, 10), (300, None))]


@pytest.mark.parametrize(("seed", "n", "distinct"), CASES)
def test_matches_brute_force_pair_count(seed: int, n: int, distinct: int | None) -> None:
    scores, labels = random_case(seed, n, distinct)
    assert roc_auc(scores, labels) == pytest.approx(brute_force_auc(scores, labels), abs=1e-12)


@pytest.mark.parametrize(("seed", "n", "distinct"), CASES)
def test_matches_sklearn_roc_auc_score(seed: int, n: int, distinct: int | None) -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    scores, labels = random_case(seed, n, distinct)
    assert roc_auc(scores, labels) == pytest.approx(
        metrics.roc_auc_score(labels, scores), abs=1e-12
    )


def test_known_values() -> None:
    assert roc_auc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1.0
    assert roc_auc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]) == 0.0
    assert roc_auc([3.0, 3.0, 3.0], [0, 1, 1]) == 0.5
    assert roc_auc([0.0, 1.0, 1.0, 2.0], [0, 1, 0, 1]) == pytest.approx(0.875)
    assert roc_auc([-math.inf, math.inf], [0, 1]) == 1.0


def test_large_input_is_fast_and_bounded() -> None:
    """200,000 tied scores: linear memory (a pairwise comparison would need 10^10 cells) and a
    fraction of a second (bounded at 10 s: a quadratic loop would take hours), exact value."""
    import time
    import tracemalloc

    scores, labels = random_case(0, 200_000, 50)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        value = roc_auc(scores, labels)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert seconds < 10.0
    assert peak < 64 * 2**20  # bytes: a few arrays of 200,000 float64 values
    assert 0.5 < value < 1.0
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    assert value == pytest.approx(sklearn_metrics.roc_auc_score(labels, scores), abs=1e-12)


@pytest.mark.parametrize(
    ("scores", "labels", "message"),
    [
        ([0.1, 0.2], [1, 1], "needs both classes; all 2 labels are positive"),
        ([0.1, 0.2], [0, 0], "needs both classes; all 2 labels are negative"),
        ([0.1, 0.2, 0.3], [0, 1], "equally long"),
        ([0.1, float("nan")], [0, 1], "NaN"),
        ([0.1, 0.2], [0, 2], "labels must be 0 or 1"),
    ],
)
def test_invalid_input_is_a_clear_error(scores, labels, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        roc_auc(scores, labels)


def test_candidate_log_odds() -> None:
    assert candidate_log_odds([-1.0, -3.0], 0) == pytest.approx(2.0)
    assert candidate_log_odds([-1.0, -3.0], 1) == pytest.approx(-2.0)
    assert candidate_log_odds([-1.0, -2.0, -3.0], 0) == pytest.approx(
        -1.0 - np.logaddexp(-2.0, -3.0)
    )
    # Tiny probabilities: log space keeps the ratio exact where exp() would underflow.
    assert candidate_log_odds([-2000.0, -2001.0], 0) == pytest.approx(1.0)
    assert candidate_log_odds([-1.0, -math.inf], 0) == math.inf


def _samples(loglikelihoods: list[list[float]], labels: list[int | None]) -> list[Sample]:
    return [
        Sample(doc_id=str(i), fields={} if y is None else {"label": y}, prediction=ll)  # type: ignore[arg-type]
        for i, (ll, y) in enumerate(zip(loglikelihoods, labels, strict=True))
    ]


def test_metric_scores_log_odds_in_percent() -> None:
    loglikelihoods = [[-0.5, -2.0], [-1.0, -0.7], [-3.0, -0.1], [-0.2, -0.9], [-1.0, -1.0]]
    labels = [1, 0, 0, 1, 1]
    metric = METRICS.get("roc_auc")()
    result = metric.score(_samples(loglikelihoods, labels))
    expected_scores = [y - n for y, n in loglikelihoods]
    assert result.summary["roc_auc"] == pytest.approx(
        100 * brute_force_auc(expected_scores, labels)
    )
    assert result.summary["roc_auc"] == pytest.approx(100.0)
    assert result.units == {"roc_auc": "percent"}
    assert result.options["positive"] == 0
    for i, score in enumerate(expected_scores):
        assert result.per_sample[str(i)]["score"] == pytest.approx(score)


def test_positive_option_flips_the_ranking() -> None:
    scores, labels = random_case(3, 40, None)
    loglikelihoods = [[s / 2, -s / 2] for s in scores]
    yes = RocAucMetric(positive=0).score(_samples(loglikelihoods, labels)).summary["roc_auc"]
    no = RocAucMetric(positive=1).score(_samples(loglikelihoods, labels)).summary["roc_auc"]
    assert yes == pytest.approx(100 * roc_auc(scores, labels))
    assert yes + no == pytest.approx(100.0)


def test_metric_errors_name_the_doc() -> None:
    with pytest.raises(ValueError, match="doc 1 has no label"):
        RocAucMetric().score(_samples([[-1.0, -2.0], [-1.0, -2.0]], [0, None]))
    with pytest.raises(ValueError, match="doc 0 has label 'yes', not 0/1"):
        RocAucMetric().score(_samples([[-1.0, -2.0]], ["yes"]))  # type: ignore[list-item]
    with pytest.raises(ValueError, match="doc 0 prediction must be the log-likelihoods"):
        RocAucMetric().score([Sample("0", {"label": 1}, "yes")])
    with pytest.raises(ValueError, match="positive=2 but doc 0 has only 2"):
        RocAucMetric(positive=2).score(_samples([[-1.0, -2.0]], [1]))
    with pytest.raises(ValueError, match="needs both classes"):
        RocAucMetric().score(_samples([[-1.0, -2.0], [-2.0, -1.0]], [1, 1]))
    with pytest.raises(ValueError, match="non-negative index"):
        RocAucMetric(positive=-1)
    assert RocAucMetric().score([]).summary == {}


def test_tiny_model_loglikelihoods_score_on_demo_memes(tiny_adapter, demo_dir) -> None:
    """The demo Hateful Memes task runs through a real adapter and scores (random model)."""
    from emu2_eval.tasks.registry import get_task

    task = get_task("demo_hateful_memes")
    all_docs = task.load().docs
    docs = [d for d in all_docs if d["label"] == 1][:3] + [d for d in all_docs if d["label"] == 0][
        :3
    ]
    requests = [task.build_request(doc) for doc in docs]
    responses = tiny_adapter.run("loglikelihood", requests)
    assert all(len(r) == 2 and all(math.isfinite(v) for v in r) for r in responses)
    samples = [
        Sample(doc.doc_id, {"label": doc["label"]}, r)  # type: ignore[arg-type]
        for doc, r in zip(docs, responses, strict=True)
    ]
    assert 0.0 <= RocAucMetric().score(samples).summary["roc_auc"] <= 100.0

"""Bootstrap intervals: coverage and width of a mean, reproducible AUC, exact corpus metrics."""

from __future__ import annotations

import random
import shutil
from typing import ClassVar

import numpy as np
import pytest

from emu2_eval.scoring.metrics.roc_auc import roc_auc
from emu2_eval.scoring.stats import bootstrap
from emu2_eval.scoring.stats.bootstrap import (
    distribution,
    percentile_interval,
    resample_weights,
    two_sided_p_value,
)
from emu2_eval.scoring.stats.resamplers import (
    RocAucResampler,
    ScoredDoc,
    VQAAccuracyResampler,
    higher_is_better,
    resampler_class,
)
from emu2_eval.scoring.stats.settings import BootstrapSettings


def vqa_docs(values) -> list[ScoredDoc]:
    return [ScoredDoc(str(i), {}, "x", {"vqa_accuracy": float(v)}) for i, v in enumerate(values)]


def auc_docs(scores, labels) -> list[ScoredDoc]:
    return [
        ScoredDoc(str(i), {"label": int(y)}, [0.0, 0.0], {"score": float(s)})
        for i, (s, y) in enumerate(zip(scores, labels, strict=True))
    ]


def test_mean_interval_matches_the_normal_approximation() -> None:
    """On 2000 Bernoulli(0.3) draws the percentile interval is the analytic one within 10%."""
    rng = np.random.default_rng(123)
    values = (rng.random(2000) < 0.3).astype(float)
    resampler = VQAAccuracyResampler(vqa_docs(values), {"vqa_accuracy": 100 * values.mean()}, {})
    settings = BootstrapSettings(resamples=4000, seed=7)
    interval = percentile_interval(distribution(resampler, settings)["vqa_accuracy"], 0.95)
    mean = 100 * values.mean()
    half = 1.959964 * 100 * values.std(ddof=1) / np.sqrt(values.size)
    assert interval.low <= mean - half * 0.9 and interval.high >= mean + half * 0.9  # covers
    assert interval.high - interval.low == pytest.approx(2 * half, rel=0.08)  # right width
    assert interval.low == pytest.approx(mean - half, abs=0.1 * half)
    assert interval.high == pytest.approx(mean + half, abs=0.1 * half)


def test_resamples_do_not_depend_on_the_chunk_size(monkeypatch) -> None:
    whole = np.concatenate(list(resample_weights(50, 40, seed=3)))
    monkeypatch.setattr(bootstrap, "CHUNK_ELEMENTS", 120)  # 2 resamples per chunk
    chunked = list(resample_weights(50, 40, seed=3))
    assert len(chunked) == 20
    np.testing.assert_array_equal(whole, np.concatenate(chunked))
    assert (whole.sum(axis=1) == 50).all()


def test_auc_bootstrap_is_reproducible_with_the_seed() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)
    scores = np.round(rng.normal(labels * 0.8, 1.0), 1)  # rounding makes ties
    resampler = RocAucResampler(auc_docs(scores, labels), {"roc_auc": 0.0}, {})
    first = distribution(resampler, BootstrapSettings(resamples=300, seed=11))["roc_auc"]
    again = distribution(resampler, BootstrapSettings(resamples=300, seed=11))["roc_auc"]
    other = distribution(resampler, BootstrapSettings(resamples=300, seed=12))["roc_auc"]
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    full = resampler.statistics(np.ones((1, 300)))["roc_auc"][0]
    assert full == pytest.approx(100 * roc_auc(scores, labels), abs=1e-9)


def test_weighted_auc_equals_auc_of_the_duplicated_sample() -> None:
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 2, 40)
    scores = np.round(rng.normal(labels, 1.0), 1)
    resampler = RocAucResampler(auc_docs(scores, labels), {"roc_auc": 0.0}, {})
    weights = next(resample_weights(40, 5, seed=9))
    values = resampler.statistics(weights)["roc_auc"]
    for row, value in zip(weights, values, strict=True):
        index = np.repeat(np.arange(40), row.astype(int))
        assert value == pytest.approx(100 * roc_auc(scores[index], labels[index]), abs=1e-9)


def test_auc_resample_with_one_class_is_counted_invalid() -> None:
    resampler = RocAucResampler(auc_docs([0.1, 0.2, 0.3], [1, 0, 1]), {"roc_auc": 0.0}, {})
    weights = np.array([[3.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    values = resampler.statistics(weights)["roc_auc"]
    assert np.isnan(values[0]) and values[1] == pytest.approx(50.0)
    interval = percentile_interval(values, 0.95)
    assert interval.valid == 1 and interval.invalid == 1


def test_p_value_of_identical_distributions_is_one() -> None:
    assert two_sided_p_value(np.zeros(1000)) == 1.0
    assert two_sided_p_value(np.full(999, 2.0)) == pytest.approx(2 / 1000)
    assert two_sided_p_value([np.nan]) is None


def _sentences(seed: int, n: int) -> tuple[list[str], list[list[str]]]:
    rng = random.Random(seed)
    words = "a red blue square circle on the light dark background picture of two".split()

    def sentence() -> str:
        return " ".join(rng.choice(words) for _ in range(rng.randint(1, 9)))

    refs = [[sentence() for _ in range(rng.randint(1, 5))] for _ in range(n)]
    hyps = [sentence() if i % 7 else "" for i in range(n)]
    for i in range(0, n, 3):
        hyps[i] = refs[i][0]  # some exact matches, so that every n-gram order scores
    return hyps, refs


def test_cider_matches_pycocoevalcap_on_every_resample() -> None:
    """CIDEr-D with df recomputed = pycocoevalcap on the corpus with the drawn copies."""
    from pycocoevalcap.cider.cider import Cider

    from emu2_eval.scoring.stats.cider import CiderD

    hyps, refs = _sentences(1, 30)
    cider = CiderD(hyps, refs)
    corpus, per_image = Cider().compute_score(
        {i: refs[i] for i in range(30)}, {i: [hyps[i]] for i in range(30)}
    )
    np.testing.assert_allclose(cider.image_scores(np.ones((1, 30)))[0], per_image, atol=1e-12)
    assert cider.corpus(np.ones((1, 30)))[0] == pytest.approx(corpus, abs=1e-12)
    weights = next(resample_weights(30, 4, seed=2))
    values = cider.corpus(weights)
    for row, value in zip(weights, values, strict=True):
        index = np.repeat(np.arange(30), row.astype(int))
        gts = {k: refs[i] for k, i in enumerate(index)}
        res = {k: [hyps[i]] for k, i in enumerate(index)}
        assert value == pytest.approx(Cider().compute_score(gts, res)[0], abs=1e-12)


def test_bleu_totals_match_pycocoevalcap_on_every_resample() -> None:
    from pycocoevalcap.bleu.bleu import Bleu

    from emu2_eval.scoring.stats.caption import BleuTotals

    hyps, refs = _sentences(2, 25)
    totals = BleuTotals(hyps, refs)
    weights = np.vstack([np.ones(25), *resample_weights(25, 3, seed=4)])
    values = totals.corpus(weights)
    for b, row in enumerate(weights):
        index = np.repeat(np.arange(25), row.astype(int))
        gts = {k: refs[i] for k, i in enumerate(index)}
        res = {k: [hyps[i]] for k, i in enumerate(index)}
        expected, _ = Bleu(4).compute_score(gts, res, verbose=0)
        for k in range(4):
            assert values[k][b] == pytest.approx(expected[k], rel=1e-12, abs=1e-15)


@pytest.mark.skipif(shutil.which("java") is None, reason="pycocoevalcap's tokenizer needs java")
def test_caption_resampler_reproduces_the_metric_and_names_its_approximation() -> None:
    from emu2_eval.scoring.metrics.caption_metrics import caption_metrics_detailed
    from emu2_eval.scoring.stats.caption import CaptionResampler

    hyps, refs = _sentences(3, 12)
    hyps = [h.capitalize() + "." for h in hyps]  # the tokenizer lower-cases, drops the '.'
    predictions = {str(i): h for i, h in enumerate(hyps)}
    references = {str(i): r for i, r in enumerate(refs)}
    corpus, per_image = caption_metrics_detailed(predictions, references, spice=False)
    docs = [
        ScoredDoc(str(i), {"references": refs[i]}, hyps[i], per_image[str(i)]) for i in range(12)
    ]
    summary = {k: 100 * v for k, v in corpus.items()}
    resampler = CaptionResampler(docs, summary, {"scale": 100})
    full = resampler.statistics(np.ones((1, 12)))
    for key, value in summary.items():
        assert full[key][0] == pytest.approx(value, abs=1e-9), key
    methods = resampler.methods()
    assert methods["METEOR"].startswith("approximation")
    assert "corpus statistics fixed" in methods["METEOR"]
    assert not methods["CIDEr"].startswith("approximation")


def test_scoring_records_the_default_settings(demo_dir) -> None:
    from emu2_eval.engine.scoring import score_records
    from emu2_eval.tasks.registry import get_task

    config = get_task("demo_vqa").config
    records = [
        {"doc_id": str(i), "doc": {"answers": ["yes"] * 10}, "response": r, "error": None}
        for i, r in enumerate(["yes", "no", "yes", "yes"])
    ]
    block = score_records(config, records)
    interval = block["intervals"]["vqa_accuracy"]
    assert (interval["resamples"], interval["seed"], interval["confidence"]) == (1000, 0, 0.95)
    assert interval["interval"] == "percentile" and interval["higher_is_better"] is True
    assert interval["low"] <= block["metrics"]["vqa_accuracy"] <= interval["high"]


def test_direction_and_resampler_come_from_the_metric_class(monkeypatch) -> None:
    from emu2_eval.core.registry import METRICS
    from emu2_eval.scoring.metrics.base import Metric

    class ToyFid(Metric):
        name = "toy_fid"
        higher_is_better: ClassVar[dict[str, bool]] = {"FID": False, "KID": False}
        resampler = VQAAccuracyResampler

    monkeypatch.setitem(METRICS._loaded, "toy_fid", ToyFid)
    assert higher_is_better("toy_fid", "FID") is False
    assert higher_is_better("toy_fid", "IS") is True
    assert higher_is_better("vqa_accuracy", "vqa_accuracy") is True
    assert resampler_class("toy_fid") is VQAAccuracyResampler
    assert resampler_class("roc_auc") is RocAucResampler


def test_every_built_in_metric_class_declares_its_resampler(monkeypatch) -> None:
    """One mechanism: the class attribute (no table by name); a plugin metric that declares
    nothing has no resampler (its interval entry says why) and is higher-is-better."""
    from emu2_eval.core.registry import METRICS
    from emu2_eval.scoring.metrics.base import Metric
    from emu2_eval.scoring.stats.intervals import metric_intervals

    declared = {name: METRICS.get(name).resampler for name in METRICS.names()}
    assert declared["roc_auc"] is RocAucResampler
    assert declared["caption_metrics"].__name__ == "CaptionResampler"
    assert declared["fid"] is None and declared["gpt_judge"] is None
    for name, cls in declared.items():
        assert issubclass(METRICS.get(name), Metric) and resampler_class(name) is cls

    class PlainPlugin:  # a plugin metric that is no Metric subclass
        name = "plain_plugin"

    monkeypatch.setitem(METRICS._loaded, "plain_plugin", PlainPlugin)
    assert resampler_class("plain_plugin") is None
    assert higher_is_better("plain_plugin", "score") is True
    entry = metric_intervals("plain_plugin", vqa_docs(np.ones(3)), {"score": 1.0}, {})["score"]
    assert entry["low"] is None and "has no resampler" in entry["method"]


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="--resamples"):
        BootstrapSettings(resamples=0)
    with pytest.raises(ValueError, match="--confidence"):
        BootstrapSettings(confidence=1.5)

"""``baseline`` and ``check``: regressions fail, noise passes, other documents are refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import pytest
from click.testing import CliRunner

from emu2_eval.analysis.gate import check_run, make_baseline
from emu2_eval.cli import main
from emu2_eval.rundir.read import load_run
from emu2_eval.scoring.stats.settings import BootstrapSettings
from tests.test_compare import write_run

REPO = Path(__file__).resolve().parents[1]
SCORES = [i / 10 - 2 for i in range(40)]  # log-odds; labels alternate, so AUC is near 50


def _values(correct: int, n: int = 60) -> list[float]:
    return [1.0 if i % 60 < correct else 0.0 for i in range(n)]


def _baseline(tmp_path: Path, run: Path, *extra: str) -> Path:
    path = tmp_path / "baselines" / "toy.json"
    result = CliRunner().invoke(
        main, ["baseline", str(run), "--output", str(path), "--resamples", "300", *extra]
    )
    assert result.exit_code == 0, result.output
    return path


def _check(run: Path, baseline: Path):
    return CliRunner().invoke(main, ["check", str(run), "--baseline", str(baseline)])


def test_baseline_records_values_intervals_tolerances_and_documents(tmp_path) -> None:
    run = write_run(tmp_path / "run", _values(30), auc_scores=SCORES, limit=60)
    data = json.loads(_baseline(tmp_path, run, "--floor", "0.5").read_text())
    assert data["limit"] == 60 and data["model"]["fingerprint"] == "f" * 64
    assert data["tolerance"]["rule"].startswith("max(half-width")
    assert data["tolerance"]["resamples"] == 300 and data["tolerance"]["floor"] == 0.5
    task = data["tasks"]["toy_vqa"]
    assert task["doc_ids"][:2] == ["q0", "q1"] and len(task["doc_ids_sha256"]) == 64
    assert task["dataset_fingerprint"] == "d" * 64
    metric = task["metrics"]["vqa_accuracy"]
    assert metric["value"] == pytest.approx(50.0)
    assert metric["low"] < 50.0 < metric["high"]
    assert metric["tolerance"] == pytest.approx((metric["high"] - metric["low"]) / 2)
    assert metric["tolerance_from"] == "half-width" and metric["higher_is_better"] is True


def test_check_fails_on_a_regression_and_passes_on_noise(tmp_path) -> None:
    baseline = _baseline(tmp_path, write_run(tmp_path / "base", _values(30), auc_scores=SCORES))
    same = _check(write_run(tmp_path / "same", _values(30), auc_scores=SCORES), baseline)
    assert same.exit_code == 0, same.output
    assert "**FAIL**" not in same.output and "0 failed" in same.output
    noisy = _check(write_run(tmp_path / "noise", _values(28), auc_scores=SCORES), baseline)
    assert noisy.exit_code == 0, noisy.output  # 46.7 vs 50 +- ~12: within tolerance
    worse = _check(write_run(tmp_path / "worse", _values(10), auc_scores=SCORES), baseline)
    assert worse.exit_code == 1, worse.output
    assert "| toy_vqa | vqa_accuracy |" in worse.output and "**FAIL**" in worse.output
    assert "below baseline - tol" in worse.output


def test_check_fails_on_missing_metrics_tasks_and_new_errors(tmp_path) -> None:
    baseline = _baseline(tmp_path, write_run(tmp_path / "base", _values(30), auc_scores=SCORES))
    run = write_run(tmp_path / "run", _values(30), auc_scores=SCORES)
    results = json.loads((run / "results.json").read_text())
    del results["tasks"]["toy_memes"]["metrics"]["roc_auc"]
    (run / "results.json").write_text(json.dumps(results))
    result = _check(run, baseline)
    assert result.exit_code == 1 and "metric missing from the run" in result.output
    del results["tasks"]["toy_memes"]
    (run / "results.json").write_text(json.dumps(results))
    result = _check(run, baseline)
    assert result.exit_code == 1 and "task missing from the run" in result.output
    errors = _check(write_run(tmp_path / "err", _values(30), auc_scores=SCORES, errors=1), baseline)
    assert errors.exit_code == 1 and "more errored samples" in errors.output


def test_check_refuses_runs_on_other_documents(tmp_path) -> None:
    baseline = _baseline(tmp_path, write_run(tmp_path / "base", _values(30), limit=60))
    fewer = _check(write_run(tmp_path / "fewer", _values(30, n=50), limit=50), baseline)
    assert fewer.exit_code == 2
    assert "refusing to check" in fewer.output and "--limit is 50" in fewer.output
    assert "missing ['q50'" in fewer.output
    run = write_run(tmp_path / "other", _values(30), limit=60)
    results = json.loads((run / "results.json").read_text())
    results["tasks"]["toy_vqa"]["dataset"]["fingerprint"] = "e" * 64
    (run / "results.json").write_text(json.dumps(results))
    other = _check(run, baseline)
    assert other.exit_code == 2 and "dataset fingerprint" in other.output
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert _check(run, bad).exit_code == 2


def test_direction_comes_from_the_metric_class(tmp_path, monkeypatch) -> None:
    """A lower-is-better metric (FID-like) fails when it rises, passes when it falls."""
    from emu2_eval.core.registry import METRICS
    from emu2_eval.scoring.metrics.base import Metric
    from emu2_eval.scoring.stats.resamplers import VQAAccuracyResampler

    class ToyDistance(Metric):
        name = "toy_distance"
        higher_is_better: ClassVar[bool] = False
        resampler = VQAAccuracyResampler

    monkeypatch.setitem(METRICS._loaded, "toy_distance", ToyDistance)

    def run_with(path: Path, correct: int) -> Path:
        run = write_run(path, _values(correct))
        results = json.loads((run / "results.json").read_text())
        block = results["tasks"]["toy_vqa"]
        block["metric_options"] = {"toy_distance": {}}
        (run / "results.json").write_text(json.dumps(results))
        return run

    base = make_baseline(load_run(run_with(tmp_path / "b", 30)), BootstrapSettings(resamples=200))
    assert base["tasks"]["toy_vqa"]["metrics"]["vqa_accuracy"]["higher_is_better"] is False
    higher = check_run(load_run(run_with(tmp_path / "hi", 55)), base)
    lower = check_run(load_run(run_with(tmp_path / "lo", 5)), base)
    assert [r.status for r in higher if r.metric == "vqa_accuracy"] == ["FAIL"]
    assert [r.status for r in lower if r.metric == "vqa_accuracy"] == ["PASS"]
    assert higher[0].direction == "lower is better"


def test_project_gate_baseline_is_consistent() -> None:
    """The committed demo baseline covers the gate's tasks on 24 documents each."""
    data = json.loads((REPO / "results" / "baselines" / "demo_tiny_vlm.json").read_text())
    assert data["format"] == "emu2_eval.baseline/1" and data["limit"] == 24
    assert set(data["tasks"]) == {"demo_vqa", "demo_caption", "demo_hateful_memes"}
    for task in data["tasks"].values():
        assert task["n_docs"] == 24 and len(task["doc_ids"]) == 24
        for metric in task["metrics"].values():
            assert metric["tolerance"] >= data["tolerance"]["floor"]
    assert "gate:" in (REPO / "Makefile").read_text()

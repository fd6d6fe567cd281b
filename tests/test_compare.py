"""``emu2-eval compare``: paired differences, settings that differ, changed samples."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from emu2_eval.analysis.compare import compare_runs
from emu2_eval.cli import main
from emu2_eval.rundir.read import load_run
from emu2_eval.scoring.stats.settings import BootstrapSettings

BASE_RESULTS: dict[str, Any] = {
    "model": {"name": "toy", "args": {}, "fingerprint": "f" * 64},
    "run": {"limit": None, "batch_size": 1},
    "manifest": {
        "created": "2026-01-01T00:00:00Z",
        "command": ["emu2-eval", "run"],
        "seed": 0,
        "packages": {"torch": "2.13.0", "transformers": "5.0.0"},
        "git": {"commit": "abc", "dirty": False},
        "device": {"platform": "linux"},
    },
}


def write_run(
    path: Path,
    vqa: list[float],
    auc_scores: list[float] | None = None,
    auc_labels: list[int] | None = None,
    errors: int = 0,
    packages: dict[str, str] | None = None,
    limit: int | None = None,
) -> Path:
    """A run directory as `emu2-eval run` writes it, with a VQA task and optionally an AUC task.

    ``vqa`` holds per-question accuracies in [0, 1]; the last ``errors`` docs are errored.
    """
    path.mkdir(parents=True, exist_ok=True)
    results = copy.deepcopy(BASE_RESULTS)
    results["run"]["limit"] = limit
    results["manifest"]["packages"].update(packages or {})
    rows = []
    for i, value in enumerate(vqa):
        errored = i >= len(vqa) - errors
        rows.append(
            {
                "doc_id": f"q{i}",
                "doc": {"question": f"question {i}?", "answers": ["yes"] * 10},
                "prompt": f"<image>question {i}? short answer:",
                "response": "yes" if value >= 1 else "no",
                "filtered": None if errored else ("yes" if value >= 1 else "no"),
                "scores": {} if errored else {"vqa_accuracy": value},
                "error": {"type": "ImageLoadError", "message": "broken"} if errored else None,
            }
        )
    scored = [v for i, v in enumerate(vqa) if i < len(vqa) - errors]
    results["tasks"] = {
        "toy_vqa": _block(
            "vqa_accuracy",
            {"vqa_accuracy": 100 * float(np.mean(scored))},
            len(vqa),
            len(scored),
            {"variant": "official"},
            "percent",
        ),
    }
    _write_samples(path / "samples_toy_vqa.jsonl", rows)
    if auc_scores is not None:
        from emu2_eval.scoring.metrics.roc_auc import roc_auc

        labels = auc_labels or [i % 2 for i in range(len(auc_scores))]
        auc_rows = [
            {
                "doc_id": f"m{i}",
                "doc": {"text": f"meme {i}", "label": y},
                "prompt": "is this meme hateful?",
                "response": [s, 0.0],
                "filtered": [s, 0.0],
                "scores": {"score": s},
                "error": None,
            }
            for i, (s, y) in enumerate(zip(auc_scores, labels, strict=True))
        ]
        _write_samples(path / "samples_toy_memes.jsonl", auc_rows)
        value = 100 * roc_auc(auc_scores, labels)
        results["tasks"]["toy_memes"] = _block(
            "roc_auc", {"roc_auc": value}, len(auc_rows), len(auc_rows), {"positive": 0}, "percent"
        )
    (path / "results.json").write_text(json.dumps(results, indent=2))
    return path


def _block(metric, metrics, n, n_scored, options, units) -> dict[str, Any]:
    return {
        "metrics": metrics,
        "groups": {},
        "units": {k: units for k in metrics},
        "metric_options": {metric: options},
        "n_samples": n,
        "n_scored": n_scored,
        "n_errors": n - n_scored,
        "config": {"task": "toy", "request": "generate", "generation": {"max_new_tokens": 5}},
        "config_hash": "c" * 64,
        "prompt_profile": {"name": "toy", "version": 1},
        "fewshot": {"shots": 0, "seed": 0},
        "reference": {},
        "filters": ["short_answer"],
        "dataset": {"fingerprint": "d" * 64, "sources": []},
    }


def _write_samples(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _vqa(n: int, correct: int, seed: int = 0) -> list[float]:
    values = [1.0] * correct + [0.0] * (n - correct)
    np.random.default_rng(seed).shuffle(values)
    return values


def test_a_run_compared_with_itself_has_zero_difference_and_p_one(tmp_path) -> None:
    run = write_run(tmp_path / "a", _vqa(60, 25), auc_scores=list(np.linspace(-1, 1, 30)))
    comparison = compare_runs(load_run(run), load_run(run), BootstrapSettings(resamples=200))
    assert comparison.settings == []
    assert {m.metric for m in comparison.metrics} == {"vqa_accuracy", "roc_auc"}
    for m in comparison.metrics:
        assert m.diff == 0.0 and m.low == 0.0 and m.high == 0.0 and m.p_value == 1.0
    assert all(counts == (0, 0) for counts in comparison.flip_counts.values())


def test_compare_reports_settings_differences_and_changed_samples(tmp_path) -> None:
    values = _vqa(80, 20)
    better = list(values)
    flipped = [i for i, v in enumerate(values) if v == 0][:30]
    for i in flipped:
        better[i] = 1.0
    a = write_run(tmp_path / "a", values)
    b = write_run(tmp_path / "b", better, packages={"transformers": "5.1.0"})
    comparison = compare_runs(load_run(a), load_run(b), BootstrapSettings(resamples=500), 5)
    assert ("manifest.packages.transformers", "5.0.0", "5.1.0") in comparison.settings
    (diff,) = comparison.metrics
    assert diff.diff == pytest.approx(100 * 30 / 80)
    assert 0 < diff.low < diff.diff < diff.high and diff.p_value < 0.01
    flips = comparison.flips[("toy_vqa", "vqa_accuracy")]
    assert comparison.flip_counts[("toy_vqa", "vqa_accuracy")] == (30, 0)
    assert len(flips) == 5 and flips[0].answer_a == "no" and flips[0].answer_b == "yes"
    text = comparison.to_markdown()
    assert text.index("Settings that differ") < text.index("Metrics") < text.index("changed")
    assert "| manifest.packages.transformers | 5.0.0 | 5.1.0 |" in text


def test_paired_interval_is_narrower_than_unpaired_noise(tmp_path) -> None:
    """Runs agreeing on most documents: pairing cancels the shared per-document variance."""
    values = _vqa(400, 200)
    other = list(values)
    for i in range(0, 40, 2):
        other[i] = 1.0 - other[i]
    a, b = write_run(tmp_path / "a", values), write_run(tmp_path / "b", other)
    (diff,) = compare_runs(load_run(a), load_run(b), BootstrapSettings(resamples=500)).metrics
    unpaired_half = 1.96 * 100 * np.sqrt(2 * 0.25 / 400)
    assert (diff.high - diff.low) / 2 < unpaired_half / 2


def test_compare_uses_only_documents_scored_in_both(tmp_path) -> None:
    a = write_run(tmp_path / "a", _vqa(20, 10))
    b = write_run(tmp_path / "b", _vqa(20, 10), errors=4)
    comparison = compare_runs(load_run(a), load_run(b), BootstrapSettings(resamples=50))
    assert comparison.metrics[0].n_shared == 16
    assert any("16 documents scored in both" in note for note in comparison.notes)


def test_compare_command_writes_markdown_csv_and_json(tmp_path) -> None:
    a = write_run(tmp_path / "a", _vqa(30, 10))
    b = write_run(tmp_path / "b", _vqa(30, 20))
    csv_path, json_path = tmp_path / "diff.csv", tmp_path / "diff.json"
    args = ["compare", str(a), str(b), "--resamples", "100", "--max-flips", "3"]
    result = CliRunner().invoke(main, [*args, "--csv", str(csv_path), "--json", str(json_path)])
    assert result.exit_code == 0, result.output
    assert (
        "## Metrics: B - A" in result.output and "| toy_vqa | vqa_accuracy | 30 |" in result.output
    )
    assert csv_path.read_text().startswith("task,metric,n_shared,a,b,diff,low,high,p_value")
    payload = json.loads(json_path.read_text())
    assert payload["metrics"][0]["diff"] == pytest.approx(100 * 10 / 30)
    assert "paired bootstrap" in payload["p_value_method"]
    missing = CliRunner().invoke(main, ["compare", str(a), str(tmp_path / "nope")])
    assert missing.exit_code == 1 and "results.json not found" in missing.output

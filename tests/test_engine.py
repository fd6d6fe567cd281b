"""End-to-end runs on the bundled demo data: run directory, cache reuse, re-scoring, bad input."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from emu2_eval.engine.evaluate import rescore
from emu2_eval.rundir.read import SamplesMismatchError, samples_record
from tests.helpers import FixedAnswerAdapter
from tests.runs import evaluate_run


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, isolated_home):
    output = tmp_path_factory.mktemp("run")
    results = evaluate_run(
        "tiny-vlm", {}, ["demo_vqa", "demo_caption"], output, limit=12, batch_size=4, progress=False
    )
    return output, results


class EmptyAnswerAdapter(FixedAnswerAdapter):
    """A model that always answers the empty string (some real models do)."""

    name = "empty"
    answer = ""
    model_fingerprint = "empty-answer-model"


def test_run_directory_contents(demo_run) -> None:
    output, results = demo_run
    for name in (
        "results.json",
        "samples_demo_vqa.jsonl",
        "samples_demo_caption.jsonl",
        "report.csv",
        "report.md",
        "cache.sqlite",
    ):
        assert (output / name).is_file(), name
    vqa = results["tasks"]["demo_vqa"]
    assert vqa["n_samples"] == 12 and vqa["n_scored"] == 12 and vqa["n_errors"] == 0
    assert 0.0 <= vqa["metrics"]["vqa_accuracy"] <= 100.0
    assert vqa["metric_options"]["vqa_accuracy"] == {"variant": "official"}
    assert set(vqa["groups"]) == {"answer_type", "question_type"}
    assert vqa["prompt_profile"] == {"name": "emu2_vqa_zeroshot", "version": 1}
    caption = results["tasks"]["demo_caption"]["metrics"]
    assert {"Bleu_1", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr"} <= set(caption)
    manifest = results["manifest"]
    assert manifest["packages"]["transformers"] and manifest["packages"]["torch"]
    assert "commit" in manifest["git"] and "cuda_available" in manifest["device"]
    assert len(results["model"]["fingerprint"]) == 64
    assert len(vqa["config_hash"]) == 64 and len(vqa["dataset"]["fingerprint"]) == 64
    rows = [json.loads(line) for line in open(output / "samples_demo_vqa.jsonl")]
    assert len(rows) == 12
    row = rows[0]
    assert row["prompt"].startswith("<image>based on the picture")
    assert row["doc"]["answers"] and isinstance(row["response"], str)
    assert "vqa_accuracy" in row["scores"] and len(row["request_hash"]) == 64
    report = (output / "report.csv").read_text()
    assert "demo_vqa,vqa_accuracy" in report


def test_second_run_is_served_from_cache(demo_run) -> None:
    output, first = demo_run
    second = evaluate_run(
        "tiny-vlm", {}, ["demo_vqa"], output, limit=12, batch_size=3, progress=False
    )
    block = second["tasks"]["demo_vqa"]
    assert block["n_cached"] == 12 and block["n_computed"] == 0
    assert block["metrics"] == first["tasks"]["demo_vqa"]["metrics"]


def test_rescore_reproduces_and_can_change_nothing_else(demo_run, tmp_path) -> None:
    output, first = demo_run
    copy = tmp_path / "copy"
    shutil.copytree(output, copy)
    rescored = rescore(copy)
    for task in ("demo_vqa", "demo_caption"):
        assert rescored["tasks"][task]["metrics"] == pytest.approx(first["tasks"][task]["metrics"])


def test_rescore_uses_recorded_config_and_new_responses(demo_run, tmp_path) -> None:
    """Editing raw responses and re-scoring changes the score as the official metric says."""
    output, _ = demo_run
    copy = tmp_path / "copy"
    shutil.copytree(output, copy)
    path = copy / "samples_demo_vqa.jsonl"
    rows = [json.loads(line) for line in open(path)]
    for row in rows:  # answer with the majority answer: accuracy must become high
        answers = row["doc"]["answers"]
        row["response"] = max(set(answers), key=answers.count)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(SamplesMismatchError, match="record contents edited"):
        rescore(copy)  # a hand-edited samples file is refused, never silently re-scored
    # a writer that records what it wrote (as the harness does) makes the new responses count
    results_path = copy / "results.json"
    results = json.loads(results_path.read_text())
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    results["tasks"]["demo_vqa"]["samples_file"] = samples_record(digest, rows)
    results_path.write_text(json.dumps(results))
    rescored = rescore(copy)
    assert rescored["tasks"]["demo_vqa"]["metrics"]["vqa_accuracy"] > 90.0


def test_empty_answers_are_scored_not_crashed(task_dir, tmp_path) -> None:
    adapter = EmptyAnswerAdapter()
    results = evaluate_run(
        "empty", {}, ["demo_vqa"], tmp_path / "run", limit=5, adapter=adapter, progress=False
    )
    block = results["tasks"]["demo_vqa"]
    assert block["n_scored"] == 5 and block["metrics"]["vqa_accuracy"] == 0.0
    assert adapter.calls == 5


def test_unreadable_image_is_recorded_and_run_goes_on(task_dir, demo_dir, tmp_path) -> None:
    data = tmp_path / "data"
    shutil.copytree(demo_dir, data)
    broken = data / "images" / "val2014" / "COCO_val2014_000000000002.jpg"
    broken.write_bytes(b"not a jpeg at all")
    (data / "images" / "val2014" / "COCO_val2014_000000000003.jpg").unlink()
    source = (Path(__file__).parents[1] / "tasks" / "demo" / "demo_vqa.yaml").read_text()
    (task_dir / "broken.yaml").write_text(
        source.replace("task: demo_vqa", "task: broken_vqa").replace("{demo}", str(data))
    )
    results = evaluate_run(
        "tiny-vlm", {}, ["broken_vqa"], tmp_path / "run", limit=16, batch_size=8, progress=False
    )
    block = results["tasks"]["broken_vqa"]
    # images 2 and 3 carry questions 20-23 and 30-33: 8 failed samples out of 16
    assert block["n_errors"] == 8 and block["n_scored"] == 8
    rows = [json.loads(line) for line in open(tmp_path / "run" / "samples_broken_vqa.jsonl")]
    errors = {r["doc_id"]: r["error"] for r in rows if r["error"]}
    assert set(errors) == {"20", "21", "22", "23", "30", "31", "32", "33"}
    assert "COCO_val2014_000000000002.jpg" in errors["20"]["message"]
    assert errors["20"]["type"] == "ImageLoadError"
    assert "file not found" in errors["30"]["message"]
    report = (tmp_path / "run" / "report.csv").read_text().splitlines()
    assert report[1].endswith(",8,8")  # n scored, errors
    # failures are not cached: fixing the data and re-running computes only those 8
    shutil.copy(demo_dir / "images" / "val2014" / broken.name, broken)
    shutil.copy(
        demo_dir / "images" / "val2014" / "COCO_val2014_000000000003.jpg",
        data / "images" / "val2014",
    )
    again = evaluate_run(
        "tiny-vlm", {}, ["broken_vqa"], tmp_path / "run", limit=16, batch_size=8, progress=False
    )["tasks"]["broken_vqa"]
    assert again["n_errors"] == 0 and again["n_computed"] == 8 and again["n_cached"] == 8


def test_unsupported_request_kind_fails_before_running(task_dir, tmp_path) -> None:
    source = (Path(__file__).parents[1] / "tasks" / "demo" / "demo_vqa.yaml").read_text()
    (task_dir / "ll.yaml").write_text(
        source.replace("task: demo_vqa", "task: ll_vqa").replace(
            "request: generate", 'request: loglikelihood\ncontinuations: ["yes", "no"]'
        )
    )
    with pytest.raises(ValueError, match="does not support"):
        evaluate_run(
            "empty", {}, ["ll_vqa"], tmp_path / "run", adapter=EmptyAnswerAdapter(), progress=False
        )


def test_another_model_cannot_write_into_a_run_directory(demo_run) -> None:
    output, _ = demo_run
    with pytest.raises(ValueError, match="holds results of another model"):
        evaluate_run(
            "empty", {}, ["demo_vqa"], output, limit=2, adapter=EmptyAnswerAdapter(), progress=False
        )


def test_score_command_rescores_a_run(demo_run, tmp_path) -> None:
    from click.testing import CliRunner

    from emu2_eval.cli import main

    output, _ = demo_run
    copy = tmp_path / "copy"
    shutil.copytree(output, copy)
    (copy / "report.csv").unlink()
    result = CliRunner().invoke(main, ["score", str(copy)])
    assert result.exit_code == 0, result.output
    assert "vqa_accuracy" in result.output and (copy / "report.csv").is_file()
    result = CliRunner().invoke(main, ["score", str(tmp_path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{tmp_path / 'results.json'} not found: {tmp_path} is not a run directory" in (
        result.output
    )

"""Seeded sampling is cached only because its answer is a pure function of the request: the same
answers for any batch size and across a kill and resume; unseeded sampling is never cached."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import demo_vqa_loader
from tests.runs import evaluate_run

SAMPLED_TASK = """
task: {name}
dataset: {dataset}
prompt: emu2_vqa_zeroshot
request: generate
generation: {generation}
filters: [short_answer]
metrics:
  - name: vqa_accuracy
    variant: official
"""
SEEDED = "{num_beams: 1, max_new_tokens: 4, do_sample: true, temperature: 1.5, seed: 7}"
UNSEEDED = "{num_beams: 1, max_new_tokens: 4, do_sample: true, temperature: 1.5}"


def _write_task(directory: Path, name: str, generation: str) -> None:
    (directory / f"{name}.yaml").write_text(
        SAMPLED_TASK.format(name=name, dataset=demo_vqa_loader(), generation=generation)
    )


def _answers(run: Path, task: str) -> dict[str, str]:
    lines = (run / f"samples_{task}.jsonl").read_text().splitlines()
    return {r["doc_id"]: r["response"] for r in map(json.loads, lines)}


def test_seeded_sampling_is_the_same_for_any_batch_size(task_dir, demo_dir, tmp_path) -> None:
    """Batch 1 vs 3, and a run that resumes a shorter one (its cache answers the first docs):
    every answer identical. Before, the seed was ignored and answers followed the batch."""
    _write_task(task_dir, "sampled", SEEDED)
    one = evaluate_run("tiny-vlm", {}, ["sampled"], tmp_path / "b1", limit=9, progress=False)
    evaluate_run(
        "tiny-vlm", {}, ["sampled"], tmp_path / "b3", limit=9, batch_size=3, progress=False
    )
    assert _answers(tmp_path / "b1", "sampled") == _answers(tmp_path / "b3", "sampled")
    assert len(set(_answers(tmp_path / "b1", "sampled").values())) > 3  # it really samples
    assert one["tasks"]["sampled"]["deterministic"] is True
    assert one["run"]["deterministic"] is True

    evaluate_run("tiny-vlm", {}, ["sampled"], tmp_path / "r", limit=4, batch_size=2, progress=False)
    resumed = evaluate_run(
        "tiny-vlm", {}, ["sampled"], tmp_path / "r", limit=9, batch_size=2, progress=False
    )
    assert resumed["tasks"]["sampled"]["n_cached"] == 4
    assert _answers(tmp_path / "r", "sampled") == _answers(tmp_path / "b1", "sampled")


def test_unseeded_sampling_is_not_cached_and_marks_the_run(task_dir, demo_dir, tmp_path) -> None:
    _write_task(task_dir, "unseeded", UNSEEDED)
    _write_task(task_dir, "seeded", SEEDED)
    out = tmp_path / "run"
    evaluate_run("tiny-vlm", {}, ["unseeded", "seeded"], out, limit=3, progress=False)
    again = evaluate_run("tiny-vlm", {}, ["unseeded", "seeded"], out, limit=3, progress=False)
    assert again["tasks"]["unseeded"]["n_cached"] == 0
    assert again["tasks"]["unseeded"]["deterministic"] is False
    assert again["tasks"]["seeded"]["n_cached"] == 3
    assert again["run"]["deterministic"] is False


def test_an_adapter_that_does_not_seed_per_request_is_not_cached() -> None:
    """Seeded sampling counts as reproducible only for adapters that declare per-request seeds."""
    from emu2_eval.core.requests import Request
    from emu2_eval.models.base import ModelAdapter

    request = Request(
        "generate", (), "t", "1", options=(("do_sample", True), ("seed", 1)), continuations=()
    )

    class Plain(ModelAdapter):
        def fingerprint(self) -> str:
            return "plain"

    class Seeding(Plain):
        seeds_sampling = True

    assert not Plain().is_deterministic(request)
    assert Seeding().is_deterministic(request)


@pytest.mark.slow
def test_seeded_sampling_survives_kill_and_resume(task_dir, demo_dir, tmp_path, cache_rows) -> None:
    """SIGKILL a seeded-sampling run half-way, resume it: answers equal an unbroken run's."""
    _write_task(task_dir, "sampled", SEEDED)
    output = tmp_path / "killed"
    command = [
        sys.executable, "-m", "emu2_eval.cli", "run", "--model", "tiny-vlm", "--tasks", "sampled",
        "--limit", "40", "--batch-size", "1", "--output", str(output), "--no-progress",
        "--include-path", str(task_dir),
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    deadline = time.time() + 240
    while cache_rows(output / "cache.sqlite") < 10:
        assert process.poll() is None, process.stderr.read().decode()
        assert time.time() < deadline, "run made no progress"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    done = cache_rows(output / "cache.sqlite")
    assert 10 <= done < 40, "the kill must land half-way"
    resumed = evaluate_run(
        "tiny-vlm", {}, ["sampled"], output, limit=40, batch_size=4, progress=False
    )
    assert resumed["tasks"]["sampled"]["n_cached"] == done
    evaluate_run("tiny-vlm", {}, ["sampled"], tmp_path / "clean", limit=40, progress=False)
    assert _answers(output, "sampled") == _answers(tmp_path / "clean", "sampled")

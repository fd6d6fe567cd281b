"""A run killed half-way and started again recomputes nothing and ends with the same results."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.runs import evaluate_run


def _start(command: list[str]) -> subprocess.Popen:
    """In its own session, so that SIGKILL reaches the whole process group."""
    return subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )


@pytest.mark.slow
def test_kill_and_resume(tmp_path, tiny_model_dir, demo_dir, cache_rows, tiny_run_command) -> None:
    output = tmp_path / "killed"
    process = _start(tiny_run_command(output, "--tasks", "demo_vqa", "--batch-size", "1"))
    deadline = time.time() + 240
    while cache_rows(output / "cache.sqlite") < 30:
        assert process.poll() is None, process.stderr.read().decode()
        assert time.time() < deadline, "run made no progress"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # no chance to clean up
    process.wait()
    done_at_kill = cache_rows(output / "cache.sqlite")
    assert 30 <= done_at_kill < 96, "the kill must land half-way"
    assert not (output / "results.json").exists()

    resumed = evaluate_run("tiny-vlm", {}, ["demo_vqa"], output, batch_size=1, progress=False)
    block = resumed["tasks"]["demo_vqa"]
    assert block["n_cached"] == done_at_kill
    assert block["n_computed"] == 96 - done_at_kill  # nothing finished is computed twice
    assert cache_rows(output / "cache.sqlite") == 96

    # an uninterrupted run, with another batch size, gives identical results
    clean = evaluate_run(
        "tiny-vlm", {}, ["demo_vqa"], tmp_path / "clean", batch_size=8, progress=False
    )
    assert clean["tasks"]["demo_vqa"]["metrics"] == block["metrics"]
    assert clean["tasks"]["demo_vqa"]["groups"] == block["groups"]

    def responses(run: Path) -> dict[str, str]:
        lines = (run / "samples_demo_vqa.jsonl").read_text().splitlines()
        return {r["doc_id"]: r["response"] for r in map(json.loads, lines)}

    assert responses(output) == responses(tmp_path / "clean")

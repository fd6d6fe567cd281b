"""One writer per run directory: a second run into the same --output stops with an error naming
the owner, or waits (--wait) and keeps both runs' tasks; a dead owner's lock is taken over."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emu2_eval.rundir.lock import RunDirLockedError, read_owner, run_dir_lock

HOLD = """
import sys, time
from emu2_eval.rundir.lock import run_dir_lock
with run_dir_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _holder(directory: Path, seconds: float) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(directory), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert process.stdout.readline().strip() == "locked"
    return process


def test_a_second_writer_is_refused_with_the_owner_named(tmp_path) -> None:
    holder = _holder(tmp_path, 60)
    try:
        with pytest.raises(RunDirLockedError) as caught, run_dir_lock(tmp_path):
            pass
        message = str(caught.value)
        assert f"pid {holder.pid} on host {socket.gethostname()}" in message
        assert "--wait" in message and str(tmp_path) in message
    finally:
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path) -> None:
    holder = _holder(tmp_path, 60)
    os.killpg(holder.pid, signal.SIGKILL)
    holder.wait()
    assert read_owner(tmp_path)["pid"] == holder.pid  # the file is still there
    with run_dir_lock(tmp_path):
        assert read_owner(tmp_path)["pid"] == os.getpid()
    assert not (tmp_path / ".lock").exists()


def test_wait_queues_behind_the_owner(tmp_path) -> None:
    holder = _holder(tmp_path, 1.5)
    started = time.monotonic()
    with run_dir_lock(tmp_path, wait=True):
        assert read_owner(tmp_path)["pid"] == os.getpid()
    assert time.monotonic() - started > 1.0  # it had the lock for 1.5 s
    assert holder.wait(timeout=30) == 0


def _run(output: Path, task: str, *extra: str) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "emu2_eval.cli", "run", "--model", "tiny-vlm", "--tasks", task,
        "--limit", "24", "--output", str(output), "--no-progress", *extra,
    ]  # fmt: skip
    return subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip


def _wait_for_lock(output: Path, process: subprocess.Popen) -> None:
    deadline = time.time() + 120
    while read_owner(output).get("pid") != process.pid:
        assert process.poll() is None, process.stderr.read()
        assert time.time() < deadline
        time.sleep(0.02)


@pytest.mark.slow
def test_two_concurrent_runs_into_one_output_lose_nothing(tmp_path, demo_dir, tiny_model_dir):
    """Two CLI runs of different tasks into one --output while the first is running: without
    --wait the second stops with an error naming the first (nothing of it written); with --wait
    it runs after the first and results.json keeps both tasks. Before, both exited 0 and
    results.json listed one task."""
    refused_dir = tmp_path / "refused"
    first = _run(refused_dir, "demo_vqa")
    _wait_for_lock(refused_dir, first)
    second = _run(refused_dir, "demo_caption")
    assert second.wait(timeout=300) == 1
    error = second.stderr.read()
    assert f"is being written by another run: pid {first.pid}" in error
    assert first.wait(timeout=300) == 0
    results = json.loads((refused_dir / "results.json").read_text())
    assert set(results["tasks"]) == {"demo_vqa"}
    assert not (refused_dir / "samples_demo_caption.jsonl").exists()

    waited_dir = tmp_path / "waited"
    first = _run(waited_dir, "demo_vqa")
    _wait_for_lock(waited_dir, first)
    second = _run(waited_dir, "demo_caption", "--wait")
    for process in (first, second):
        assert process.wait(timeout=300) == 0, process.stderr.read()[-2000:]
    results = json.loads((waited_dir / "results.json").read_text())
    assert set(results["tasks"]) == {"demo_vqa", "demo_caption"}
    for task in ("demo_vqa", "demo_caption"):
        lines = (waited_dir / f"samples_{task}.jsonl").read_text().splitlines()
        assert len(lines) == results["tasks"][task]["n_samples"] == 24
    assert not (waited_dir / ".lock").exists()

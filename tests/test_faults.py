"""Fault injection: SIGKILL a run at random points, resume, and compare with an unbroken run.

CI tries a bounded number of kill points (``EMU2_EVAL_KILL_POINTS``, default 5); set it higher to
run the long version by hand, e.g. ``EMU2_EVAL_KILL_POINTS=40 pytest tests/test_faults.py``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

TASKS = "demo_vqa,demo_caption"
LIMIT = "40"


def _command(output: Path, cache: Path | None = None) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "emu2_eval.cli",
        "run",
        "--model",
        "tiny-vlm",
        "--tasks",
        TASKS,
        "--limit",
        LIMIT,
        "--batch-size",
        "2",
        "--output",
        str(output),
        "--no-progress",
    ]
    return command + (["--cache", str(cache)] if cache else [])


def _start(command: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )


def _outputs(run: Path) -> dict[str, object]:
    """What must match an unbroken run: per-sample logs (minus the cached flag) and metrics."""
    results = json.loads((run / "results.json").read_text())
    out: dict[str, object] = {}
    for task in TASKS.split(","):
        rows = [
            json.loads(line) for line in (run / f"samples_{task}.jsonl").read_text().splitlines()
        ]
        for row in rows:
            row.pop("cached")
        out[task] = rows
        block = results["tasks"][task]
        out[f"{task}:metrics"] = block["metrics"]
        out[f"{task}:counts"] = (block["n_samples"], block["n_scored"], block["n_errors"])
    return out


def _assert_never_half_written(run: Path) -> None:
    """Whatever a kill leaves behind parses completely: final files are written atomically."""
    if (run / "results.json").exists():
        json.loads((run / "results.json").read_text())
    for path in run.glob("samples_*.jsonl"):
        for line in path.read_text().splitlines():
            json.loads(line)
    for path in run.glob("report.*"):  # kills during report writing: never empty or cut
        text = path.read_text()
        assert text.strip(), f"{path} is empty"
        if path.suffix == ".html":
            assert text.endswith("</html>\n"), f"{path} is cut short"


@pytest.fixture(scope="module")
def reference(tmp_path_factory, isolated_home) -> dict[str, object]:
    run = tmp_path_factory.mktemp("reference")
    subprocess.run(_command(run), check=True, capture_output=True, timeout=600)
    return _outputs(run)


@pytest.mark.slow
def test_sigkill_at_random_points_loses_nothing(reference, tmp_path) -> None:
    """Each kill point: start the run, SIGKILL it after a random delay, check what is on disk.

    When a run finishes before its kill, it is compared with the reference and a fresh run
    directory starts, so every kill point hits a run somewhere between start-up and the last
    write. At the end the interrupted run is completed and compared too.
    """
    points = int(os.environ.get("EMU2_EVAL_KILL_POINTS", "5"))
    rng = random.Random(1234)
    generation, kills, completed = 0, 0, 0
    run = tmp_path / "run0"
    for _ in range(points):
        process = _start(_command(run))
        time.sleep(rng.uniform(0.5, 16.0))
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            kills += 1
            _assert_never_half_written(run)
            continue
        assert process.returncode == 0, process.stderr.read().decode()[-2000:]
        assert _outputs(run) == reference
        completed += 1
        generation += 1
        run = tmp_path / f"run{generation}"
    final = subprocess.run(_command(run), capture_output=True, timeout=600)
    assert final.returncode == 0, final.stderr.decode()[-2000:]
    assert _outputs(run) == reference
    print(f"\n{kills} SIGKILLs over {points} points, {completed} runs finished in between")
    assert kills >= 1


@pytest.mark.slow
def test_two_runs_sharing_one_cache(reference, tmp_path) -> None:
    cache = tmp_path / "shared.sqlite"
    first = _start(_command(tmp_path / "a", cache))
    second = _start(_command(tmp_path / "b", cache))
    for process in (first, second):
        assert process.wait(timeout=600) == 0, process.stderr.read().decode()[-2000:]
    assert _outputs(tmp_path / "a") == reference
    assert _outputs(tmp_path / "b") == reference

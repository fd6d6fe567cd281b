"""Fault injection: SIGKILL a run at points of its progress, resume, and compare with an
unbroken run.

A kill point is a number of responses committed to the run's cache (polled, not slept for), so
every point lands where it is meant to whatever the machine's speed: early, midway, and after
the last response (while the run scores and writes its files). CI tries a bounded number of
points (``EMU2_EVAL_KILL_POINTS``, default 5); set it higher to run the long version by hand,
e.g. ``EMU2_EVAL_KILL_POINTS=40 pytest -m slow tests/test_faults.py``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

TASKS = "demo_vqa,demo_caption"
LIMIT = "40"


def _options(cache: Path | None = None) -> list[str]:
    options = ["--tasks", TASKS, "--limit", LIMIT, "--batch-size", "2"]
    return options + (["--cache", str(cache)] if cache else [])


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
def reference(tmp_path_factory, isolated_home, tiny_run_command) -> dict[str, object]:
    run = tmp_path_factory.mktemp("reference")
    subprocess.run(tiny_run_command(run, *_options()), check=True, capture_output=True, timeout=600)
    return _outputs(run)


def kill_points(points: int, total: int) -> list[int]:
    """Increasing cache-row counts to kill at: spread over the run, the last one ``total``."""
    return sorted({max(1, round(total * (i + 1) / points)) for i in range(points)})


def _kill_at(process: subprocess.Popen, db: Path, rows: int, cache_rows) -> bool:
    """SIGKILL the run once ``rows`` responses are in its cache; False when it ended first."""
    deadline = time.monotonic() + 600
    while process.poll() is None:
        if cache_rows(db) >= rows:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return True
        assert time.monotonic() < deadline, f"no progress to {rows} rows in 600 s"
        time.sleep(0.02)
    return False


@pytest.mark.slow
def test_sigkill_at_progress_points_loses_nothing(
    reference, tmp_path, cache_rows, tiny_run_command
) -> None:
    """Each kill point: (re)start the run in the same directory, SIGKILL it once the cache holds
    that many responses, check that what is on disk parses. A run that finishes before its kill
    (the last point races the end) is compared with the reference. At the end the interrupted
    run is completed and compared too, its cache holding every response."""
    total = sum(reference[f"{task}:counts"][0] for task in TASKS.split(","))  # one response each
    points = kill_points(int(os.environ.get("EMU2_EVAL_KILL_POINTS", "5")), total)
    run = tmp_path / "run"
    kills, completed = 0, 0
    for rows in points:
        process = _start(tiny_run_command(run, *_options()))
        if _kill_at(process, run / "cache.sqlite", rows, cache_rows):
            kills += 1
            _assert_never_half_written(run)
            assert cache_rows(run / "cache.sqlite") >= rows
            continue
        assert process.returncode == 0, process.stderr.read().decode()[-2000:]
        assert _outputs(run) == reference
        completed += 1
        break
    final = subprocess.run(tiny_run_command(run, *_options()), capture_output=True, timeout=600)
    assert final.returncode == 0, final.stderr.decode()[-2000:]
    assert _outputs(run) == reference
    assert cache_rows(run / "cache.sqlite") == total
    print(f"\n{kills} SIGKILLs at {points} rows, {completed} run(s) finished first")
    assert kills >= len(points) - 1  # only the last point may race the end of the run


def test_kill_points_spread_over_the_run_and_end_at_the_last_row() -> None:
    assert kill_points(5, 64) == [13, 26, 38, 51, 64]
    assert kill_points(1, 64) == [64]
    assert kill_points(200, 64) == list(range(1, 65))


@pytest.mark.slow
def test_two_runs_sharing_one_cache(reference, tmp_path, tiny_run_command) -> None:
    cache = tmp_path / "shared.sqlite"
    first = _start(tiny_run_command(tmp_path / "a", *_options(cache)))
    second = _start(tiny_run_command(tmp_path / "b", *_options(cache)))
    for process in (first, second):
        assert process.wait(timeout=600) == 0, process.stderr.read().decode()[-2000:]
    assert _outputs(tmp_path / "a") == reference
    assert _outputs(tmp_path / "b") == reference

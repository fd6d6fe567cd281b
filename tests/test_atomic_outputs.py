"""Every output file, reports included, is written atomically through ``emu2_eval.core.atomic``:
a full disk or a kill while reports are written leaves the previous file, never an empty or
half-written one, and the error names the file."""

from __future__ import annotations

import errno
import io
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.runs import evaluate_run

REPORTS = ("report.csv", "report.md", "report.tex", "report.html")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, isolated_home) -> Path:
    output = tmp_path_factory.mktemp("run")
    evaluate_run("tiny-vlm", {}, ["demo_vqa", "demo_caption"], output, limit=6, progress=False)
    return output


def _copy(run: Path, target: Path) -> Path:
    shutil.copytree(run, target, ignore=shutil.ignore_patterns("cache.sqlite*"))
    return target


def test_full_disk_during_reports_names_the_file_and_keeps_the_old_one(
    run_dir, tmp_path, monkeypatch
) -> None:
    """ENOSPC while writing report.csv: OutputWriteError naming it, the previous report.csv
    intact, no 0-byte file, no temporary. Before, pandas wrote report.csv in place."""
    from emu2_eval.core import atomic
    from emu2_eval.reporting.write import write_reports
    from emu2_eval.rundir.read import load_run

    run = _copy(run_dir, tmp_path / "run")
    before = {name: (run / name).read_bytes() for name in REPORTS}

    class FullDisk(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    real_open = open

    def fake_open(path, mode="r", *args, **kwargs):
        if "w" in mode and ".report.csv." in str(path):
            return FullDisk()
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(atomic, "open", fake_open, raising=False)
    with pytest.raises(atomic.OutputWriteError, match=r"report\.csv: No space left on device"):
        write_reports(load_run(run).results, run)
    assert {name: (run / name).read_bytes() for name in REPORTS} == before
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]


def _limit_file_size(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_report_command_on_a_file_size_limit_fails_cleanly(run_dir, tmp_path) -> None:
    """A real write failure (RLIMIT_FSIZE below the HTML report's size, EFBIG like a full
    disk): `report` exits with an error naming report.html and leaves the old one whole.
    Before, report.html was left cut at the limit and the error was a raw traceback."""
    run = _copy(run_dir, tmp_path / "run")
    html = (run / "report.html").read_bytes()
    small = max((run / name).stat().st_size for name in REPORTS if name != "report.html")
    limit = max(small * 2, len(html) // 2)
    assert small < limit < len(html)
    result = subprocess.run(
        [sys.executable, "-m", "emu2_eval.cli", "report", str(run)],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_limit_file_size(limit),
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"cannot write {run / 'report.html'}: File too large" in result.stderr
    assert (run / "report.html").read_bytes() == html
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]


def _state(run: Path) -> dict[str, tuple[int, int]]:
    """Names, times and sizes of the run directory's files (the lock file aside).

    The writer under test renames its temporaries while this looks, so a file listed a moment
    ago may be gone when it is stat'ed: a vanished file counts as a change (absent)."""
    state: dict[str, tuple[int, int]] = {}
    for path in run.iterdir():
        if path.name == ".lock":
            continue
        try:
            info = path.stat()
        except FileNotFoundError:
            state[path.name] = (-1, -1)
            continue
        state[path.name] = (info.st_mtime_ns, info.st_size)
    return state


@pytest.mark.slow
def test_kills_during_report_writing_leave_no_empty_or_partial_file(run_dir, tmp_path) -> None:
    """SIGKILL `emu2-eval report` just after it starts writing (the first change seen in the
    run directory, plus up to 0.4 s), many times: every report file is then either the
    complete previous one or the complete new one (both byte-identical to the reference)."""
    run = _copy(run_dir, tmp_path / "run")
    report = [sys.executable, "-m", "emu2_eval.cli", "report", str(run)]
    subprocess.run(report, check=True, capture_output=True)  # what an unbroken report writes
    reference = {name: (run / name).read_bytes() for name in REPORTS}
    kills = int(os.environ.get("EMU2_EVAL_REPORT_KILLS", "12"))
    rng = random.Random(7)
    landed = 0
    hit: set[tuple[str, ...]] = set()  # which files were new when a kill landed mid-way
    for _ in range(kills):
        for name in REPORTS:  # start each round from files that differ from the new ones
            (run / name).write_bytes(reference[name] + b"\n<!-- previous -->\n")
        previous = {name: (run / name).read_bytes() for name in REPORTS}
        start = _state(run)
        process = subprocess.Popen(
            report,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.time() + 120
        while process.poll() is None and _state(run) == start and time.time() < deadline:
            time.sleep(0.0005)
        time.sleep(rng.uniform(0.0, 0.4))
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            landed += 1
        process.wait()
        for name in REPORTS:
            content = (run / name).read_bytes()
            assert content in (previous[name], reference[name]), f"{name} is partial or empty"
        if 0 < sum((run / n).read_bytes() == reference[n] for n in REPORTS) < len(REPORTS):
            hit.add(tuple(n for n in REPORTS if (run / n).read_bytes() == reference[n]))
    assert landed >= kills // 2
    print(f"\n{landed} kills landed while writing, {len(hit)} files caught mid-way: {sorted(hit)}")
    result = subprocess.run(report, capture_output=True)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert not list(run.glob(".*.tmp"))  # the killed writers' temporaries are cleaned up
    assert {name: (run / name).read_bytes() for name in REPORTS} == reference

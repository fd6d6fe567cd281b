"""A staging folder left by a killed first-time set-up is removed on the next start, and a
folder that a live process is still building is left alone."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from emu2_eval.core.staging import PREFIX, _host, staging_dir, sweep

REPO = Path(__file__).resolve().parents[1]
BUILD_TINY = "from emu2_eval.models.tiny_vlm import tiny_checkpoint; tiny_checkpoint()"


def test_killed_setup_leaves_nothing_after_the_next_start(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "EMU2_EVAL_HOME": str(home), "PYTHONPATH": str(REPO)}
    models = home / "models"
    build = subprocess.Popen([sys.executable, "-c", BUILD_TINY], env=env)
    deadline = time.monotonic() + 120
    while not (models.is_dir() and any(models.iterdir())):
        assert build.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    build.kill()  # SIGKILL during the build: no clean-up code runs
    build.wait()
    leftovers = list(models.iterdir())
    assert leftovers and not (models / "tiny-vlm-v1").exists()
    subprocess.run([sys.executable, "-c", BUILD_TINY], env=env, check=True, timeout=300)
    assert [p.name for p in models.iterdir()] == ["tiny-vlm-v1"]


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _old(path: Path, seconds: float) -> Path:
    past = time.time() - seconds
    os.utime(path, (past, past))
    return path


def test_sweep_removes_only_folders_of_owners_that_are_gone(tmp_path: Path) -> None:
    def folder(name: str) -> Path:
        (tmp_path / name).mkdir()
        (tmp_path / name / "half-written").write_text("x")
        return tmp_path / name

    dead = folder(f"{PREFIX}demo-data.abc12345.{_dead_pid()}@{_host()}")
    live = folder(f"{PREFIX}demo-data.abc12346.{os.getpid()}@{_host()}")
    other_recent = folder(f"{PREFIX}demo-data.abc12347.1@elsewhere")
    other_old = _old(folder(f"{PREFIX}demo-data.abc12348.1@elsewhere"), 2 * 86400)
    legacy_old = _old(folder("tiny-ab_cd123"), 7200)  # tempfile.mkdtemp name of older versions
    legacy_recent = folder("demo-x1y2z3w4")
    finished = folder("demo-data-v2")
    removed = sweep(tmp_path)
    assert sorted(removed) == sorted([dead, other_old, legacy_old])
    for kept in (live, other_recent, legacy_recent, finished):
        assert (kept / "half-written").exists()


def test_staging_dir_records_its_owner_and_is_removed_after(tmp_path: Path) -> None:
    with staging_dir(tmp_path / "models", "tiny-vlm") as staging:
        assert staging.name.startswith(f"{PREFIX}tiny-vlm.")
        assert staging.name.endswith(f".{os.getpid()}@{_host()}")
        assert sweep(tmp_path / "models") == []  # its owner is alive: kept
        (staging / "file").write_text("x")
    assert list((tmp_path / "models").iterdir()) == []

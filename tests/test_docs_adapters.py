"""docs/adapters.md: its 30-line adapter runs, registered by --plugin and by an entry point."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "adapters.md"


def _example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1
    return blocks[0]


def _cli(args: list[str], cwd: Path, pythonpath: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": pythonpath}
    return subprocess.run(
        [sys.executable, "-m", "emu2_eval", *args],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=300,
    )  # fmt: skip


def test_the_example_is_about_thirty_lines() -> None:
    code = [line for line in _example().splitlines() if line.strip()]
    assert len(code) <= 35


def test_the_example_adapter_runs_as_a_plugin_file(tmp_path: Path) -> None:
    plugin = tmp_path / "my_adapter.py"
    plugin.write_text(_example())
    listed = _cli(["--plugin", str(plugin), "models"], tmp_path, str(REPO))
    assert listed.returncode == 0, listed.stderr
    (line,) = [row for row in listed.stdout.splitlines() if row.startswith("colour-namer ")]
    assert "plugin (emu2_eval_plugin_my_adapter)" in line
    out = tmp_path / "run"
    done = _cli(
        ["--plugin", str(plugin), "run", "--model", "colour-namer", "--tasks", "demo_vqa",
         "--limit", "4", "--output", str(out), "--no-progress"],
        tmp_path, str(REPO),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = [json.loads(r) for r in (out / "samples_demo_vqa.jsonl").read_text().splitlines()]
    assert {row["response"] for row in rows} <= {"red", "green", "blue"}
    assert all(row["error"] is None for row in rows)


def test_the_example_adapter_runs_from_an_entry_point(tmp_path: Path) -> None:
    site = tmp_path / "site"
    info = site / "colour_adapter-0.1.dist-info"
    info.mkdir(parents=True)
    (site / "my_adapter.py").write_text(_example())
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: colour-adapter\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[emu2_eval.models]\ncolour-namer = my_adapter:ColourNamer\n"
    )
    path = f"{site}{os.pathsep}{REPO}"
    listed = _cli(["models"], tmp_path, path)
    assert listed.returncode == 0, listed.stderr
    (line,) = [row for row in listed.stdout.splitlines() if row.startswith("colour-namer ")]
    assert "entry point (colour-adapter)" in line and "my_adapter:ColourNamer" in line
    out = tmp_path / "run"
    done = _cli(
        ["run", "--model", "colour-namer", "--model-args", "default=grey", "--tasks",
         "demo_hateful_memes", "--limit", "3", "--output", str(out), "--no-progress"],
        tmp_path, path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["model"]["fingerprint"] == "colour-namer-v1-grey"
    assert "roc_auc" in results["tasks"]["demo_hateful_memes"]["metrics"]

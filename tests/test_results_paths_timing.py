"""Issue 18: results.json records wall time and throughput per task and per process, holds no
absolute path of the machine unless asked, and a resumed run says what is cached."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from emu2_eval.cli import main


def _strings(value: Any, where: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{where}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{where}.{key}")


def _run(out: Path, *extra: str) -> tuple[dict[str, Any], str]:
    done = CliRunner().invoke(
        main, ["run", "--model", "tiny-vlm", "--tasks", "demo_vqa", "--limit", "3",
               "--batch-size", "2", "--output", str(out), *extra],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    return json.loads((out / "results.json").read_text()), done.output


def test_timing_per_task_and_process_relative_paths_and_the_resume_line(tmp_path, demo_dir):
    out = tmp_path / "run"
    results, output = _run(out)
    assert "demo_vqa: 0 cached, 3 to compute" in output
    execution = results["manifest"]["execution"]
    timing = execution["timing"]["demo_vqa"]
    assert timing["computed"] == 3 and timing["model_seconds"] > 0
    assert timing["requests_per_second"] == round(3 / timing["model_seconds"], 3)
    parts = timing["prepare_seconds"] + timing["model_seconds"] + timing["score_seconds"]
    assert abs(timing["wall_seconds"] - parts) < 0.01
    assert execution["wall_seconds"] >= timing["wall_seconds"]
    (rank,) = execution["work"]["demo_vqa"]
    assert rank["model_seconds"] > 0 and rank["requests_per_second"] > 0
    # paths: relative to the run directory or a named root, never this machine's
    typed = {"model.args", "manifest.command"}
    absolute = [
        (where, text) for where, text in _strings(results)
        if os.path.isabs(text) and not any(where.startswith("." + t) for t in typed)
    ]  # fmt: skip
    assert absolute == []
    block = results["tasks"]["demo_vqa"]
    assert results["run"]["cache"] == "cache.sqlite" and results["run"]["paths"] == "relative"
    assert block["config_path"] == "{tasks}/demo/demo_vqa.yaml"
    assert block["dataset"]["sources"] and all(
        s.startswith("{home}/") for s in block["dataset"]["sources"]
    )
    assert results["model"]["info"]["pretrained"].startswith("{home}/")
    assert "(tiny-vlm-v1)" in (out / "report.md").read_text()  # checkpoint label still read

    again, output = _run(out)
    assert "demo_vqa: 3 cached, 0 to compute" in output
    resumed = again["manifest"]["execution"]["timing"]["demo_vqa"]
    assert resumed["computed"] == 0 and resumed["requests_per_second"] is None


def test_absolute_paths_only_when_asked(tmp_path, demo_dir, monkeypatch) -> None:
    results, _ = _run(tmp_path / "run", "--record-absolute-paths", "--no-progress")
    block = results["tasks"]["demo_vqa"]
    assert results["run"]["paths"] == "absolute"
    assert os.path.isabs(block["config_path"]) and os.path.isabs(results["run"]["cache"])
    monkeypatch.chdir(tmp_path)  # a relative --output: the cache is still named from the run
    relative, _ = _run(Path("rel"), "--no-progress")
    assert relative["run"]["cache"] == "cache.sqlite"


def test_portable_path_rules(tmp_path, monkeypatch) -> None:
    from emu2_eval.engine.paths import path_roots, portable

    monkeypatch.setenv("EMU2_EVAL_DATA", str(tmp_path / "data"))
    roots = path_roots()
    run = tmp_path / "runs" / "a"
    assert portable(str(run / "images" / "x.png"), run, roots) == "images/x.png"
    assert portable(str(tmp_path / "data" / "coco" / "x.jpg"), run, roots) == (
        "{data_root}/coco/x.jpg"
    )
    assert portable(str(tmp_path / "elsewhere" / "c.sqlite"), run, roots) == (
        "../../elsewhere/c.sqlite"
    )
    assert portable("openai/clip-vit-large-patch14", run, roots) == "openai/clip-vit-large-patch14"

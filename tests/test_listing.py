"""``emu2-eval tasks`` / ``models``: kind, few-shot support and data status of every task,
the origin of every adapter, plugins from entry points included, nothing heavy loaded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from emu2_eval.cli import main

REPO = Path(__file__).resolve().parents[1]


def _row(output: str, task: str) -> list[str]:
    (line,) = [row for row in output.splitlines() if row.split()[:1] == [task]]
    return line.split()


def test_tasks_shows_kind_fewshot_and_data_without_building_anything(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("EMU2_EVAL_HOME", str(home))
    monkeypatch.setenv("EMU2_EVAL_DATA", str(tmp_path / "data"))
    done = CliRunner().invoke(main, ["tasks"])
    assert done.exit_code == 0, done.output
    assert done.output.split("\n")[0].split() == ["task", "kind", "few-shot", "group", "data",
                                                  "file"]  # fmt: skip
    assert _row(done.output, "demo_vqa")[1:5] == ["generate", "yes", "demo", "generated"]
    assert _row(done.output, "hateful_memes_test_seen")[1:3] == ["loglikelihood", "yes"]
    assert _row(done.output, "coco_karpathy_test")[1:3] == ["generate", "no"]
    assert _row(done.output, "dreambench")[1] == "generate_images"
    vqa = _row(done.output, "vqav2_val")
    assert vqa[4] == "missing:" and vqa[5].startswith(str(tmp_path / "data" / "vqav2"))
    assert not home.exists()  # the demo data was not generated just to be listed
    for name in ("v2_OpenEnded_mscoco_val2014_questions.json", "v2_mscoco_val2014_annotations.json",
                 "v2_OpenEnded_mscoco_train2014_questions.json",
                 "v2_mscoco_train2014_annotations.json"):  # fmt: skip
        (tmp_path / "data" / "vqav2").mkdir(parents=True, exist_ok=True)
        (tmp_path / "data" / "vqav2" / name).write_text("{}")
    for folder in ("val2014", "train2014"):
        (tmp_path / "data" / "coco" / folder).mkdir(parents=True, exist_ok=True)
    again = CliRunner().invoke(main, ["tasks"])
    assert _row(again.output, "vqav2_val")[4] == "present"


def test_models_lists_each_adapter_with_its_origin() -> None:
    done = CliRunner().invoke(main, ["models"])
    assert done.exit_code == 0, done.output
    row = _row(done.output, "tiny-vlm")
    assert row[1] == "built-in" and row[2] == "emu2_eval.models.tiny_vlm:TinyVLMAdapter"


def test_a_task_directory_from_an_entry_point_is_listed_and_runs(tmp_path: Path) -> None:
    site = tmp_path / "site"
    tasks = site / "my_tasks" / "yaml"
    tasks.mkdir(parents=True)
    demo = (REPO / "tasks" / "demo" / "demo_vqa.yaml").read_text()
    (tasks / "plugin_vqa.yaml").write_text(demo.replace("task: demo_vqa", "task: plugin_vqa"))
    (site / "my_tasks" / "__init__.py").write_text(
        "from pathlib import Path\nTASK_DIR = Path(__file__).parent / 'yaml'\n"
    )
    info = site / "my_tasks-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-tasks\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[emu2_eval.tasks]\nmine = my_tasks:TASK_DIR\n")
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{REPO}"}
    done = subprocess.run(
        [sys.executable, "-m", "emu2_eval", "tasks"],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    row = _row(done.stdout, "plugin_vqa")
    assert row[1:3] == ["generate", "yes"] and row[-1] == str(tasks / "plugin_vqa.yaml")

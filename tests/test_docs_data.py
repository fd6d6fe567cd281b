"""docs/data.md's layouts are what the tasks read: building exactly the files it lists under a
fresh EMU2_EVAL_DATA makes every task of tasks/ find its data (as the preflight and
``emu2-eval tasks`` resolve it), and removing one file makes its task report it missing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from emu2_eval.reporting.listing import data_status
from emu2_eval.tasks.config import load_task_config

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "data.md"


def _layout() -> list[str]:
    """Every path of the doc's ``layout`` blocks (first token of each line)."""
    paths = []
    for block in re.findall(r"```layout\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S):
        paths += [line.split()[0] for line in block.splitlines() if line.strip()]
    return paths


def _build(root: Path) -> None:
    for entry in _layout():
        target = root / entry
        if entry.endswith("/"):
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("{}")


def _bundled_tasks() -> list[Path]:
    return sorted((REPO / "tasks").rglob("*.yaml"))


def test_every_task_finds_its_data_in_the_documented_layout(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("EMU2_EVAL_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("EMU2_EVAL_DREAMBENCH", raising=False)
    _build(tmp_path / "data")
    checked = 0
    for path in _bundled_tasks():
        if path.parent.name == "profiles":
            continue
        config = load_task_config(path)
        status = data_status(config)
        assert status in ("present", "generated"), f"{path.relative_to(REPO)}: {status}"
        checked += status == "present"
    assert checked >= 10  # the real benchmarks, not only the generated demo data


def test_a_file_left_out_of_the_layout_is_reported_missing(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("EMU2_EVAL_DATA", str(tmp_path / "data"))
    _build(tmp_path / "data")
    (tmp_path / "data" / "vqav2" / "v2_mscoco_val2014_annotations.json").unlink()
    status = data_status(load_task_config(REPO / "tasks" / "vqa" / "vqav2_val.yaml"))
    assert status.startswith("missing: ") and status.endswith("v2_mscoco_val2014_annotations.json")


@pytest.mark.parametrize("name", ["EMU2_EVAL_DATA", "EMU2_EVAL_DREAMBENCH"])
def test_the_doc_names_the_variables(name: str) -> None:
    assert name in DOC.read_text(encoding="utf-8")

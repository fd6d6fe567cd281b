"""docs/results.md names exactly the keys a real results.json has, at each documented level."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from emu2_eval.cli import main

REPO = Path(__file__).resolve().parents[1]
OPTIONAL = {"gen_kwargs", "submission"}  # present only when given / when the task has one


def documented() -> dict[str, set[str]]:
    """{dotted path ('' for the top level): keys of its table}."""
    text = (REPO / "docs" / "results.md").read_text(encoding="utf-8")
    body = text.split("## results.json", 1)[1]
    levels: dict[str, set[str]] = {}
    path = ""
    for line in body.splitlines():
        heading = re.match(r"### `(.+)`", line)
        if heading:
            path = heading.group(1)
        elif line.startswith("| `"):
            first = line.split("|")[1]
            levels.setdefault(path, set()).update(re.findall(r"`([^`]+)`", first))
    return levels


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path, demo_dir) -> dict:
    out = tmp_path_factory.mktemp("schema") / "run"
    done = CliRunner().invoke(
        main, ["run", "--model", "tiny-vlm", "--tasks", "demo_vqa", "--limit", "2",
               "--no-progress", "--output", str(out)],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    return json.loads((out / "results.json").read_text())


def test_results_doc_matches_a_real_results_json(results: dict) -> None:
    levels = documented()
    assert set(levels) == {
        "", "model", "run", "manifest", "manifest.execution", "manifest.execution.timing.<task>",
        "tasks.<task>",
    }  # fmt: skip
    for path, keys in levels.items():
        node = results
        for part in filter(None, path.split(".")):
            node = node["demo_vqa"] if part == "<task>" else node[part]
        assert set(node) - keys == set(), f"{path or 'top level'}: undocumented keys"
        assert keys - set(node) <= OPTIONAL, f"{path or 'top level'}: documented, not written"

"""docs/tasks.md documents exactly the keys the task and profile parsers accept, each with an
example, and its complete example task file parses. A key added to a parser fails here until it
is documented (the sets are read from the parser, not copied)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from emu2_eval.tasks.config import (
    DATASET_KEYS,
    FEWSHOT_KEYS,
    GENERATION_KEYS,
    TASK_KEYS,
    parse_task,
)
from emu2_eval.tasks.profiles import PROFILE_KEYS

DOC = Path(__file__).resolve().parents[1] / "docs" / "tasks.md"
SECTIONS = {
    "Top-level keys": TASK_KEYS,
    "`dataset`": DATASET_KEYS,
    "`fewshot`": FEWSHOT_KEYS,
    "`generation`": GENERATION_KEYS,
    "Prompt profiles": PROFILE_KEYS,
}


def _tables() -> dict[str, dict[str, str]]:
    """{section heading: {key: example cell}} of the doc's tables."""
    tables: dict[str, dict[str, str]] = {}
    section = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"## (.+)", line)
        if heading:
            section = heading.group(1).strip()
        elif section and line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            key = re.fullmatch(r"`([^`]+)`", cells[0])
            assert key, f"{section}: first cell {cells[0]!r} is not one `key`"
            tables.setdefault(section, {})[key.group(1)] = cells[-1]
    return tables


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_every_parser_key_is_documented_and_nothing_else(section: str) -> None:
    documented = _tables().get(section, {})
    accepted = SECTIONS[section]
    assert set(accepted) - set(documented) == set(), f"{section}: accepted but not documented"
    assert set(documented) - set(accepted) == set(), f"{section}: documented but not accepted"


def test_every_key_has_an_example_that_uses_it() -> None:
    for section, rows in _tables().items():
        for key, example in rows.items():
            assert f"`{key}:" in example or f"`{key}" in example, f"{section}.{key}: {example!r}"


def test_the_complete_example_is_a_valid_task_file() -> None:
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(.*?)```", text, re.S)
    assert block, "docs/tasks.md has no yaml example"
    raw = yaml.safe_load(block.group(1))
    config = parse_task(raw, "docs/tasks.md")
    assert config.fewshot is not None and config.fewshot.strategy == "rices"
    # continuations: loglikelihood tasks only; labels/submission: unlabelled (test-dev) splits only
    assert set(raw) >= TASK_KEYS - {"continuations", "labels", "submission"}

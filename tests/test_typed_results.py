"""Issue 14: the consumers of results.json (reports, compare, check, judge) read the typed
fields of :mod:`emu2_eval.rundir.schema`.

A task block written before a field existed reads with the default every consumer assumed; a
field of the wrong type is refused by the one reader, naming the file, the task and the key,
instead of surfacing as an AttributeError deep inside a report.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from emu2_eval.cli import main
from emu2_eval.rundir.schema import (
    IN_MEMORY,
    RunResultsError,
    TaskResult,
    as_run_results,
    read_run_results,
)

TASK = "toy"


def _old_block() -> dict[str, Any]:
    """A task block as the first emu2_eval wrote it: none of the later fields."""
    return {"metrics": {"acc": 50.0}, "units": {"acc": "%"}, "n_samples": 4}


def _write(run_dir: Path, block: dict[str, Any]) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    results = {"model": {"name": "toy-model"}, "run": {"limit": 4}, "tasks": {TASK: block}}
    (run_dir / "results.json").write_text(json.dumps(results))
    return run_dir / "results.json"


def test_an_old_task_block_reads_with_the_defaults(tmp_path: Path) -> None:
    _write(tmp_path, _old_block())
    block = read_run_results(tmp_path).tasks[TASK]
    assert (block.metric_options, block.dataset, block.config) == ({}, {}, {})
    assert (block.submission, block.groups, block.protocol) == ({}, {}, {})
    assert block.scorer is None and block.samples_file is None and block.prompt_profile is None
    assert (block.scored, block.errors, block.shots) == (0, 0, 0)
    assert block.request is None and block.group is None and block.prompt_name is None
    assert block.interval("acc") == {}


def test_the_reports_of_an_old_block_show_the_defaults(tmp_path: Path) -> None:
    """n and errors read 0, no scorer, no prompt: what the consumers showed before."""
    from emu2_eval.reporting.tables import markdown_report, report_frame

    _write(tmp_path, _old_block())
    typed = read_run_results(tmp_path)
    row = report_frame(typed).iloc[0]
    assert (row["n"], row["errors"], row["scorer"], row["prompt"]) == (0, 0, "", "")
    assert markdown_report(typed) == markdown_report(typed.raw)


def test_typed_properties_read_what_the_engine_records() -> None:
    block = TaskResult.from_mapping(
        TASK,
        {
            "metrics": {},
            "n_scored": 3,
            "n_errors": 1,
            "fewshot": {"shots": 4},
            "prompt_profile": {"name": "vqa_short", "version": 2},
            "config": {"request": "generate_images", "group": "demo"},
            "dataset": {"protocol": {"reference_image": "kosmos_g"}, "fingerprint": "f"},
            "intervals": {"acc": {"low": 1.0}},
        },
    )
    assert (block.scored, block.errors, block.shots) == (3, 1, 4)
    assert (block.prompt_name, block.request, block.group) == (
        "vqa_short",
        "generate_images",
        "demo",
    )
    assert block.protocol == {"reference_image": "kosmos_g"} and block.interval("acc")["low"] == 1
    bare = TaskResult.from_mapping(TASK, {"metrics": {}, "prompt_profile": "caption"})
    assert bare.prompt_name == "caption"


WRONG_TYPES = {
    "metric_options": [1],
    "dataset": "coco",
    "config": 3,
    "submission": [],
    "groups": "answer_type",
    "scorer": "official",
    "samples_file": "abc",
    "units": ["%"],
    "intervals": 0.5,
    "prompt_profile": 5,
    "n_scored": "3",
    "n_errors": 1.5,
    "n_samples": True,
}


@pytest.mark.parametrize("key", sorted(WRONG_TYPES))
def test_a_field_of_the_wrong_type_is_refused_naming_the_file(tmp_path: Path, key: str) -> None:
    path = _write(tmp_path, {**_old_block(), key: WRONG_TYPES[key]})
    with pytest.raises(RunResultsError) as caught:
        read_run_results(tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{path}: task {TASK!r}") and repr(key) in message
    assert "restore it, or re-run the task" in message


def test_report_and_compare_refuse_a_wrong_type_alike(tmp_path: Path) -> None:
    good = tmp_path / "good"
    _write(good, _old_block())
    bad = tmp_path / "bad"
    path = _write(bad, {**_old_block(), "metric_options": ["vqa_accuracy"]})
    for args in (["report", str(bad)], ["compare", str(good), str(bad)]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1, (args, result.output)
        flat = " ".join(result.output.split())
        assert f"Error: {path}: task {TASK!r}: 'metric_options' is a JSON list" in flat


def test_in_memory_results_are_checked_by_the_same_reader(tmp_path: Path) -> None:
    """The engine hands its results to the reports as a mapping: a bad one names the run's
    results.json when the run directory is known, else says it was not read from a file."""
    from emu2_eval.reporting.tables import report_frame
    from emu2_eval.reporting.write import write_reports

    bad = {"model": {"name": "m"}, "tasks": {TASK: {**_old_block(), "groups": [1]}}}
    with pytest.raises(RunResultsError, match=f"^{IN_MEMORY}: task 'toy': 'groups'"):
        report_frame(bad)
    with pytest.raises(RunResultsError, match=f"^{tmp_path / 'results.json'}: task 'toy'"):
        write_reports(bad, tmp_path)
    assert not (tmp_path / "report.md").exists()
    typed = as_run_results({"model": {"name": "m"}, "tasks": {TASK: _old_block()}})
    assert as_run_results(typed) is typed and typed.path == IN_MEMORY

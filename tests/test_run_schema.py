"""Issue 14 item 2: one reader and one writer of results.json, with a schema version.

What the engine writes is read back unchanged; a version-1 file (no ``schema_version``) is read
and stamped when rewritten; a newer, damaged or foreign file is refused with one error naming
the file, by every command that reads a run directory (sweep, report, compare, check, score).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from emu2_eval.cli import main
from emu2_eval.core.errors import UserError
from emu2_eval.rundir.read import load_run
from emu2_eval.rundir.schema import (
    SCHEMA_VERSION,
    RunResultsError,
    SampleRecord,
    read_run_results,
    write_run_results,
)

TASK = "demo_vqa"


@pytest.fixture(scope="module")
def engine_run(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path, demo_dir) -> Path:
    out = tmp_path_factory.mktemp("schema") / "run"
    done = CliRunner().invoke(
        main, ["run", "--model", "tiny-vlm", "--tasks", TASK, "--limit", "3", "--no-progress",
               "--output", str(out)],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    return out


@pytest.fixture
def run(engine_run: Path, tmp_path: Path) -> Path:
    """A private copy of the engine's run directory."""
    return Path(shutil.copytree(engine_run, tmp_path / "run"))


def _version_1(run: Path) -> bytes:
    """Rewrite results.json as the engine wrote it before the field existed."""
    results = json.loads((run / "results.json").read_text())
    del results["schema_version"]
    (run / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    return (run / "results.json").read_bytes()


def test_round_trip_reads_what_the_engine_writes(run: Path) -> None:
    raw = json.loads((run / "results.json").read_text())
    assert next(iter(raw)) == "schema_version" and raw["schema_version"] == SCHEMA_VERSION == 2
    results = read_run_results(run)
    assert results.raw == raw and results.schema_version == SCHEMA_VERSION
    assert results.path == run / "results.json"
    assert (results.model_name, results.fingerprint) == ("tiny-vlm", raw["model"]["fingerprint"])
    assert results.limit == 3 and list(results.tasks) == [TASK]
    block = results.tasks[TASK]
    assert block.raw == raw["tasks"][TASK] and block.metrics == raw["tasks"][TASK]["metrics"]
    assert (block.n_samples, block.n_scored, block.predict_only) == (3, 3, False)
    assert block.config_hash == raw["tasks"][TASK]["config_hash"] and block.units
    records = load_run(run).samples(TASK)
    lines = (run / f"samples_{TASK}.jsonl").read_text().splitlines()
    typed = [SampleRecord.from_mapping(r, "x") for r in records]
    assert [s.raw for s in typed] == [json.loads(line) for line in lines]
    assert [s.doc_id for s in typed] == [json.loads(line)["doc_id"] for line in lines]


def test_the_writer_changes_only_the_version_field(run: Path) -> None:
    """A version-1 file rewritten through the writer is the engine's file, byte for byte."""
    written = (run / "results.json").read_bytes()
    _version_1(run)
    old = read_run_results(run)
    assert old.schema_version == 1 and "schema_version" not in old.raw
    payload = write_run_results(run, old)
    assert (run / "results.json").read_bytes() == written
    assert payload == json.loads(written)


def test_a_version_1_run_directory_is_read_and_score_stamps_it(run: Path) -> None:
    v1 = _version_1(run)
    assert load_run(run).results == json.loads(v1)
    done = CliRunner().invoke(main, ["score", str(run)])
    assert done.exit_code == 0, done.output
    rescored = json.loads((run / "results.json").read_text())
    assert rescored["schema_version"] == SCHEMA_VERSION
    before = json.loads(v1)["tasks"][TASK]
    assert rescored["tasks"][TASK]["metrics"] == before["metrics"]


def _corrupt(path: Path, case: str) -> None:
    """Damage ``path`` (a results.json) the way ``case`` names."""
    results = json.loads(path.read_text())
    if case == "truncated":
        path.write_text(json.dumps(results, indent=2)[:200])
    elif case == "list":
        path.write_text("[]")
    elif case == "no_model":
        del results["model"]
        path.write_text(json.dumps(results))
    elif case == "block_not_object":
        results["tasks"][TASK] = [1, 2]
        path.write_text(json.dumps(results))
    elif case == "newer":
        results["schema_version"] = SCHEMA_VERSION + 1
        path.write_text(json.dumps(results))
    else:
        raise AssertionError(case)


EXPECTED = {
    "truncated": "is not valid JSON",
    "list": "is a JSON list, not an object: not a results file",
    "no_model": "has no 'model' object: not a results file",
    "block_not_object": f"task {TASK!r} has no 'metrics'",
    "newer": f"has schema_version {SCHEMA_VERSION + 1}, written by a newer emu2_eval",
}


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_a_bad_results_json_is_one_error_naming_the_file(run: Path, case: str) -> None:
    path = run / "results.json"
    _corrupt(path, case)
    with pytest.raises(RunResultsError) as caught:
        read_run_results(run)
    assert isinstance(caught.value, UserError)
    assert str(caught.value).startswith(str(path)) and EXPECTED[case] in str(caught.value)
    if case == "newer":
        assert "upgrade emu2_eval" in str(caught.value)
    with pytest.raises(RunResultsError, match=r"not found: .* is not a run directory"):
        read_run_results(run / "elsewhere")


def _error_of(run_dir: Path) -> str:
    with pytest.raises(RunResultsError) as caught:
        read_run_results(run_dir)
    return str(caught.value)


CONSUMER_CASES = ["truncated", "list", "block_not_object", "newer"]


@pytest.mark.parametrize("case", CONSUMER_CASES)
def test_report_compare_and_check_refuse_a_bad_results_json_alike(
    engine_run: Path, tmp_path: Path, case: str
) -> None:
    """The same error, naming the file, from `report`, `compare`, `check` and `score`; the
    damaged file is left as it was."""
    good = Path(shutil.copytree(engine_run, tmp_path / "good"))
    baseline = tmp_path / "baseline.json"
    made = CliRunner().invoke(main, ["baseline", str(good), "--output", str(baseline)])
    assert made.exit_code == 0, made.output
    bad = Path(shutil.copytree(engine_run, tmp_path / "bad"))
    _corrupt(bad / "results.json", case)
    damaged = (bad / "results.json").read_bytes()
    message = _error_of(bad)
    commands = {
        "report": (["report", str(bad)], 1),
        "score": (["score", str(bad)], 1),
        "compare": (["compare", str(good), str(bad)], 1),
        "check": (["check", str(bad), "--baseline", str(baseline)], 2),
    }
    for name, (args, code) in commands.items():
        result = CliRunner().invoke(main, args)
        assert isinstance(result.exception, SystemExit), (name, result.exception)
        assert result.exit_code == code, (name, result.output)
        assert f"Error: {message}" in " ".join(result.output.split()), (name, result.output)
        assert (bad / "results.json").read_bytes() == damaged


@pytest.mark.parametrize("case", CONSUMER_CASES)
def test_sweep_refuses_a_damaged_cell_and_runs_a_missing_one(tmp_path: Path, case: str) -> None:
    """A cell without results.json is run; a damaged one stops the sweep naming the file
    (it was taken as incomplete, or crashed, or a newer file's numbers were used)."""
    out = tmp_path / "sweep"
    args = ["sweep", "--model", "tiny-vlm", "--tasks", TASK, "--shots", "0", "--seeds", "0",
            "--limit", "2", "--no-progress", "--output", str(out)]  # fmt: skip
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    cell = out / "cells" / TASK / "shots0-seed0"
    _corrupt(cell / "results.json", case)
    damaged = (cell / "results.json").read_bytes()
    message = _error_of(cell)
    again = CliRunner().invoke(main, args)
    assert isinstance(again.exception, SystemExit), again.exception
    assert again.exit_code == 1 and f"Error: {message}" in " ".join(again.output.split())
    assert (cell / "results.json").read_bytes() == damaged
    (cell / "results.json").unlink()
    rerun = CliRunner().invoke(main, args)
    assert rerun.exit_code == 0, rerun.output
    assert read_run_results(cell).tasks[TASK].n_samples == 2


def test_grids_name_a_damaged_samples_line(tmp_path: Path) -> None:
    """The grids read samples through the run-directory reader: a cut line is named (file,
    line), not a bare JSONDecodeError."""
    from emu2_eval.reporting.grids import write_grids

    path = tmp_path / "samples_gen.jsonl"
    path.write_text('{"doc_id": "a", "doc": {}, "response": null, "error": null}\n{"doc_id": "b"')
    results = {
        "model": {},
        "tasks": {"gen": {"metrics": {}, "config": {"request": "generate_images"}}},
    }
    with pytest.raises(RunResultsError, match=re.escape(f"{path}, line 2: invalid JSON")):
        write_grids(results, tmp_path)

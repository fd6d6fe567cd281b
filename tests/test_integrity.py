"""A samples file that no longer matches results.json (half its lines, duplicated lines, an
edited answer) is refused by score, report, compare and check, naming the file and what differs,
instead of silently changing the metrics (the issue: AUC changed, n_samples 30 instead of 24)."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from emu2_eval.cli import main
from emu2_eval.engine.evaluate import rescore
from emu2_eval.rundir.read import SamplesMismatchError, load_run
from tests.runs import evaluate_run

TASK = "demo_hateful_memes"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, isolated_home) -> Path:
    output = tmp_path_factory.mktemp("run")
    evaluate_run("tiny-vlm", {}, [TASK], output, limit=24, progress=False)
    runner = CliRunner()
    baseline = output.parent / "baseline.json"
    result = runner.invoke(main, ["baseline", str(output), "--output", str(baseline)])
    assert result.exit_code == 0, result.output
    return output


def _copy(pristine: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(pristine, tmp_path / "run"))


def _samples(run: Path) -> Path:
    return run / f"samples_{TASK}.jsonl"


def test_results_json_records_the_samples_file(pristine) -> None:
    block = json.loads((pristine / "results.json").read_text())["tasks"][TASK]
    data = _samples(pristine).read_bytes()
    assert block["n_samples"] == 24 == len(data.splitlines())
    assert block["samples_file"]["sha256"] == hashlib.sha256(data).hexdigest()
    load_run(pristine, verify=True)  # an untouched run passes


def _truncate(path: Path) -> None:
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:12]))


def _duplicate(path: Path) -> None:
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines + lines[:6]))


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (_truncate, r"12 records where the run wrote 24; 12 doc id\(s\) missing"),
        (_duplicate, r"30 records where the run wrote 24; duplicated doc ids: '\w+' x2"),
    ],
)
def test_score_refuses_a_damaged_samples_file(pristine, tmp_path, damage, expected) -> None:
    """Before, `score` re-scored the damaged file and overwrote results.json (n_samples 30)."""
    run = _copy(pristine, tmp_path)
    damage(_samples(run))
    results_before = (run / "results.json").read_bytes()
    with pytest.raises(SamplesMismatchError, match=expected) as caught:
        rescore(run)
    assert str(_samples(run)) in str(caught.value)
    assert (run / "results.json").read_bytes() == results_before
    result = CliRunner().invoke(main, ["score", str(run)])
    assert result.exit_code == 1 and "does not match" in result.output


def test_report_compare_and_check_refuse_a_damaged_samples_file(pristine, tmp_path) -> None:
    run = _copy(pristine, tmp_path)
    _duplicate(_samples(run))
    report_before = (run / "report.html").read_bytes()
    runner = CliRunner()
    for args in (
        ["report", str(run)],
        ["report", str(run), "--resamples", "50"],
        ["compare", str(pristine), str(run)],
        ["check", str(run), "--baseline", str(pristine.parent / "baseline.json")],
    ):
        result = runner.invoke(main, args)
        assert result.exit_code != 0, args
        assert f"{_samples(run)} does not match" in result.output, (args, result.output)
        assert "duplicated doc ids" in result.output
    assert (run / "report.html").read_bytes() == report_before


def test_an_edited_answer_is_named_as_such(pristine, tmp_path) -> None:
    run = _copy(pristine, tmp_path)
    rows = [json.loads(line) for line in _samples(run).read_text().splitlines()]
    rows[3]["response"] = [0.0, -99.0]
    _samples(run).write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(SamplesMismatchError, match="same doc ids in the same order, but record"):
        load_run(run).samples(TASK)


def test_a_run_directory_without_checksums_is_read_with_a_warning(
    pristine, tmp_path, caplog
) -> None:
    """Older run directories keep working: read unverified, with a warning naming the file;
    `score` then records the checksum, so later damage is caught."""
    run = _copy(pristine, tmp_path)
    results = json.loads((run / "results.json").read_text())
    del results["tasks"][TASK]["samples_file"]
    (run / "results.json").write_text(json.dumps(results))
    with caplog.at_level(logging.WARNING, logger="emu2_eval.rundir.read"):
        assert len(load_run(run).samples(TASK)) == 24
    assert f"{_samples(run)}: results.json records no checksum" in caplog.text
    rescore(run)
    assert "samples_file" in json.loads((run / "results.json").read_text())["tasks"][TASK]
    _truncate(_samples(run))
    with pytest.raises(SamplesMismatchError):
        load_run(run, verify=True)

"""One error layer: a user error ends in one clean ``Error:`` block naming the file or option,
never a traceback; ``emu2-eval -v`` shows the traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from emu2_eval.cli import main
from tests.helpers import run_cli

REPO = Path(__file__).resolve().parents[1]


def _run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The real command line (a traceback would be printed by Python, not hidden by CliRunner)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "emu2_eval", *args],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300,
    )  # fmt: skip


def _clean(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.count("Error:") == 1, result.stderr
    for text in expected:
        assert text in result.stderr, result.stderr


def test_missing_checkpoint_path_is_one_clean_error(tmp_path: Path) -> None:
    args = ["run", "--model", "tiny-vlm", "--model-args", "pretrained=/nonexistent",
            "--tasks", "demo_vqa", "--limit", "1", "--output", str(tmp_path / "o")]  # fmt: skip
    _clean(_run(args, tmp_path), "pretrained=/nonexistent does not exist", "checkpoint")
    verbose = _run(["-v", *args], tmp_path)
    assert verbose.returncode == 1
    # refused by the preflight, before any model work; -v shows where
    assert "Traceback" in verbose.stderr and "PreflightError" in verbose.stderr
    assert "- model 'tiny-vlm': pretrained=/nonexistent does not exist" in verbose.stderr


def test_missing_include_path_is_one_clean_error(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_dir"
    for command in (["validate"], ["tasks"]):
        result = _run([*command, "--include-path", str(missing)], tmp_path)
        _clean(result, str(missing), "does not exist")


def test_duplicate_model_arg_is_refused(tmp_path: Path) -> None:
    model_args = "device=cpu,dtype=float32,device=cuda"
    result = run_cli(tmp_path / "o", "--model", "tiny-vlm", "--model-args", model_args,
                     "--tasks", "demo_vqa")  # fmt: skip
    assert result.exit_code == 1
    assert "Error: --model-args: 'device' given twice" in result.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"[]", "is a JSON list, not an object: not a results file"),
        (b"\xff\xfe{}", "is not valid JSON ('utf-8' codec can't decode"),
    ],
)
@pytest.mark.parametrize("command", ["score", "report", "run"])
def test_bad_results_json_is_named(tmp_path: Path, content, expected, command) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "results.json").write_bytes(content)
    args = [command, str(run_dir)]
    if command == "run":
        args = ["run", "--model", "tiny-vlm", "--tasks", "demo_vqa", "--limit", "1",
                "--no-progress", "--output", str(run_dir)]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), result.exception  # no raw exception
    assert f"Error: {run_dir / 'results.json'} " in result.output and expected in result.output
    assert (run_dir / "results.json").read_bytes() == content  # nothing overwritten


def test_lone_surrogate_in_a_question_is_named_with_file_and_doc(
    task_dir: Path, demo_dir: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """A JSON escape such as \\ud800 decodes to a string no tokenizer (and no UTF-8 samples
    file) takes: refused when the data loads, naming the file, the doc and the field."""
    questions = json.loads((demo_dir / "vqa" / "questions_val2014.json").read_text())
    questions["questions"] = questions["questions"][:3]
    questions["questions"][1]["question"] = "what colour \ud800 is it?"
    path = tmp_path / "questions.json"
    path.write_text(json.dumps(questions))  # ensure_ascii: the file itself is valid JSON
    (task_dir / "sur.yaml").write_text(
        "task: surrogate\n"
        "dataset:\n  loader: vqa_official\n"
        f"  args: {{questions: '{path}', images: '{demo_dir / 'images' / 'val2014'}',"
        f" annotations: '{demo_dir / 'vqa' / 'annotations_val2014.json'}'}}\n"
        "prompt: emu2_vqa_zeroshot\ngeneration: {max_new_tokens: 2}\n"
        "metrics: [{name: vqa_accuracy}]\n"
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        ["run", "--model", "tiny-vlm", "--model-args", f"pretrained={tiny_model_dir}",
         "--tasks", "surrogate", "--no-progress", "--output", str(out)],
    )  # fmt: skip
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), result.exception
    bad = questions["questions"][1]["question_id"]
    assert f"Error: {path}" in result.output and f"record {bad}: field 'question'" in result.output
    assert "not valid Unicode text" in result.output
    assert not (out / "samples_surrogate.jsonl").exists()

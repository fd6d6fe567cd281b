"""Time to first answer: the run prints the model's load time and an estimate of the total."""

from __future__ import annotations

import json
import re

from click.testing import CliRunner

from emu2_eval.cli import main
from emu2_eval.core.timing import TotalEstimate, format_seconds
from tests.helpers import run_cli


def test_format_seconds() -> None:
    assert [format_seconds(s) for s in (0.4, 42, 185, 7620)] == ["0s", "42s", "3m05s", "2h07m"]


def test_estimate_comes_once_after_the_first_batches(capsys) -> None:
    estimate = TotalEstimate(total=100, show=True, after_batches=3)
    estimate.batch_done(10)
    estimate.batch_done(10)
    assert estimate.estimate_s is None
    estimate.batch_done(10)
    first = estimate.estimate_s
    assert first is not None and first >= 0
    estimate.batch_done(10)
    assert estimate.estimate_s == first  # said once
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and "for 100 requests" in lines[0] and "first 3 batch(es)" in lines[0]


def test_cli_run_prints_load_time_and_total_estimate(tiny_model_dir, demo_dir, tmp_path) -> None:
    output = tmp_path / "run"
    tasks = "demo_vqa,demo_caption"
    result = run_cli(output, "--model", "tiny-vlm", "--tasks", tasks, "--limit", "4",
                     "--batch-size", "2")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert re.search(r"model tiny-vlm loaded in \d+s \(\d+\.\d+s\)", result.stderr)
    # 8 requests in two pools (the tasks' generation options differ); one estimate, after 3
    assert re.search(r"estimated model time: \d+s for 8 requests .* first 3 batch", result.stderr)
    manifest = json.loads((output / "results.json").read_text())["manifest"]
    assert manifest["execution"]["model_load_seconds"] > 0
    again = CliRunner().invoke(
        main, ["run", "--model", "tiny-vlm", "--tasks", "demo_vqa", "--limit", "4",
               "--output", str(output)],
    )  # fmt: skip
    assert again.exit_code == 0 and "estimated" not in again.stderr  # all cached: no estimate

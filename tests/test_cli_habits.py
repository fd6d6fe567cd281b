"""Issue 18: the habits of lm-eval / lmms-eval users: --gen-kwargs, task groups and wildcards,
--tasks list, fractional --limit, --device, underscore aliases, and no silent surprises on
reruns (a smaller --limit, another model)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from emu2_eval.cli import main
from emu2_eval.engine import evaluate as evaluate_module
from emu2_eval.engine.run_config import RunConfig


def _run(*args: str) -> Any:
    return CliRunner().invoke(main, ["run", *args])


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The RunConfig the CLI hands to the engine, field by field (no model is run)."""
    seen: dict[str, Any] = {}

    def fake(config: RunConfig, adapter: Any = None, context: Any = None) -> None:
        seen.update({f.name: getattr(config, f.name) for f in dataclasses.fields(config)})
        return None

    monkeypatch.setattr(evaluate_module, "evaluate", fake)
    return seen


def test_underscore_aliases_and_device(captured: dict[str, Any], tmp_path: Path) -> None:
    result = _run(
        "--model", "tiny-vlm", "--model_args", "dtype=float32", "--device", "cpu",
        "--tasks", "demo_vqa", "--num_fewshot", "2", "--batch_size", "4",
        "--output_path", str(tmp_path / "out"), "--gen_kwargs", "num_beams=1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert captured["model_args"] == {"dtype": "float32", "device": "cpu"}
    assert captured["fewshot"].shots == 2
    assert captured["batch_size"] == "4" and captured["seed"] == 0
    assert captured["output"] == tmp_path / "out"
    assert captured["gen_kwargs"] == {"num_beams": 1}


def test_aliases_are_hidden_from_help() -> None:
    result = CliRunner().invoke(main, ["run", "--help"])
    assert "--model-args" in result.output and "--model_args" not in result.output
    assert "--output_path" not in result.output and "--num_fewshot" not in result.output


def test_device_contradicting_model_args_is_refused(captured: dict, tmp_path: Path) -> None:
    result = _run(
        "--model", "tiny-vlm", "--model-args", "device=cuda", "--device", "cpu",
        "--tasks", "demo_vqa", "--output", str(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--device cpu contradicts --model-args device=cuda" in result.output


@pytest.mark.parametrize(
    "entries, expected",
    [
        (["demo_v*"], ["demo_vizwiz", "demo_vizwiz_test", "demo_vqa", "demo_vqav2_testdev"]),
        (
            ["vqa"],
            ["okvqa_val", "textvqa_val", "vizwiz_test", "vizwiz_val", "vqav2_testdev", "vqav2_val"],
        ),
        # each task once, in order
        (
            ["demo_vqa", "demo_*q*"],
            ["demo_vqa", "demo_chat_gqa", "demo_chat_vqa", "demo_textvqa", "demo_vqav2_testdev"],
        ),
    ],
)
def test_task_patterns_and_groups(entries: list[str], expected: list[str]) -> None:
    from emu2_eval.tasks.selection import expand_task_names

    assert expand_task_names(entries) == expected


def test_group_selects_every_task_of_the_group(captured: dict, tmp_path: Path) -> None:
    result = _run("--model", "tiny-vlm", "--tasks", "demo", "--output", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "demo_vqa" in captured["tasks"] and "demo_coco_t2i" in captured["tasks"]
    assert all(name.startswith("demo_") for name in captured["tasks"])


def test_pattern_matching_nothing_is_an_error(tmp_path: Path) -> None:
    result = _run("--model", "tiny-vlm", "--tasks", "nothing_*", "--output", str(tmp_path))
    assert result.exit_code == 1
    assert "--tasks pattern 'nothing_*' matches no task" in result.output


def test_tasks_list_needs_no_model() -> None:
    result = CliRunner().invoke(main, ["run", "--tasks", "list"])
    assert result.exit_code == 0, result.output
    assert "demo_vqa" in result.output and "vqav2_val" in result.output
    assert "groups" in result.output and "demo_caption" in result.output


@pytest.mark.parametrize(
    "value, expected",
    [("500", 500), ("0.1", 0.1), ("1.0", 1), (None, None)],
)
def test_limit_is_a_count_or_a_fraction(value: str | None, expected: Any) -> None:
    from emu2_eval.engine.limits import parse_limit

    assert parse_limit(value) == expected
    assert type(parse_limit(value)) is type(expected)


@pytest.mark.parametrize("value", ["0", "-3", "1.5", "lots", "0.0"])
def test_bad_limit_is_one_clean_error(value: str, tmp_path: Path) -> None:
    result = _run(
        "--model", "tiny-vlm", "--tasks", "demo_vqa", "--limit", value, "--output", str(tmp_path)
    )
    assert result.exit_code == 1
    assert "--limit must be" in result.output and value in result.output


def test_fraction_of_docs() -> None:
    from emu2_eval.engine.limits import doc_count

    assert doc_count(0.1, 96) == 10  # rounded up
    assert doc_count(0.001, 96) == 1
    assert doc_count(500, 96) == 96
    assert doc_count(None, 96) == 96


@pytest.mark.parametrize(
    "value, message",
    [
        ("num_beams=0", "generation.num_beams must be an integer >= 1, got 0"),
        ("beams=2", "unknown setting(s) beams"),
        ("num_beams", "'num_beams' is not key=value"),
        ("temperature=hot", "generation.temperature must be a number > 0"),
    ],
)
def test_bad_gen_kwargs_are_refused_before_the_model(
    value: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(evaluate_module, "load_adapter", lambda *a, **k: 1 / 0)
    result = _run(
        "--model", "tiny-vlm", "--tasks", "demo_vqa", "--gen-kwargs", value,
        "--output", str(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 1
    assert "--gen-kwargs" in result.output and message in result.output


def _results(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "results.json").read_text())


def test_gen_kwargs_and_fractional_limit_are_recorded_and_keyed(tmp_path: Path) -> None:
    out = tmp_path / "run"
    base = ["--model", "tiny-vlm", "--tasks", "demo_vqa", "--output", str(out), "--no-progress"]
    first = _run(*base, "--limit", "0.03")
    assert first.exit_code == 0, first.output
    plain = _results(out)
    assert plain["run"]["limit"] == 0.03
    assert plain["tasks"]["demo_vqa"]["n_samples"] == 3  # ceil(0.03 * 96)
    second = _run(*base, "--limit", "0.03", "--gen-kwargs", "max_new_tokens=2,num_beams=1")
    assert second.exit_code == 0, second.output
    tuned = _results(out)
    assert tuned["run"]["gen_kwargs"] == {"max_new_tokens": 2, "num_beams": 1}
    block = tuned["tasks"]["demo_vqa"]
    assert block["config"]["generation"]["max_new_tokens"] == 2
    assert block["config_hash"] != plain["tasks"]["demo_vqa"]["config_hash"]
    assert block["n_computed"] == 3  # other settings: nothing served from the first run


def test_smaller_limit_does_not_replace_a_fuller_result(tmp_path: Path) -> None:
    out = tmp_path / "run"
    base = ["--model", "tiny-vlm", "--tasks", "demo_vqa", "--output", str(out), "--no-progress"]
    assert _run(*base, "--limit", "4").exit_code == 0
    before = (out / "samples_demo_vqa.jsonl").read_bytes()
    smaller = _run(*base, "--limit", "2")
    assert smaller.exit_code == 1
    assert "already holds 'demo_vqa' on 4 docs and this run has 2" in smaller.output
    assert "--overwrite" in smaller.output
    assert (out / "samples_demo_vqa.jsonl").read_bytes() == before
    assert _results(out)["tasks"]["demo_vqa"]["n_samples"] == 4
    replaced = _run(*base, "--limit", "2", "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert _results(out)["tasks"]["demo_vqa"]["n_samples"] == 2


def test_refused_run_directory_says_which_setting_differs(tmp_path: Path) -> None:
    out = tmp_path / "run"
    base = ["--tasks", "demo_vqa", "--limit", "2", "--output", str(out), "--no-progress"]
    assert _run("--model", "tiny-vlm", *base).exit_code == 0
    other = _run("--model", "tiny-vlm", "--model-args", "dtype=bfloat16", *base)
    assert other.exit_code == 1
    assert "holds results of another model or settings" in other.output
    assert "model.args.dtype: (absent) (there) vs bfloat16 (this run)" in other.output
    assert "model.fingerprint" in other.output


def test_smaller_limit_is_refused_before_any_task_rewrites_its_samples(tmp_path: Path) -> None:
    """demo_vizwiz would grow (2 -> 3 docs) but demo_vqa shrink (4 -> 3): nothing is rewritten,
    so results.json and every samples file still agree (``score`` verifies them)."""
    out = tmp_path / "run"
    common = ["--model", "tiny-vlm", "--output", str(out), "--no-progress"]
    assert _run(*common, "--tasks", "demo_vqa", "--limit", "4").exit_code == 0
    assert _run(*common, "--tasks", "demo_vizwiz", "--limit", "2").exit_code == 0
    files = {p.name: p.read_bytes() for p in out.glob("samples_*.jsonl")}
    refused = _run(*common, "--tasks", "demo_vizwiz,demo_vqa", "--limit", "3")
    assert refused.exit_code == 1
    assert "already holds 'demo_vqa' on 4 docs and this run has 3" in refused.output
    assert {p.name: p.read_bytes() for p in out.glob("samples_*.jsonl")} == files
    fraction = _run(*common, "--tasks", "demo_vqa", "--limit", "0.02")  # ceil(0.02 * 96) = 2
    assert "already holds 'demo_vqa' on 4 docs and this run has 2" in fraction.output
    assert CliRunner().invoke(main, ["score", str(out)]).exit_code == 0

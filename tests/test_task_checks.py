"""Everything a task file says is checked by `validate` and by `run` before the model loads:
metric options and variants, generation values, task names, YAML syntax errors, empty --tasks."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from emu2_eval.cli import main
from emu2_eval.tasks.config import TaskConfigError, load_task_config
from emu2_eval.tasks.registry import get_task

GOOD = """task: {name}
dataset:
  loader: vqa_official
  args: {{questions: "{{demo}}/vqa/questions_val2014.json", images: "{{demo}}/images/val2014"}}
prompt: emu2_vqa_zeroshot
generation: {{num_beams: 1, max_new_tokens: 5}}
filters: [short_answer]
metrics: [{{name: vqa_accuracy, variant: official}}]
"""

BAD_VALUES = [
    (
        "metrics: [{name: vqa_accuracy, variant: official}]",
        "metrics: [{name: vqa_accuracy, varaint: official}]",
        "metric 'vqa_accuracy': unknown option(s) varaint; valid: variant",
    ),
    (
        "metrics: [{name: vqa_accuracy, variant: official}]",
        "metrics: [{name: vqa_accuracy, variant: offical}]",
        "unknown vqa_accuracy variant 'offical'; valid: official, always_normalize",
    ),
    (
        "metrics: [{name: vqa_accuracy, variant: official}]",
        "metrics: [{name: roc_auc, positive: one}]",
        "metric 'roc_auc': option positive must be of type int, got 'one'",
    ),
    (
        "metrics: [{name: vqa_accuracy, variant: official}]",
        "metrics: [{name: clip_i, pairs: some}]",
        "metric 'clip_i': pairs 'some' is not one of",
    ),
    ("max_new_tokens: 5", "max_new_tokens: five", "generation.max_new_tokens must be an integer"),
    ("max_new_tokens: 5", "max_new_tokens: -5", "must be an integer >= 1, got -5"),
    ("num_beams: 1", "num_beams: 0", "generation.num_beams must be an integer >= 1, got 0"),
    ("num_beams: 1", "num_beams: 1, temperature: 0", "generation.temperature must be a number > 0"),
    ("num_beams: 1", "num_beams: 1, do_sample: yes please", "generation.do_sample must be true"),
    ("num_beams: 1", "num_beams: 1, top_p: 1.5", "generation.top_p must be a number in (0, 1]"),
    ("num_beams: 1", "num_beams: 1.5", "generation.num_beams must be an integer >= 1, got 1.5"),
    ("task: checked", "task: a/b", "task name 'a/b' is not a safe file name"),
    ("task: checked", "task: ../up", "task name '../up' is not a safe file name"),
]


@pytest.mark.parametrize(("old", "new", "message"), BAD_VALUES)
def test_validate_refuses_bad_values_naming_the_file(task_dir: Path, old, new, message) -> None:
    text = GOOD.format(name="checked").replace(old, new)
    assert text != GOOD.format(name="checked")
    bad = task_dir / "checked.yaml"
    bad.write_text(text)
    with pytest.raises(TaskConfigError) as info:
        load_task_config(bad)
    assert str(bad) in str(info.value)
    assert message in str(info.value)
    result = CliRunner().invoke(main, ["validate"])
    assert result.exit_code == 1
    assert f"ERROR {bad}: " in result.output and message in result.output


def test_project_metric_options_are_accepted(task_dir: Path) -> None:
    """Every option the bundled tasks use passes (the checks refuse only what is wrong)."""
    (task_dir / "ok.yaml").write_text(GOOD.format(name="ok_task"))
    assert get_task("ok_task").config.metrics[0].options == {"variant": "official"}


def test_run_refuses_a_bad_task_before_loading_the_model(task_dir: Path, tmp_path: Path) -> None:
    """The model (a checkpoint that does not exist) is never reached: the task file is named."""
    bad = task_dir / "checked.yaml"
    bad.write_text(GOOD.format(name="checked").replace("max_new_tokens: 5", "max_new_tokens: -5"))
    result = CliRunner().invoke(
        main,
        ["run", "--model", "tiny-vlm", "--model-args", "pretrained=/no/such/model",
         "--tasks", "checked", "--output", str(tmp_path / "out"), "--no-progress"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert f"Error: {bad}: generation.max_new_tokens must be an integer >= 1" in result.output
    assert "pretrained" not in result.output
    assert not (tmp_path / "out").exists()


def test_yaml_syntax_error_is_named_by_run(task_dir: Path, tmp_path: Path) -> None:
    """`run --tasks X` with X's file broken names the file and line, not 'unknown task'."""
    broken = task_dir / "broken_task.yaml"
    broken.write_text(GOOD.format(name="mytask").replace("prompt:", "prompt: [unclosed\nx:"))
    result = CliRunner().invoke(
        main,
        ["run", "--model", "tiny-vlm", "--tasks", "mytask", "--output", str(tmp_path / "o")],
    )
    assert result.exit_code == 1
    assert f"Error: {broken}: invalid YAML (line" in result.output
    assert "unknown task" not in result.output
    # A name no file seems to define: unknown, with the unreadable files listed.
    with pytest.raises(KeyError, match=r"unknown task 'other'.*could not be read: .*broken_task"):
        get_task("other")


@pytest.mark.parametrize("tasks", ["", " , ,"])
@pytest.mark.parametrize("command", ["run", "sweep"])
def test_empty_task_list_is_an_error(tmp_path: Path, tasks: str, command: str) -> None:
    result = CliRunner().invoke(
        main, [command, "--model", "tiny-vlm", "--tasks", tasks, "--output", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert "--tasks" in result.output and "no task name" in result.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("encoder_args", "message"),
    [
        ("{pretrained: x, colour: red}", "encoder 'clip': unknown option(s) colour; valid:"),
        ("{}", "fewshot encoder 'clip': option(s) pretrained required"),
        ("{pretrained: x, batch_size: many}", "option batch_size must be of type int, got 'many'"),
    ],
)
def test_fewshot_encoder_args_are_checked_without_loading(
    task_dir: Path, encoder_args: str, message: str
) -> None:
    bad = task_dir / "rices.yaml"
    bad.write_text(
        GOOD.format(name="rices")
        + "fewshot:\n  pool: {loader: vqa_official, args: {questions: q.json, images: i}}\n"
        + f"  strategy: rices\n  encoder: clip\n  encoder_args: {encoder_args}\n"
    )
    with pytest.raises(TaskConfigError) as info:
        load_task_config(bad)
    assert str(bad) in str(info.value) and message in str(info.value)

"""Task registry and YAML validation: every problem named with its file, no code from YAML."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from emu2_eval.cli import main
from emu2_eval.core.registry import UnknownNameError
from emu2_eval.tasks.config import TaskConfigError, load_task_config
from emu2_eval.tasks.profiles import PromptError
from emu2_eval.tasks.registry import get_task, task_index, validate_all

GOOD = """
task: {name}
dataset:
  loader: vqa_official
  args: {{questions: "{{demo}}/vqa/questions_val2014.json", images: "{{demo}}/images/val2014"}}
prompt: emu2_vqa_zeroshot
filters: [short_answer]
metrics: [{{name: vqa_accuracy, variant: official}}]
labels: false  # questions only: no answers to score
"""


def test_project_tasks_all_validate() -> None:
    valid, errors = validate_all()
    assert not errors, [str(e) for e in errors]
    assert {"vqav2_val", "okvqa_val", "coco_karpathy_test", "demo_vqa", "demo_caption"} <= set(
        valid
    )


def test_unknown_task_lists_valid_names() -> None:
    with pytest.raises(UnknownNameError) as info:
        get_task("demo_vq")
    message = str(info.value)
    assert (
        "did you mean demo_vqa" in message and "valid tasks:" in message and "vqav2_val" in message
    )


def test_every_problem_is_reported_with_the_file(task_dir: Path) -> None:
    bad = task_dir / "bad.yaml"
    bad.write_text(
        "task: bad\n"
        "dataset: {loader: vqa_oficial, args: {questions: '{nowhere}/q.json'}}\n"
        "prompt: no_such_profile\n"
        "request: chat\n"
        "generation: {beams: 3}\n"
        "filters: [short_answr]\n"
        "metrics: [{name: cider}]\n"
        "colour: red\n"
    )
    with pytest.raises(TaskConfigError) as info:
        load_task_config(bad)
    problems = "\n".join(info.value.problems)
    assert str(bad) in str(info.value)
    for expected in (
        "unknown key(s) colour",
        "unknown data loader 'vqa_oficial'",
        "unknown path root {nowhere}",
        "unknown prompt profile 'no_such_profile'",
        "unknown request kind 'chat'",
        "unknown generation setting(s) beams",
        "unknown filter 'short_answr'",
        "unknown metric 'cider'",
    ):
        assert expected in problems
    assert len(info.value.problems) == 8


def test_validate_command_names_each_bad_file(task_dir: Path) -> None:
    (task_dir / "good.yaml").write_text(GOOD.format(name="good_task"))
    (task_dir / "syntax.yaml").write_text("task: x\ndataset: [unclosed\n")
    (task_dir / "nometric.yaml").write_text(
        GOOD.format(name="nm").replace("metrics:", "x_metrics:")
    )
    result = CliRunner().invoke(main, ["validate"])
    assert result.exit_code == 1
    assert f"ERROR {task_dir / 'syntax.yaml'}: invalid YAML (line" in result.output
    assert f"ERROR {task_dir / 'nometric.yaml'}" in result.output
    assert "'metrics' must be a non-empty list" in result.output
    assert "good.yaml" not in result.output.replace("good_task", "")


def test_yaml_cannot_execute_code(task_dir: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    (task_dir / "evil.yaml").write_text(
        f"task: !!python/object/apply:os.system ['touch {marker}']\n"
    )
    _, errors = validate_all()
    assert not marker.exists()
    assert any("evil.yaml" in e.path for e in errors)


def test_prompt_templates_only_substitute_plain_fields(task_dir: Path, demo_dir) -> None:
    (task_dir / "t.yaml").write_text(
        GOOD.format(name="tmpl").replace(
            "prompt: emu2_vqa_zeroshot",
            "prompt: {query: [{image: image}, {text: '{question} {question.__class__}'}]}",
        )
    )
    task = get_task("tmpl")
    doc = task.load().docs[0]
    text = task.build_request(doc).prompt[1].text
    assert text == f"{doc['question']} {{question.__class__}}"
    (task_dir / "t2.yaml").write_text(
        GOOD.format(name="tmpl2").replace(
            "prompt: emu2_vqa_zeroshot", "prompt: {query: [{text: '{caption}'}]}"
        )
    )
    task = get_task("tmpl2")
    with pytest.raises(PromptError, match="doc 10 has no field 'caption'"):
        task.build_request(task.load().docs[0])


def test_user_task_dirs_override_project_tasks(task_dir: Path) -> None:
    (task_dir / "mine.yaml").write_text(GOOD.format(name="demo_vqa"))
    assert task_index()["demo_vqa"] == task_dir / "mine.yaml"


def test_tasks_command_lists_tasks() -> None:
    result = CliRunner().invoke(main, ["tasks"])
    assert result.exit_code == 0
    assert "demo_vqa" in result.output and "coco_karpathy_test" in result.output


def test_cli_run_rejects_unknown_task_and_model(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["run", "--model", "tiny-vlm", "--tasks", "nope", "--output", str(tmp_path / "o")]
    )
    assert result.exit_code == 1 and "unknown task 'nope'" in result.output
    assert "valid tasks:" in result.output
    result = CliRunner().invoke(
        main, ["run", "--model", "emu3", "--tasks", "demo_vqa", "--output", str(tmp_path / "o")]
    )
    assert result.exit_code == 1 and "unknown model 'emu3'" in result.output
    from emu2_eval.core.registry import MODELS

    assert "valid models: " + ", ".join(MODELS.names()) in result.output

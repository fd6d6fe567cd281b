"""Issue 18: what a run needs besides the model is checked before the model loads, in one clean
``Error:`` listing every problem with its fix."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from emu2_eval.cli import main
from emu2_eval.engine import evaluate as evaluate_module

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to load a model fails the test (the checks must come first)."""

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the preflight stopped the run")

    monkeypatch.setattr(evaluate_module, "load_adapter", refuse)


def test_missing_data_names_files_and_emu2_eval_data_before_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_model: None
) -> None:
    monkeypatch.setenv("EMU2_EVAL_DATA", str(tmp_path / "nodata"))
    result = CliRunner().invoke(
        main,
        ["run", "--model", "tiny-vlm", "--tasks", "vqav2_val,coco_karpathy_test",
         "--output", str(tmp_path / "run")],
    )  # fmt: skip
    assert result.exit_code == 1
    out = result.output
    assert "problem(s) found before loading the model" in out
    assert "v2_OpenEnded_mscoco_val2014_questions.json is missing" in out
    assert "coco/dataset_coco.json is missing" in out  # both tasks, in one error
    assert f"EMU2_EVAL_DATA, now '{tmp_path / 'nodata'}'" in out
    assert "set EMU2_EVAL_DATA to the directory" in out
    assert out.count("fix: {data_root}") == 1  # the fix once, not per file
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_missing_fewshot_pool_and_rices_clip_are_reported_before_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_model: None
) -> None:
    monkeypatch.setenv("EMU2_EVAL_DATA", str(tmp_path / "nodata"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))
    result = CliRunner().invoke(
        main,
        ["run", "--model", "tiny-vlm", "--tasks", "vqav2_val", "--shots", "4",
         "--output", str(tmp_path / "run")],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "few-shot pool file" in result.output
    assert "v2_OpenEnded_mscoco_train2014_questions.json" in result.output
    assert "few-shot CLIP encoder 'openai/clip-vit-large-patch14'" in result.output


T2I_TASK = """\
task: t2i_missing_clip
dataset:
  loader: coco_t2i
  args: {{annotations: "{{demo}}/coco/captions_val2014.json", images: "{{demo}}/images/val2014",
         count: 2, seed: 0}}
prompt: emu2_gen_t2i
request: generate_images
generation: {{num_images_per_prompt: 1, seed: 0, height: 64, width: 64, num_inference_steps: 2}}
metrics:
  - {{name: clip_t, backbone: {backbone}, text_field: caption}}
"""


@pytest.mark.parametrize(
    "backbone, expected",
    [
        ("nobody/no-such-clip", "is not in the Hugging Face cache and the harness is offline"),
        ("/no/such/clip-dir", "does not exist"),
    ],
)
def test_t2i_task_without_its_clip_stops_before_any_image(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    task_dir: Path,
    no_model: None,
    backbone: str,
    expected: str,
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    (task_dir / "t2i.yaml").write_text(T2I_TASK.format(backbone=backbone))
    result = CliRunner().invoke(
        main,
        ["run", "--model", "diffusers-t2i", "--tasks", "t2i_missing_clip",
         "--output", str(tmp_path / "run")],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert f"metric 'clip_t': the CLIP backbone {backbone!r} {expected}" in result.output
    assert not (tmp_path / "run" / "images").exists()


def test_model_without_the_request_kind_is_refused_before_loading(
    tmp_path: Path, no_model: None
) -> None:
    result = CliRunner().invoke(
        main,
        ["run", "--model", "tiny-vlm", "--tasks", "demo_coco_t2i", "--output", str(tmp_path)],
    )
    assert result.exit_code == 1
    assert "needs 'generate_images' requests, which model 'tiny-vlm' does not support" in (
        result.output
    )


def test_no_java_is_one_clean_error_naming_java_17(tmp_path: Path) -> None:
    """A real process with an empty PATH: no traceback, the install command, no model load."""
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {**os.environ, "PATH": str(empty), "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "emu2_eval", "run", "--model", "tiny-vlm", "--tasks",
         "demo_caption", "--output", str(tmp_path / "run")],
        capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "the caption metrics need Java 17" in done.stderr
    assert "apt-get install -y openjdk-17-jre-headless" in done.stderr
    assert "Loading weights" not in done.stderr  # the model never loaded
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "version, ok", [('java version "1.7.0_80"', False), ('openjdk version "17.0.9"', True)]
)
def test_java_version_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str, ok: bool
) -> None:
    from emu2_eval.engine.preflight import java_problems

    fake = tmp_path / "java"
    fake.write_text(f"#!/bin/sh\necho '{version} 2023-10-17' >&2\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    problems = java_problems()
    assert (problems == []) is ok
    if not ok:
        assert "Java 7, too old" in problems[0]


@pytest.mark.skipif(shutil.which("java") is None, reason="needs Java")
def test_present_java_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    from emu2_eval.engine.preflight import java_problems

    assert java_problems() == []

"""Issue 18: the Python API (``emu2_eval.evaluate``, no output directory needed, an already
loaded model accepted), user adapters visible to the CLI without editing the package, and
``accelerate launch --cpu --num_processes 2`` refused instead of silently running one process."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

ECHO_ADAPTER = '''
from emu2_eval.models.base import ModelAdapter
from emu2_eval.core.registry import MODELS


class EchoAdapter(ModelAdapter):
    """Answers every question with a fixed word (a user's adapter, outside the package)."""

    name = "echo"
    supported_kinds = frozenset({"generate"})

    def __init__(self, answer: str = "yes") -> None:
        self.answer = str(answer)

    def fingerprint(self) -> str:
        return "echo-" + self.answer

    def generate(self, requests):
        return [self.answer for _ in requests]
'''


def _cli(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(REPO), **env}
    return subprocess.run(
        [sys.executable, "-m", "emu2_eval", *args],
        capture_output=True, text=True, cwd=cwd, env=environment, timeout=300,
    )  # fmt: skip


def test_plugin_file_registers_an_adapter_the_cli_runs(tmp_path: Path) -> None:
    plugin = tmp_path / "my_adapter.py"
    plugin.write_text(ECHO_ADAPTER + '\nMODELS.register("echo", EchoAdapter)\n')
    listed = _cli(["--plugin", str(plugin), "models"], tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "echo" in listed.stdout.split()
    out = tmp_path / "run"
    done = _cli(
        ["--plugin", str(plugin), "run", "--model", "echo", "--model-args", "answer=2",
         "--tasks", "demo_vqa", "--limit", "3", "--output", str(out), "--no-progress"],
        tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in (out / "samples_demo_vqa.jsonl").read_text().splitlines()]
    assert [row["response"] for row in rows] == ["2", "2", "2"]


def test_entry_point_adapter_is_found_without_any_flag(tmp_path: Path) -> None:
    """An installed distribution declaring group emu2_eval.models (a dist-info on the path)."""
    site = tmp_path / "site"
    (site / "echo_plugin-0.1.dist-info").mkdir(parents=True)
    (site / "echo_plugin.py").write_text(ECHO_ADAPTER)
    info = site / "echo_plugin-0.1.dist-info"
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: echo-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[emu2_eval.models]\necho-ep = echo_plugin:EchoAdapter\n"
    )
    path = f"{site}{os.pathsep}{REPO}"
    listed = _cli(["models"], tmp_path, PYTHONPATH=path)
    assert "echo-ep" in listed.stdout.split(), listed.stderr
    out = tmp_path / "run"
    done = _cli(
        ["run", "--model", "echo-ep", "--tasks", "demo_vqa", "--limit", "2",
         "--output", str(out), "--no-progress"],
        tmp_path, PYTHONPATH=path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads((out / "results.json").read_text())["model"]["name"] == "echo-ep"


def test_broken_plugin_is_one_clean_error(tmp_path: Path) -> None:
    plugin = tmp_path / "broken.py"
    plugin.write_text("import no_such_module_here\n")
    done = _cli(["--plugin", str(plugin), "models"], tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"--plugin {plugin}: importing it failed (ModuleNotFoundError" in done.stderr


def test_api_needs_no_output_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import emu2_eval

    monkeypatch.chdir(tmp_path)
    results = emu2_eval.evaluate(model="tiny-vlm", tasks="demo_v*", limit=2)
    assert set(results["tasks"]) == {
        "demo_vizwiz", "demo_vqa", "demo_vizwiz_test", "demo_vqav2_testdev"
    }  # fmt: skip
    assert results["tasks"]["demo_vqa"]["n_samples"] == 2
    assert "vqa_accuracy" in results["tasks"]["demo_vqa"]["metrics"]
    assert not Path(results["run"]["cache"]).exists()  # the temporary run directory is gone
    assert list(tmp_path.iterdir()) == []
    assert emu2_eval.simple_evaluate is emu2_eval.evaluate


def test_api_takes_an_already_loaded_hf_model(tiny_model_dir: Path, tmp_path: Path) -> None:
    """The answers of a model object wrapped by hf-vlm equal those of the adapter by name."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    import emu2_eval

    model = AutoModelForImageTextToText.from_pretrained(tiny_model_dir)
    processor = AutoProcessor.from_pretrained(tiny_model_dir)
    loaded = emu2_eval.evaluate(
        model=model, processor=processor, tasks=["demo_vqa"], limit=4,
        gen_kwargs={"num_beams": 1}, output=tmp_path / "loaded",
    )  # fmt: skip
    named = emu2_eval.evaluate(
        model="tiny-vlm", tasks=["demo_vqa"], limit=4, gen_kwargs="num_beams=1",
        output=tmp_path / "named",
    )  # fmt: skip
    assert loaded["model"]["name"] == "hf-vlm"
    assert loaded["model"]["args"] == {"pretrained": str(tiny_model_dir), "loaded_object": True}
    assert loaded["run"]["gen_kwargs"] == named["run"]["gen_kwargs"] == {"num_beams": 1}

    def answers(run: Path) -> list[str]:
        lines = (run / "samples_demo_vqa.jsonl").read_text().splitlines()
        return [json.loads(line)["response"] for line in lines]

    assert answers(tmp_path / "loaded") == answers(tmp_path / "named")
    with pytest.raises(TypeError, match="needs its processor"):
        emu2_eval.evaluate(model=model, tasks=["demo_vqa"])


def test_readme_python_api_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's Python API block, executed as written."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Python API", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, flags=re.S)
    assert code is not None
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code.group(1), "README.md (Python API)", "exec"), namespace)
    assert "results" in namespace


def test_cpu_launch_of_two_processes_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """What `accelerate launch --cpu --num_processes 2` leaves in the environment."""
    from emu2_eval.engine import distributed

    monkeypatch.setenv("ACCELERATE_USE_CPU", "True")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with pytest.raises(distributed.LaunchError, match="accelerate launch --multi_gpu"):
        distributed.create_context()
    monkeypatch.delenv("MASTER_ADDR")  # --cpu with one process: a plain run
    assert distributed.create_context().world_size == 1


@pytest.mark.skipif(
    shutil.which("accelerate") is None
    and not Path(sys.executable).with_name("accelerate").exists(),
    reason="needs the accelerate launcher",
)
def test_accelerate_cpu_two_processes_stops_with_the_recipe(tmp_path: Path) -> None:
    launcher = shutil.which("accelerate") or str(Path(sys.executable).with_name("accelerate"))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [launcher, "launch", "--cpu", "--num_processes", "2", "--num_machines", "1",
         "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "emu2_eval", "run",
         "--model", "tiny-vlm", "--tasks", "demo_vqa", "--limit", "2",
         "--output", str(tmp_path / "run")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert done.returncode != 0
    assert "`accelerate launch --cpu` started one process" in done.stderr
    assert "torchrun --nproc_per_node N" in done.stderr
    assert not (tmp_path / "run" / "results.json").exists()


def test_api_takes_an_already_loaded_diffusers_pipeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_sd_dir: Path, tiny_clip_dir: Path
) -> None:
    """A loaded pipeline is wrapped in diffusers-t2i; its images equal those of the adapter
    built by name (same seeds per image), read back from the run directories."""
    import yaml
    from diffusers import StableDiffusionPipeline

    import emu2_eval

    tasks = tmp_path / "tasks"
    tasks.mkdir()
    raw = yaml.safe_load((REPO / "tasks" / "generation" / "demo_coco_t2i.yaml").read_text())
    raw.update(task="tiny_t2i")
    raw["generation"].update(height=32, width=32, num_inference_steps=1)
    raw["metrics"] = [{"name": "clip_t", "backbone": str(tiny_clip_dir), "device": "cpu",
                       "text_field": "caption"}]  # fmt: skip
    (tasks / "tiny_t2i.yaml").write_text(yaml.safe_dump(raw))
    pipe = StableDiffusionPipeline.from_pretrained(tiny_sd_dir, safety_checker=None)
    loaded = emu2_eval.evaluate(
        model=pipe, tasks="tiny_t2i", limit=2, output=tmp_path / "a", include_path=tasks
    )
    named = emu2_eval.evaluate(
        model="diffusers-t2i", model_args={"pretrained": str(tiny_sd_dir), "device": "cpu"},
        tasks="tiny_t2i", limit=2, output=tmp_path / "b", include_path=[tasks],
    )  # fmt: skip
    assert loaded["model"]["name"] == "diffusers-t2i"
    assert loaded["model"]["args"]["loaded_object"] is True
    assert loaded["tasks"]["tiny_t2i"]["metrics"] == named["tasks"]["tiny_t2i"]["metrics"]
    images_a = sorted(p.read_bytes() for p in (tmp_path / "a" / "images").rglob("*.png"))
    images_b = sorted(p.read_bytes() for p in (tmp_path / "b" / "images").rglob("*.png"))
    assert images_a and images_a == images_b


PLUGIN_PACKAGE = """
from pathlib import Path

from emu2_eval.scoring.metrics.base import Metric, MetricResult

TASK_DIR = Path(__file__).parent / "yaml"


def shout(text: str) -> str:
    return text.upper()


class AnswerLength(Metric):
    name = "answer_length"
    higher_is_better = False

    def score(self, samples):
        lengths = [float(len(s.prediction)) for s in samples]
        return MetricResult(
            summary={"answer_length": sum(lengths) / len(lengths)},
            per_sample={s.doc_id: {"answer_length": n} for s, n in zip(samples, lengths)},
        )
"""


def test_entry_point_metric_filter_and_task_run_without_any_flag(tmp_path: Path) -> None:
    """One installed distribution declares a metric, a filter and a task directory (groups
    emu2_eval.metrics, emu2_eval.filters, emu2_eval.tasks); a plain `run` finds all three."""
    site = tmp_path / "site"
    package = site / "len_plugin"
    (package / "yaml").mkdir(parents=True)
    (package / "__init__.py").write_text(PLUGIN_PACKAGE)
    demo = (REPO / "tasks" / "demo" / "demo_vqa.yaml").read_text()
    task = demo.replace("task: demo_vqa", "task: plugin_len")
    task = task.replace("filters: [short_answer]", "filters: [short_answer, shout]")
    task = task.replace("  - name: vqa_accuracy\n    variant: official", "  - name: answer_length")
    assert "shout" in task and "answer_length" in task
    (package / "yaml" / "plugin_len.yaml").write_text(task)
    info = site / "len_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: len-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[emu2_eval.metrics]\nanswer_length = len_plugin:AnswerLength\n\n"
        "[emu2_eval.filters]\nshout = len_plugin:shout\n\n"
        "[emu2_eval.tasks]\nlen = len_plugin:TASK_DIR\n"
    )
    listed = _cli(["metrics"], tmp_path, PYTHONPATH=f"{site}{os.pathsep}{REPO}")
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line.split()[1:] for line in listed.stdout.splitlines() if line}
    assert rows["answer_length"] == ["entry", "point", "(len-plugin)", "len_plugin:AnswerLength"]
    assert rows["shout"] == ["entry", "point", "(len-plugin)", "len_plugin:shout"]
    assert rows["vqa_accuracy"][0] == "built-in"
    out = tmp_path / "run"
    done = _cli(
        ["run", "--model", "tiny-vlm", "--tasks", "plugin_len", "--limit", "3",
         "--output", str(out), "--no-progress"],
        tmp_path, PYTHONPATH=f"{site}{os.pathsep}{REPO}",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = (out / "samples_plugin_len.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["filtered"] for r in rows] == [r["filtered"].upper() for r in rows]
    assert any(r["filtered"] != r["filtered"].lower() for r in rows)  # letters were shouted
    metrics = json.loads((out / "results.json").read_text())["tasks"]["plugin_len"]["metrics"]
    assert metrics["answer_length"] == sum(len(r["filtered"]) for r in rows) / len(rows)

"""Issue 18: mistakes a new user makes, each ending in one clean ``Error:`` before any model loads.

Every row runs the real CLI (in process) with one mistake. It must exit non-zero with exactly one
``Error:`` that names the faulty input, no traceback, and no model loaded: no adapter was built
(``load_adapter`` may start, e.g. to check argument names, but never returns one) and no
transformers / diffusers ``from_pretrained`` ran.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from emu2_eval.cli import main
from emu2_eval.engine import evaluate as evaluate_module

RUN = ["run", "--no-progress"]
TINY = ["--model", "tiny-vlm"]

# (id, CLI arguments after `run`, environment changes, texts the error must contain)
MISTAKES = [
    ("unknown task", [*TINY, "--tasks", "demo_vqa2"], {}, ["unknown task 'demo_vqa2'", "demo_vqa"]),
    (
        "typo in the model name",
        ["--model", "tiny_vlm", "--tasks", "demo_vqa"],
        {},
        ["unknown model 'tiny_vlm'", "did you mean tiny-vlm"],
    ),
    (
        "data not downloaded",
        [*TINY, "--tasks", "vqav2_val"],
        {"EMU2_EVAL_DATA": "{tmp}/nodata"},
        ["is missing", "EMU2_EVAL_DATA"],
    ),
    ("negative --limit", [*TINY, "--tasks", "demo_vqa", "--limit", "-3"], {}, ["--limit", "'-3'"]),
    (
        "--gen-kwargs without a value",
        [*TINY, "--tasks", "demo_vqa", "--gen-kwargs", "max_new_tokens"],
        {},
        ["--gen-kwargs", "'max_new_tokens' is not key=value"],
    ),
    (
        "--shots on a 0-shot task",
        [*TINY, "--tasks", "demo_caption", "--shots", "4"],
        {},
        ["'demo_caption' has no 'fewshot' pool"],
    ),
    (
        "pretrained path that does not exist",
        [
            "--model",
            "hf-vlm",
            "--model-args",
            "pretrained={tmp}/no_such_ckpt",
            "--tasks",
            "demo_vqa",
        ],
        {},
        ["no_such_ckpt does not exist"],
    ),
    (
        "model argument given twice",
        [*TINY, "--model-args", "device=cpu,device=cpu", "--tasks", "demo_vqa"],
        {},
        ["'device' given twice"],
    ),
    (
        "misspelt model argument",
        [*TINY, "--model-args", "pretraind=x", "--tasks", "demo_vqa"],
        {},
        ["does not accept argument(s) pretraind", "pretrained"],
    ),
    (
        "smaller --limit into a fuller run directory",
        [*TINY, "--tasks", "demo_vqa", "--limit", "2", "--output", "{full_run}"],
        {},
        ["already holds 'demo_vqa' on 4 docs and this run has 2", "--overwrite"],
    ),
    (
        "no Java for the caption metrics",
        [*TINY, "--tasks", "demo_caption"],
        {"PATH": "{tmp}/empty_bin"},
        ["need Java 17", "openjdk-17"],
    ),
    (
        "--device cuda without a GPU",
        [*TINY, "--tasks", "demo_vqa", "--device", "cuda"],
        {},
        ["device 'cuda'", "no CUDA GPU is visible", "--device cpu"],
    ),
]


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path, demo_dir) -> Path:
    """A run directory holding demo_vqa on 4 docs (the model loads here, before the spy)."""
    out = tmp_path_factory.mktemp("full") / "run"
    result = CliRunner().invoke(
        main, [*RUN, *TINY, "--tasks", "demo_vqa", "--limit", "4", "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def model_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every adapter built and every from_pretrained call (the test expects none)."""
    from diffusers import DiffusionPipeline
    from transformers import PreTrainedModel

    loads: list[str] = []
    original = evaluate_module.load_adapter

    def spy_adapter(*args, **kwargs):
        adapter = original(*args, **kwargs)
        loads.append(f"adapter {type(adapter).__name__}")
        return adapter

    monkeypatch.setattr(evaluate_module, "load_adapter", spy_adapter)
    for cls in (PreTrainedModel, DiffusionPipeline):
        load = cls.from_pretrained.__func__

        def spy_load(klass, *args, _load=load, **kwargs):
            loads.append(f"{klass.__name__}.from_pretrained")
            return _load(klass, *args, **kwargs)

        monkeypatch.setattr(cls, "from_pretrained", classmethod(spy_load))
    return loads


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [pytest.param(a, e, x, id=name) for name, a, e, x in MISTAKES],
)
def test_a_new_user_mistake_is_one_clean_error_before_the_model_loads(
    args: list[str],
    env: dict[str, str],
    expected: list[str],
    tmp_path: Path,
    full_run: Path,
    model_loads: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if "--device" in args:
        import torch

        if torch.cuda.is_available():
            pytest.skip("a CUDA GPU is visible here: --device cuda is not a mistake")
    (tmp_path / "empty_bin").mkdir()
    fill = {"tmp": str(tmp_path), "full_run": str(full_run)}
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(**fill))
    args = [a.format(**fill) for a in args]
    out = tmp_path / "out"
    if "--output" not in args:
        args += ["--output", str(out)]
    before = (full_run / "results.json").read_bytes()

    result = CliRunner().invoke(main, [*RUN, *args])

    text = result.output
    assert result.exit_code != 0, text
    assert isinstance(result.exception, SystemExit), repr(result.exception)  # handled, no crash
    assert text.count("Error:") == 1, text
    assert "Traceback" not in text
    for piece in expected:
        assert piece in text, f"{piece!r} not in {text!r}"
    assert model_loads == [], f"a model loaded before the error: {model_loads}"
    assert "Loading weights" not in text and "loaded in" not in text
    assert not out.exists()  # nothing written for a refused run
    assert (full_run / "results.json").read_bytes() == before

"""Issue 18: README's generation demo runs offline on a fresh machine and prints its table.

The command is read from README's generation demo block (and must be the one ``make demo-gen``
runs), then run in a fresh ``EMU2_EVAL_HOME`` with every socket connection refused: the tiny
text-to-image pipeline and the tiny CLIP / DINO backbones must be built locally, not fetched.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

import pytest

from tests.helpers import run_offline

REPO = Path(__file__).resolve().parents[1]


def readme_gen_command() -> list[str]:
    """The ``emu2-eval run --model tiny-t2i ...`` line of README's generation demo."""
    lines = re.findall(r"^emu2-eval run --model tiny-t2i .*$", (REPO / "README.md").read_text(),
                       flags=re.M)  # fmt: skip
    assert len(lines) == 1, f"README should show the generation demo command once: {lines}"
    return shlex.split(lines[0])


def test_make_demo_gen_runs_the_readme_command() -> None:
    target = (REPO / "Makefile").read_text().split("demo-gen: setup\n", 1)[1].splitlines()[0]
    assert shlex.split(target.strip())[1:] == readme_gen_command()[1:]


def test_builtin_backbone_names_resolve_to_built_checkpoints(isolated_home: Path) -> None:
    from emu2_eval.core.tiny_backbones import resolve_backbone
    from emu2_eval.engine.preflight import checkpoint_problem

    assert checkpoint_problem("tiny-clip") is None  # preflight builds it
    clip = Path(resolve_backbone("tiny-clip"))
    assert clip.parent == isolated_home / "models" and (clip / "config.json").is_file()
    dino = Path(resolve_backbone("tiny-dino"))
    assert json.loads((dino / "config.json").read_text())["model_type"] == "vit"
    assert resolve_backbone("openai/clip-vit-base-patch32") == "openai/clip-vit-base-patch32"


@pytest.mark.slow
def test_readme_generation_demo_runs_offline_and_prints_its_table(tmp_path: Path) -> None:
    args = readme_gen_command()[1:]
    args[args.index("--output") + 1] = str(tmp_path / "run")
    env = {**os.environ, "EMU2_EVAL_HOME": str(tmp_path / "fresh_home"), "HF_HUB_OFFLINE": "1"}
    env["PYTHONPATH"] = str(REPO)
    done = run_offline([*args, "--no-progress"], timeout=600, env=env, cwd=tmp_path)
    table = [line for line in done.stdout.splitlines() if line.startswith("| tiny-t2i")]
    rows = {(cells[2].strip(), cells[3].strip()) for cells in (r.split("|") for r in table)}
    assert {("demo_dreambench_t2i", "dino"), ("demo_dreambench_t2i", "clip_t"),
            ("demo_coco_t2i", "clip_i_vitl"), ("demo_coco_t2i", "clip_t_vitb")} <= rows  # fmt: skip
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["tasks"]["demo_dreambench_t2i"]["n_scored"] == 12
    assert results["tasks"]["demo_coco_t2i"]["n_scored"] == 8
    models = tmp_path / "fresh_home" / "models"
    assert {p.name for p in models.iterdir()} >= {"tiny-t2i-v1", "tiny-clip-v1", "tiny-dino-v1"}

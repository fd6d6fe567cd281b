"""``emu2-eval reproduce tableN``: recipes, refusals, demo stand-ins, resume, partial marking."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from emu2_eval.cli import main
from emu2_eval.engine.reproduce import RecipeError, load_recipe, plan
from emu2_eval.reporting.paper import paper_tables
from tests.gen_factories import requires_gen_assets


def _reproduce(*args: str):
    return CliRunner().invoke(main, ["reproduce", *args, "--no-progress"])


@pytest.mark.parametrize("table", ["table2", "table3"])
def test_reproduce_refuses_tables_without_tasks(table: str, tmp_path: Path) -> None:
    result = _reproduce(table, "--model", "tiny-vlm", "--output", str(tmp_path / "out"))
    assert result.exit_code != 0
    assert "cannot be reproduced yet" in result.output and "issue 16" in result.output
    assert f"recipes/{table}.yaml" in result.output
    assert not (tmp_path / "out").exists()


def test_reproduce_refuses_unknown_table_and_bad_options(tmp_path: Path) -> None:
    result = _reproduce("table9", "--model", "tiny-vlm", "--output", str(tmp_path))
    assert result.exit_code != 0 and "valid: table1, table2" in result.output
    recipe = load_recipe("table5")
    with pytest.raises(RecipeError, match="not a task of table5; its tasks: dreambench"):
        plan(recipe, tasks_map={"coco_t2i_30k": "demo_coco_t2i"})
    with pytest.raises(RecipeError, match="--shots 4 is not in the recipe"):
        plan(recipe, demo=True, shots=[4])
    with pytest.raises(RecipeError, match="do not exist"):
        plan(recipe, tasks_map={"dreambench": "no_such_task"})


def test_recipes_pin_the_paper_settings() -> None:
    """Paper mode applies the paper's sampler; demo mode keeps the demo tasks' own settings."""
    sampler = {"height": 1024, "width": 1024, "num_inference_steps": 50, "guidance_scale": 3.0}
    for table in ("table4", "table5"):
        recipe = load_recipe(table)
        assert recipe.gen_kwargs == sampler and recipe.paper_model == "Emu2-Gen"
        assert plan(recipe).gen_kwargs == sampler
        assert plan(recipe, demo=True).gen_kwargs == {}
    table1 = load_recipe("table1")
    assert table1.paper_model == "Emu2-37B"
    assert {t.task for t in table1.tasks} == {
        "vqav2_val",
        "okvqa_val",
        "vizwiz_val",
        "textvqa_val",
        "hateful_memes_test_seen",
    }
    assert all(t.shots == [0, 4, 8, 16] for t in table1.tasks)
    assert plan(table1, demo=True).runs["vqav2_val"] == "demo_vqa"


def _okvqa_results(model: str, info: dict, variant: str = "official") -> dict:
    """A results.json of okvqa_val at 0 shots as the engine writes it (paper split: val)."""
    from emu2_eval.tasks.registry import get_task

    block = {
        "metrics": {"vqa_accuracy": 27.0},
        "intervals": {"vqa_accuracy": {"low": 25.0, "high": 29.0}},
        "units": {"vqa_accuracy": "percent"},
        "metric_options": {"vqa_accuracy": {"variant": variant}},
        "fewshot": {"shots": 0},
        "prompt_profile": {"name": "emu2_vqa_zeroshot"},
        "reference": dict(get_task("okvqa_val").config.reference),
    }
    return {"model": {"name": model, "info": info}, "tasks": {"okvqa_val": block}}


def test_paper_run_is_comparable_unless_model_or_scorer_differ() -> None:
    """The recipe's model and scorer pins: the paper's set-up compares, any other does not."""
    from emu2_eval.reporting.reproduction import cell_rows

    recipe = load_recipe("table1")
    scorer = next(t.scorer for t in recipe.tasks if t.task == "okvqa_val")

    def row(results: dict) -> pd.Series:
        args = ("okvqa_val", "okvqa_val", 0, "Emu2-37B", False, scorer, recipe.model)
        return cell_rows(results, *args).iloc[0]

    same = row(_okvqa_results("emu2", {"variant": "base"}))
    assert same.comparable and same.paper == 26.7 and same.paper_in_interval and not same.reason
    chat = row(_okvqa_results("emu2", {"variant": "chat"}))
    assert not chat.comparable and chat.paper_in_interval is None
    assert chat.reason == "model variant: variant chat, the paper's is base"
    info = {"model_version": "base"}
    normalised = row(_okvqa_results("emu2-remote", info, variant="always_normalize"))
    assert not normalised.comparable
    assert normalised.reason == (
        "scorer: vqa_accuracy variant always_normalize, the paper's is official"
    )


def test_reproduce_table1_demo_with_tiny_vlm(tmp_path: Path) -> None:
    out = tmp_path / "t1"
    args = ["table1", "--demo", "--model", "tiny-vlm", "--shots", "0,4", "--limit", "3"]
    result = _reproduce(*args, "--output", str(out))
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "PARTIAL" in result.output and "DEMO / STAND-IN" in result.output
    table = pd.read_csv(out / "reproduce_table1.csv")
    paper = paper_tables()
    wanted = paper[
        (paper.table == "Table 1")
        & (paper.model == "Emu2-37B")
        & (paper.shots.isin([0, 4]))
        & (paper.flamingo_text_examples == 0)
    ]
    got = set(zip(table.benchmark, table.metric, table.shots, strict=True))
    assert got == set(zip(wanted.benchmark, wanted.metric, wanted.shots, strict=True))
    assert len(table) == 10 and table.measured.notna().all()
    assert not table.comparable.any() and table.partial.all() and table.stand_in.all()
    assert table.reason.str.startswith("stand-in: demo_").all()
    assert table.reason.str.contains("model: tiny-vlm is not the paper's model").all()
    vqav2 = table[(table.paper_task == "vqav2_val") & (table.shots == 4)].iloc[0]
    assert vqav2.paper == 67.0 and "split: measured on val, the paper on test-dev" in vqav2.reason
    record = json.loads((out / "reproduce.json").read_text())
    assert record["partial"] and record["limit"] == 3 and record["shots_subset"] == [0, 4]
    assert record["stand_ins"]["hateful_memes_test_seen"] == "demo_hateful_memes"
    cell = json.loads((out / "cells/demo_vqa/shots4-seed0/results.json").read_text())
    assert cell["tasks"]["demo_vqa"]["fewshot"]["shots"] == 4
    # resumes: complete cells are skipped, not re-run
    stamp = (out / "cells/demo_vqa/shots4-seed0/results.json").stat().st_mtime_ns
    again = _reproduce(*args, "--output", str(out))
    assert again.exit_code == 0, again.output
    assert (out / "cells/demo_vqa/shots4-seed0/results.json").stat().st_mtime_ns == stamp
    assert pd.read_csv(out / "reproduce_table1.csv").equals(table)


@requires_gen_assets
def test_reproduce_table5_demo_with_tiny_emu2_gen(
    tiny_emu2_gen_dir: Path,
    gen_task_dir: Path,
    tmp_path: Path,
) -> None:
    """The demo DreamBench (tiny CLIP/DINO variant) stands in for DreamBench, end to end."""
    out = tmp_path / "t5"
    result = _reproduce(
        "table5",
        "--tasks-map",
        "dreambench=tiny_dreambench",
        "--model",
        "emu2-gen",
        "--model-args",
        f"pretrained={tiny_emu2_gen_dir},device=cpu",
        "--include-path",
        str(gen_task_dir),
        "--limit",
        "3",
        "--output",
        str(out),
    )
    assert result.exit_code == 0, result.output + repr(result.exception)
    table = pd.read_csv(out / "reproduce_table5.csv")
    assert list(table.metric) == ["dino", "clip_i", "clip_t"]
    assert list(table.paper) == [0.766, 0.85, 0.287]
    assert table.measured.notna().all() and table.low.notna().all() and table.high.notna().all()
    assert not table.comparable.any() and table.partial.all()
    assert table.reason.str.contains("stand-in: tiny_dreambench runs in place of dreambench").all()
    assert table.reason.str.contains("reference_image: first, the paper used kosmos_g").all()
    dino = table[table.metric == "dino"].iloc[0]
    assert "scorer: dino backbone " in dino.reason
    assert "the paper's is facebook/dino-vits16" in dino.reason
    record = json.loads((out / "reproduce.json").read_text())
    assert record["gen_kwargs"] == {} and record["partial"] and record["table"] == "Table 5"
    assert "PARTIAL" in (out / "reproduce_table5.md").read_text()


def test_reproduce_checks_every_task_before_the_model_loads(tmp_path: Path, monkeypatch) -> None:
    """Paper mode without the data: one error listing the missing files, nothing written."""
    monkeypatch.setenv("EMU2_EVAL_DATA", str(tmp_path / "no_data"))
    out = tmp_path / "out"
    result = _reproduce("table1", "--model", "tiny-vlm", "--output", str(out))
    assert result.exit_code != 0
    assert "found before loading the model" in result.output
    assert "hateful_memes_test_seen" in result.output and "vqav2_val" in result.output
    assert not out.exists()


@requires_gen_assets
def test_reproduce_table4_demo_with_tiny_emu2_gen(
    tiny_emu2_gen_dir: Path,
    gen_task_dir: Path,
    tmp_path: Path,
) -> None:
    """COCO text-to-image and autoencoding stand-ins: one row per Table 4 metric of Emu2-Gen."""
    out = tmp_path / "t4"
    result = _reproduce(
        "table4",
        "--tasks-map",
        "coco_t2i_30k=tiny_coco,coco_autoencode_30k=tiny_autoencode",
        "--model",
        "emu2-gen",
        "--model-args",
        f"pretrained={tiny_emu2_gen_dir},device=cpu",
        "--include-path",
        str(gen_task_dir),
        "--limit",
        "2",
        "--output",
        str(out),
    )
    assert result.exit_code == 0, result.output + repr(result.exception)
    table = pd.read_csv(out / "reproduce_table4.csv")
    got = {(r.benchmark, r.metric): r.paper for r in table.itertuples()}
    assert got == {
        ("COCO-T2I-30K", "clip_i_vitl"): 0.686,
        ("COCO-T2I-30K", "clip_t_vitb"): 0.297,
        ("COCO-Autoencoding", "clip_i_vitl"): 0.907,
    }
    assert table.measured.notna().all() and not table.comparable.any() and table.partial.all()
    assert table.reason.str.contains("the paper's is openai/clip-vit-").all()

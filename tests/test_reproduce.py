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


def _reproduce(*args: str):
    return CliRunner().invoke(main, ["reproduce", *args, "--no-progress"])


def _tiny_vlm_demo_table(number: int, out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``reproduce tableN --demo`` on tiny-vlm (2 docs a task): its table, and the paper's
    Emu2-Chat rows of that table."""
    result = _reproduce(f"table{number}", "--demo", "--model", "tiny-vlm", "--limit", "2",
                        "--output", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output + repr(result.exception)
    paper = paper_tables()
    wanted = paper[(paper.table == f"Table {number}") & (paper.model == "Emu2-Chat")]
    return pd.read_csv(out / f"reproduce_table{number}.csv"), wanted


@pytest.fixture
def reproduce_with_tiny_emu2_gen(tiny_emu2_gen_dir: Path, gen_task_dir: Path, tmp_path: Path):
    """``run(table, tasks_map, limit)``: a generation table on the tiny Emu2-Gen checkpoint, its
    tasks mapped to stand-ins; returns the output folder and the table's CSV."""

    def run(table: str, tasks_map: str, limit: int) -> tuple[Path, pd.DataFrame]:
        out = tmp_path / table
        result = _reproduce(
            table,
            "--tasks-map",
            tasks_map,
            "--model",
            "emu2-gen",
            "--model-args",
            f"pretrained={tiny_emu2_gen_dir},device=cpu",
            "--include-path",
            str(gen_task_dir),
            "--limit",
            str(limit),
            "--output",
            str(out),
        )
        assert result.exit_code == 0, result.output + repr(result.exception)
        return out, pd.read_csv(out / f"reproduce_{table}.csv")

    return run


def test_reproduce_refuses_a_recipe_with_missing_tasks(tmp_path: Path, monkeypatch) -> None:
    """A recipe that lists ``missing:`` work refuses and names it, writing nothing."""
    import emu2_eval.engine.reproduce as reproduce

    recipe = tmp_path / "table2.yaml"
    recipe.write_text("table: Table 2\npaper_model: Emu2-Chat\nmissing: [a GQA task]\ntasks: []\n")
    monkeypatch.setattr(reproduce, "recipe_path", lambda name: recipe)
    result = _reproduce("table2", "--model", "tiny-vlm", "--output", str(tmp_path / "out"))
    assert result.exit_code != 0
    assert "cannot be reproduced yet" in result.output and "a GQA task" in result.output
    assert str(recipe) in result.output.replace("\n", "")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_reproduce_table2_demo_with_tiny_vlm(tmp_path: Path) -> None:
    """Table 2 runs: every Emu2-Chat column has a task (demo stand-ins here, never comparable);
    the GPT-judged columns stay unmeasured until `emu2-eval judge` grades them."""
    table, wanted = _tiny_vlm_demo_table(2, tmp_path / "t2")
    assert set(table.benchmark) == set(wanted.benchmark) and len(table) == len(wanted) == 11
    judged = table[table.metric == "gpt4_score"]
    assert set(judged.benchmark) == {"MM-Vet", "TouchStone"} and judged.measured.isna().all()
    assert table[table.metric != "gpt4_score"].measured.notna().all()
    assert not table.comparable.any() and table.stand_in.all() and table.partial.all()
    vqav2 = table[table.benchmark == "VQAv2"].iloc[0]
    assert "split: measured on val, the paper on test-dev" in vqav2.reason


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


@pytest.mark.slow
def test_reproduce_table3_demo_with_tiny_vlm(tmp_path: Path) -> None:
    """Table 3 runs: every REC column has a task; the demo stand-in is never comparable."""
    table, wanted = _tiny_vlm_demo_table(3, tmp_path / "t3")
    got = set(zip(table.benchmark, table.paper_split, table.paper, strict=True))
    assert got == set(zip(wanted.benchmark, wanted.split, wanted.value, strict=True))
    assert len(table) == 8 and (table.metric == "iou_accuracy").all()
    assert not table.comparable.any() and table.stand_in.all()
    assert table.reason.str.contains("model: tiny-vlm is not the paper's model").all()


def test_reproduce_table5_demo_with_tiny_emu2_gen(reproduce_with_tiny_emu2_gen) -> None:
    """The demo DreamBench (tiny CLIP/DINO variant) stands in for DreamBench, end to end."""
    out, table = reproduce_with_tiny_emu2_gen("table5", "dreambench=tiny_dreambench", limit=3)
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


def test_reproduce_table4_demo_with_tiny_emu2_gen(reproduce_with_tiny_emu2_gen) -> None:
    """COCO text-to-image and autoencoding stand-ins: one row per Table 4 metric of Emu2-Gen."""
    tasks_map = "coco_t2i_30k=tiny_coco,coco_autoencode_30k=tiny_autoencode"
    _, table = reproduce_with_tiny_emu2_gen("table4", tasks_map, limit=2)
    got = {(r.benchmark, r.metric): r.paper for r in table.itertuples()}
    assert got == {
        ("COCO-T2I-30K", "clip_i_vitl"): 0.686,
        ("COCO-T2I-30K", "clip_t_vitb"): 0.297,
        ("COCO-Autoencoding", "clip_i_vitl"): 0.907,
    }
    assert table.measured.notna().all() and not table.comparable.any() and table.partial.all()
    assert table.reason.str.contains("the paper's is openai/clip-vit-").all()


def test_seed_summary_gives_mean_and_sample_std_per_number() -> None:
    """Two seeds of okvqa_val with different numbers: mean, ddof-1 std, min, max, difference."""
    import numpy as np

    from emu2_eval.reporting.reproduction import cell_rows, seed_summary

    frames = []
    for seed, value in ((0, 27.0), (1, 30.5)):
        results = _okvqa_results("emu2", {"variant": "base"})
        results["tasks"]["okvqa_val"]["metrics"]["vqa_accuracy"] = value
        frames.append(cell_rows(results, "okvqa_val", "okvqa_val", seed, "Emu2-37B", False))
    summary = seed_summary(pd.concat(frames, ignore_index=True))
    assert len(summary) == 1
    row = summary.iloc[0]
    assert row.n_seeds == 2 and row["mean"] == pytest.approx(28.75)
    assert row["std"] == pytest.approx(float(np.std([27.0, 30.5], ddof=1)))
    assert (row["min"], row["max"]) == (27.0, 30.5)
    assert row.difference == pytest.approx(28.75 - 26.7)
    single = seed_summary(frames[0]).iloc[0]
    assert single.n_seeds == 1 and pd.isna(single["std"])


def test_reproduce_with_several_seeds_writes_the_over_seeds_table(tmp_path: Path) -> None:
    out = tmp_path / "seeds"
    args = ["table1", "--demo", "--model", "tiny-vlm", "--shots", "0", "--limit", "2"]
    result = _reproduce(*args, "--seeds", "0,1", "--output", str(out))
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "Over seeds 0,1" in result.output
    table = pd.read_csv(out / "reproduce_table1.csv")
    assert sorted(set(table.seed.dropna().astype(int))) == [0, 1]
    seeds = pd.read_csv(out / "reproduce_table1_seeds.csv")
    assert (seeds.n_seeds == 2).all() and len(seeds) == 5
    for row in seeds.itertuples():
        values = table[(table.task == row.task) & (table.metric == row.metric)].measured
        assert row.mean == pytest.approx(values.mean())
    record = json.loads((out / "reproduce.json").read_text())
    assert record["seeds"] == [0, 1] and len(record["over_seeds"]) == 5
    assert (out / "cells/demo_vqa/shots0-seed1/results.json").is_file()
    bad = _reproduce(*args, "--seeds", "1,1", "--output", str(tmp_path / "bad"))
    assert bad.exit_code != 0 and "distinct" in bad.output


@pytest.mark.parametrize("table", ["table1", "table2", "table3", "table4", "table5"])
def test_recipe_scorer_pins_agree_with_their_tasks(table: str) -> None:
    """The paper task run as it is must pass its recipe's pins: a pin that differs from the
    task's metric options (TextVQA pinned `official`, run `always_normalize`), or keyed by a
    metric key the comparison cannot find (`clip_i_vitl` of metric `clip_i`), would mark the
    paper run itself "not comparable"."""
    from emu2_eval.core.registry import METRICS
    from emu2_eval.reporting.paper import scorer_mismatches
    from emu2_eval.tasks.registry import get_task

    for entry in load_recipe(table).tasks:
        specs = get_task(entry.task).config.metrics
        options = {s.name: METRICS.get(s.name)(**s.options).options for s in specs}
        block = {"metrics": {}, "metric_options": options}
        for metric in entry.scorer:
            assert scorer_mismatches(block, metric, entry.scorer) == [], (table, entry.task)

"""Issue 18: sweeps check before the model loads, label their bars and cells, and say when
their seeds cannot matter; resumed runs say how much is cached."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from emu2_eval.cli import main
from tests.helpers import demo_vqa_loader


def _task_file(task_dir: Path, name: str, strategy: str, pool: str = "{demo}") -> str:
    """demo_vqa under another name, with this strategy and few-shot pool root."""
    (task_dir / f"{name}.yaml").write_text(
        f"""task: {name}
dataset: {demo_vqa_loader()}
prompt: emu2_vqa_zeroshot
generation: {{num_beams: 1, max_new_tokens: 3}}
filters: [short_answer]
metrics: [vqa_accuracy]
fewshot:
  pool: {demo_vqa_loader("train2014", pool)}
  strategy: {strategy}
  encoder: color_histogram
  profile: emu2_vqa_fewshot
"""
    )
    return name


def test_seed_warnings_name_the_cells_whose_seeds_give_identical_runs(task_dir: Path) -> None:
    from emu2_eval.engine.seed_notes import seed_warnings
    from emu2_eval.tasks.registry import get_task

    rices = get_task(_task_file(task_dir, "sw_rices", "rices"))
    random = get_task(_task_file(task_dir, "sw_random", "random"))
    (line,) = seed_warnings([rices], [0, 4], [0, 1])
    assert "'sw_rices', shots 0, 4" in line and "will give identical runs" in line
    assert "strategy 'rices'" in line and "at 0 shots" in line
    (line,) = seed_warnings([random], [0, 4, 8], [0, 1, 2])
    assert "shots 0:" in line and "rices" not in line
    assert seed_warnings([random], [4, 8], [0, 1]) == []  # random at k > 0: seeds matter
    assert seed_warnings([rices], [4], [3]) == []  # one seed: nothing to say


def test_sweep_runs_the_preflight_before_loading_the_model(task_dir, monkeypatch) -> None:
    import emu2_eval.engine.sweep as sweep

    def never(*args, **kwargs):
        raise AssertionError("the model was loaded before the preflight")

    monkeypatch.setattr(sweep, "load_adapter", never)
    name = _task_file(task_dir, "sw_nopool", "random", pool="{data_root}/nowhere")
    done = CliRunner().invoke(
        main, ["sweep", "--model", "tiny-vlm", "--tasks", name, "--shots", "0,4",
               "--seeds", "0", "--output", str(task_dir / "out"), "--no-progress"],
    )  # fmt: skip
    assert done.exit_code == 1, done.output
    assert "problem(s) found before loading the model" in done.output
    assert "few-shot pool file" in done.output and "EMU2_EVAL_DATA" in done.output
    assert not (task_dir / "out").exists()


def test_reproduce_preflight_checks_model_args_before_loading(monkeypatch, tmp_path) -> None:
    done = CliRunner().invoke(
        main, ["reproduce", "table1", "--demo", "--model", "tiny-vlm", "--model-args",
               "no_such_arg=1", "--shots", "0", "--limit", "1", "--output", str(tmp_path / "o")],
    )  # fmt: skip
    assert done.exit_code == 1, done.output
    assert "problem(s) found before loading the model" in done.output
    assert "no_such_arg" in done.output


def test_sweep_labels_bars_by_cell_warns_on_idle_seeds_and_reports_resume(task_dir) -> None:
    name = _task_file(task_dir, "sw_cells", "rices")
    args = ["sweep", "--model", "tiny-vlm", "--tasks", name, "--shots", "0,2", "--seeds", "0,1",
            "--limit", "3", "--batch-size", "3", "--output", str(task_dir / "out")]  # fmt: skip
    done = CliRunner().invoke(main, args)
    assert done.exit_code == 0, done.output
    assert f"task '{name}', shots 0, 2:" in done.output
    assert "will give identical runs" in done.output
    assert f"[{name} 2-shot seed 0] {name}: 0 cached, 3 to compute" in done.output
    assert re.search(rf"\[{name} 2-shot seed 0\] {name}: 100%.*3/3", done.output)  # its bar
    # rices ignores the seed: the seed-1 cells ask exactly what seed 0 asked, all cached
    assert f"[{name} 2-shot seed 1] {name}: 3 cached, 0 to compute" in done.output
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0 and "to compute" not in again.output  # complete cells skipped


def test_sweep_plot_labels_each_cell_and_names_the_axes() -> None:
    from emu2_eval.reporting.plots import sweep_figure

    summary = pd.DataFrame(
        {"task": ["toy"] * 2, "metric": ["vqa_accuracy"] * 2, "shots": [0, 4],
         "mean": [40.0, 55.5], "std": [0.0, 1.5], "seeds": [1, 3], "units": ["percent"] * 2,
         "n": [8, 8], "paper": [None, None], "diff": [None, None]}
    )  # fmt: skip
    axis = sweep_figure(summary, "Emu2-37B").axes[0]
    labels = [text.get_text() for text in axis.texts]
    assert labels == ["40.00%\n1 seed", "55.50%\n3 seeds"]
    assert axis.get_xlabel() == "shots (demonstrations per query)"
    assert axis.get_ylabel() == "vqa_accuracy (percent)"

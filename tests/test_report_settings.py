"""Issue 18 (reports half): every table says which settings produced its numbers, groups have
counts, generated samples show their image, scores share the tables' scale, plots have units."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from emu2_eval.reporting.html import html_report
from emu2_eval.reports import latex_report, markdown_report, results_table, write_reports


def _results(shots: int = 4) -> dict[str, Any]:
    return {
        "model": {
            "name": "hf-vlm",
            "args": {"pretrained": "/models/ckpts/llava-tiny-7b/"},
            "info": {"adapter": "hf-vlm", "pretrained": "/models/ckpts/llava-tiny-7b/"},
            "fingerprint": "abc",
        },
        "run": {"limit": None},
        "tasks": {
            "demo_vqa": {
                "metrics": {"vqa_accuracy": 41.5},
                "units": {"vqa_accuracy": "%"},
                "intervals": {},
                "n_scored": 8,
                "n_errors": 0,
                "prompt_profile": {"name": "emu2_vqa", "version": 2},
                "fewshot": {"shots": shots, "seed": 7, "strategy": "rices"},
                "config": {},
            }
        },
        "manifest": {"seed": 0},
    }


def test_every_table_format_shows_shots_profile_strategy_seed_and_checkpoint(tmp_path) -> None:
    results = _results()
    console = results_table(results).to_markdown(index=False)
    markdown = markdown_report(results)
    latex = latex_report(results)
    page = html_report(results, tmp_path)
    write_reports(results, tmp_path)
    row = next(csv.DictReader((tmp_path / "report.csv").open()))
    assert (row["shots"], row["prompt"], row["strategy"], row["seed"]) == (
        "4",
        "emu2_vqa v2",
        "rices",
        "7",
    )
    assert row["model"] == "hf-vlm (llava-tiny-7b)"
    for text in (console, markdown, latex, page):
        assert "llava-tiny-7b" in text
        assert "rices" in text and "emu2" in text
    assert "| shots | prompt | strategy | seed |" in markdown
    assert "4-shot, prompt emu2_vqa v2, strategy rices, seed 7" in page


def test_hub_id_checkpoint_shows_its_basename_and_zero_shot_has_no_strategy(tmp_path) -> None:
    results = _results(shots=0)
    results["model"] = {"name": "emu2", "args": {"pretrained": "BAAI/Emu2-Chat"}}
    row = results_table(results).iloc[0]
    assert row["model"] == "emu2 (Emu2-Chat)"
    assert (row["shots"], row["strategy"]) == (0, "none")


def _flat_summary(unit: str) -> Any:
    import pandas as pd

    return pd.DataFrame(
        {
            "task": ["toy"] * 2,
            "metric": ["clip_t"] * 2,
            "shots": [0, 4],
            "mean": [0.0, 0.0],
            "std": [0.0, float("nan")],
            "units": [unit] * 2,
            "n": [4, 4],
            "paper": [None, None],
            "diff": [float("nan")] * 2,
        }
    )


def test_sweep_plot_has_a_unit_and_a_sensible_range_for_a_flat_line(tmp_path, monkeypatch):
    import emu2_eval.atomic
    from emu2_eval.plots import plot_sweep

    drawn: list[tuple[str, tuple[float, float]]] = []

    def capture(path: Path, fig: Any, **kwargs: Any) -> None:
        axis = fig.axes[0]
        drawn.append((axis.get_ylabel(), axis.get_ylim()))

    monkeypatch.setattr(emu2_eval.atomic, "save_figure_atomic", capture)
    plot_sweep(_flat_summary("x100"), tmp_path / "sweep.png", "Emu2-37B")
    plot_sweep(_flat_summary("%"), tmp_path / "sweep.png", "Emu2-37B")
    (label, (low, high)), (pct_label, pct_range) = drawn
    assert label == "clip_t (x100)" and low <= -1 and high >= 1
    assert pct_label == "clip_t (%)" and pct_range == (0.0, 100.0)


def test_sweep_markdown_prints_n_a_not_nan() -> None:
    from emu2_eval.engine.sweep import sweep_markdown

    text = sweep_markdown(_flat_summary("%"))
    assert "nan" not in text.lower().replace("n/a", "")
    assert "| n/a |" in text and "| 0.00 |" in text

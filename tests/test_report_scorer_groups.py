"""Issue 18: the scorer variant beside every number, and task groups' aggregate rows."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from emu2_eval.reporting.html import html_report
from emu2_eval.reporting.tables import latex_report, markdown_report, results_table
from emu2_eval.reporting.write import write_reports


def _block(variant: str = "official", group: str | None = None) -> dict[str, Any]:
    return {
        "metrics": {"vqa_accuracy": 50.0},
        "units": {"vqa_accuracy": "percent"},
        "intervals": {},
        "metric_options": {"vqa_accuracy": {"variant": variant}},
        "scorer": {"vqa_accuracy": variant},
        "n_scored": 4,
        "n_errors": 0,
        "prompt_profile": {"name": "emu2_vqa_zeroshot", "version": 1},
        "fewshot": {"shots": 0, "seed": 0},
        "config": {"group": group} if group else {},
    }


def _results(**tasks: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": {"name": "tiny-vlm", "args": {}, "fingerprint": "f"},
        "run": {"limit": None},
        "tasks": tasks,
        "manifest": {"seed": 0},
    }


def test_every_table_format_shows_the_scorer_variant(tmp_path: Path) -> None:
    results = _results(toy_vqa=_block("always_normalize"))
    console = results_table(results)
    assert list(console.columns).index("scorer") == list(console.columns).index("demos") + 1
    assert console.iloc[0]["scorer"] == "always_normalize"
    markdown = markdown_report(results)
    assert "| seed | demos | scorer | metric |" in markdown and "| always_normalize |" in markdown
    assert "always\\_normalize" in latex_report(results)
    page = html_report(results, tmp_path)
    assert "<th>scorer</th>" in page and "scorer always_normalize" in page  # table, header
    write_reports(results, tmp_path)
    row = next(csv.DictReader((tmp_path / "report.csv").open()))
    assert row["scorer"] == "always_normalize"


def test_scorer_is_recorded_by_scoring_and_derived_for_older_runs() -> None:
    from emu2_eval.engine.scoring import score_records
    from emu2_eval.scoring.metrics.base import scorer_label
    from emu2_eval.tasks.config import parse_task

    config = parse_task(
        {"task": "toy", "dataset": {"loader": "vqa_official", "args": {}},
         "prompt": "emu2_vqa_zeroshot", "metrics": [{"name": "vqa_accuracy"}]},
        "toy.yaml",
    )  # fmt: skip
    records = [{"doc_id": "1", "doc": {"answers": ["a"] * 10}, "response": "a", "error": None}]
    assert score_records(config, records)["scorer"] == {"vqa_accuracy": "official"}
    assert scorer_label("caption_metrics", {"spice": False}) == "pycocoevalcap, no SPICE"
    assert scorer_label("clip_i", {"backbone": "tiny-clip", "pairs": "both"}) == (
        "backbone=tiny-clip, pairs=both"
    )
    old = _block()
    del old["scorer"]  # a run directory from before the key existed
    old["metric_options"]["caption_metrics"] = {"spice": True}
    row = results_table(_results(toy=old)).iloc[0]
    assert row["scorer"] == "vqa_accuracy: official; caption_metrics: pycocoevalcap, with SPICE"
    old["intervals"] = {"vqa_accuracy": {"metric": "vqa_accuracy"}}  # the row's own metric
    assert results_table(_results(toy=old)).iloc[0]["scorer"] == "official"


def _samples(scores: list[float]) -> list[dict[str, Any]]:
    return [
        {"doc_id": str(i), "doc": {"answers": ["a"] * 10}, "filtered": "a",
         "scores": {"vqa_accuracy": s}, "error": None}
        for i, s in enumerate(scores)
    ]  # fmt: skip


def _group_run(tmp_path: Path) -> tuple[dict[str, Any], Path]:
    first, second = [1.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 0.0, 0.0, 0.0]
    tasks = {}
    for name, scores in (("vqa_a", first), ("vqa_b", second)):
        block = _block(group="toyvqa")
        block["metrics"] = {"vqa_accuracy": 100 * float(np.mean(scores))}
        block["intervals"] = {"vqa_accuracy": {"metric": "vqa_accuracy", "resamples": 300,
                                               "seed": 0, "confidence": 0.95}}  # fmt: skip
        tasks[name] = block
    tasks["alone"] = _block(group="other")  # a group of one task: no aggregate row
    run = tmp_path / "run"
    run.mkdir()
    for name, scores in (("vqa_a", first), ("vqa_b", second), ("alone", [1.0])):
        lines = "".join(json.dumps(r) + "\n" for r in _samples(scores))
        (run / f"samples_{name}.jsonl").write_text(lines)
    return _results(**tasks), run


def test_task_group_gets_the_unweighted_mean_with_a_combined_interval(tmp_path: Path) -> None:
    from emu2_eval.reporting.task_groups import group_aggregates

    results, run = _group_run(tmp_path)
    write_reports(results, run)
    rows = list(csv.DictReader((run / "task_groups.csv").open()))
    assert [(r["group"], r["metric"], r["n_tasks"]) for r in rows] == [
        ("toyvqa", "vqa_accuracy", "2")
    ]
    row = rows[0]
    assert float(row["value"]) == round((75.0 + 100 / 6) / 2, 4)  # each task once, not per doc
    low, high = float(row["low"]), float(row["high"])
    assert 0.0 <= low < float(row["value"]) < high <= 100.0
    assert "per-task replicates" in row["interval"]
    assert "Task groups (unweighted mean" in (run / "report.md").read_text()
    assert 'id="task-groups"' in (run / "report.html").read_text()
    assert "toyvqa" in (run / "report.tex").read_text()
    # without the samples: the mean, and the reason there is no interval
    (bare,) = group_aggregates(results, {})
    assert bare["low"] is None and bare["interval"].startswith("not available: the samples")

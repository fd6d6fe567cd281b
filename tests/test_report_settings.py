"""Issue 18 (reports half): every table says which settings produced its numbers, groups have
counts, generated samples show their image, scores share the tables' scale, plots have units."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

from emu2_eval.reporting.html import html_report
from emu2_eval.reporting.tables import latex_report, markdown_report, results_table
from emu2_eval.reporting.write import write_reports


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
    import emu2_eval.core.atomic
    from emu2_eval.reporting.plots import plot_sweep

    drawn: list[tuple[str, tuple[float, float]]] = []

    def capture(path: Path, fig: Any, **kwargs: Any) -> None:
        axis = fig.axes[0]
        drawn.append((axis.get_ylabel(), axis.get_ylim()))

    monkeypatch.setattr(emu2_eval.core.atomic, "save_figure_atomic", capture)
    plot_sweep(_flat_summary("x100"), tmp_path / "sweep.png", "Emu2-37B")
    plot_sweep(_flat_summary("%"), tmp_path / "sweep.png", "Emu2-37B")
    (label, (low, high)), (pct_label, pct_range) = drawn
    assert label == "clip_t (x100)" and low <= -1 and high >= 1
    assert pct_label == "clip_t (%)" and pct_range == (0.0, 100.0)


def test_sweep_markdown_prints_n_a_not_nan() -> None:
    from emu2_eval.reporting.sweep import sweep_markdown

    text = sweep_markdown(_flat_summary("%"))
    assert "nan" not in text.lower().replace("n/a", "")
    assert "| n/a |" in text and "| 0.00 |" in text


def _vqa_run(tmp_path: Path) -> tuple[dict[str, Any], Path]:
    """A VQA task of 6 docs: per-sample scores on 0-1, the table and groups in percent."""
    import json

    results = _results()
    block = results["tasks"]["demo_vqa"]
    scores = [1.0, 0.0, 1.0, 0.3, 0.0, 1.0]
    types = ["yes/no", "yes/no", "yes/no", "other", "other", "number"]
    block["metrics"] = {"vqa_accuracy": 100 * sum(scores) / 6}
    block["units"] = {"vqa_accuracy": "percent"}
    block["metric_options"] = {"vqa_accuracy": {"variant": "official"}}
    block["groups"] = {"answer_type": {"yes/no": 200 / 3, "other": 15.0, "number": 100.0}}
    records = [
        {
            "doc_id": str(i),
            "doc": {"question": f"q{i}", "answer_type": t, "answers": ["a"]},
            "prompt": f"q{i}",
            "response": "b",
            "filtered": "b",
            "scores": {"vqa_accuracy": s},
            "error": None,
        }
        for i, (s, t) in enumerate(zip(scores, types, strict=True))
    ]
    run = tmp_path / "run"
    run.mkdir()
    (run / "samples_demo_vqa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return results, run


def test_groups_have_counts_and_intervals_and_say_what_they_group_by(tmp_path) -> None:
    results, run = _vqa_run(tmp_path)
    write_reports(results, run)
    rows = {r["group"]: r for r in csv.DictReader((run / "groups.csv").open())}
    assert rows["yes/no"]["n"] == "3" and rows["other"]["n"] == "2" and rows["number"]["n"] == "1"
    low, high = float(rows["yes/no"]["low"]), float(rows["yes/no"]["high"])
    assert 0.0 <= low <= 200 / 3 <= high <= 100.0 and high > 1.0  # percent, like the value
    assert rows["number"]["low"] == ""  # one document: no interval
    markdown = (run / "report.md").read_text()
    assert "Groups, per answer_type:" in markdown and "66.67 [" in markdown
    page = (run / "report.html").read_text()
    assert "per answer_type (3 rows)" in page and "answer type / question type" not in page


def test_dreambench_groups_are_labelled_by_subject(tmp_path) -> None:
    results, run = _vqa_run(tmp_path)
    block = results["tasks"]["demo_vqa"]
    block["groups"] = {"dino/subject": {"dog": 0.5}, "clip_i/subject": {"dog": 0.7}}
    page = html_report(results, run)
    assert "per subject (dino, clip_i)" in page and "answer type" not in page


def test_per_sample_scores_are_shown_in_percent_like_the_tables(tmp_path) -> None:
    results, run = _vqa_run(tmp_path)
    page = html_report(results, run)
    assert "vqa_accuracy=30.00" in page and 'data-score="30"' in page
    assert "vqa_accuracy=0.300" not in page and "(%, as in the tables)" in page


def test_generated_samples_show_their_image_under_samples_not_failures(tmp_path) -> None:
    import json

    from PIL import Image

    results, run = _vqa_run(tmp_path)
    (run / "images").mkdir()
    rows = []
    for i, colour in enumerate(["red", "green"]):
        Image.new("RGB", (64, 64), colour).save(run / "images" / f"{i}.png")
        ref = [{"path": f"images/{i}.png", "sha256": "0" * 64}]
        rows.append(
            {"doc_id": f"g{i}", "doc": {"caption": colour}, "prompt": f"draw {colour}",
             "response": ref, "filtered": ref, "scores": {"clip_t": 0.25}, "error": None}
        )  # fmt: skip
    rows.append(
        {"doc_id": "g2", "doc": {"caption": "x"}, "prompt": "draw x", "response": None,
         "filtered": None, "scores": {}, "error": {"type": "GenerationError", "message": "oom"}}
    )  # fmt: skip
    (run / "samples_toy_gen.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    results["tasks"]["toy_gen"] = {
        "metrics": {"clip_t": 25.0},
        "metric_options": {"clip_t": {}},
        "config": {"request": "generate_images"},
        "n_scored": 2,
        "n_errors": 1,
    }
    page = html_report(results, run)
    samples = page.split('<h2 id="samples-h">Samples</h2>')[1].split('id="failures-h"')[0]
    failures = page.split('<h2 id="failures-h">Failures</h2>')[1]
    assert samples.count('alt="generated image"') == 2 and "sha256" not in samples
    assert 'data-task="toy_gen"' in samples and "g0" in samples
    toy_failures = re.findall(r'<tr data-task="toy_gen"[^>]*>', failures)
    assert len(toy_failures) == 1 and 'data-error="1"' in toy_failures[0]
    assert "failures = errors only" in failures and "sha256" not in failures


def test_few_shot_rows_show_their_demonstrations(tmp_path) -> None:
    import json

    from PIL import Image

    results, run = _vqa_run(tmp_path)
    pool = tmp_path / "pool"
    pool.mkdir()
    Image.new("RGB", (64, 64), "purple").save(pool / "demo1.jpg")
    results["tasks"]["demo_vqa"]["config"] = {
        "fewshot": {"pool": {"loader": "x", "args": {"images": str(pool)}}}
    }
    path = run / "samples_demo_vqa.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    for record in records:
        record["demonstrations"] = ["d1"]
        record["demonstration_docs"] = [{"image": "demo1.jpg", "question": "what colour?",
                                         "answers": ["purple"]}]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    page = html_report(results, run)
    assert 'alt="demonstration image"' in page
    assert "question: what colour?" in page and "purple" in page


def _ink_rows(image: Any, left: int, right: int, top: int, bottom: int) -> list[int]:
    """y of every row with dark (text) pixels in the box."""
    gray = image.convert("L")
    return [
        y
        for y in range(top, bottom)
        if any(gray.getpixel((x, y)) < 128 for x in range(left, right))
    ]


def test_grid_captions_are_large_wrapped_and_stay_in_their_row() -> None:
    from PIL import Image

    from emu2_eval.reporting.grids import LABEL_WIDTH, THUMB, grid_image

    tile = Image.new("RGB", (32, 32), "white")
    canvas = grid_image([("HHHH", [tile]), ("word " * 200, [tile]), ("next row", [tile])])
    letter = _ink_rows(canvas, 0, LABEL_WIDTH, 0, THUMB)
    assert max(letter) - min(letter) + 1 >= 10  # capital height in px (the old font: 8)
    long_caption = _ink_rows(canvas, 0, LABEL_WIDTH, THUMB + 1, 2 * THUMB)
    assert len(long_caption) > 3 * 10  # wrapped onto several lines
    assert max(long_caption) < 2 * THUMB - 4  # ends inside its own row, above the next
    nxt = _ink_rows(canvas, 0, LABEL_WIDTH, 2 * THUMB + 1, 2 * THUMB + 8)
    assert not nxt  # the next caption starts below a margin: nothing runs together

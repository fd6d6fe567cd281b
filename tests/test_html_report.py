"""Reports: intervals in every format, LaTeX escaping, the self-contained HTML report, paper
numbers, sweeps, generated-image grids, trackers, and a real render in headless Chromium."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from emu2_eval.cli import main
from emu2_eval.reporting.html import html_report, sweep_html_report
from emu2_eval.reporting.latex import latex_escape, latex_table
from emu2_eval.reporting.paper import paper_tables, reproduction_table
from emu2_eval.reporting.tables import comparison_verdict, reproduction_markdown
from tests.runs import evaluate_run
from tests.test_compare import write_run

REPO = Path(__file__).resolve().parents[1]
SHARED_PAPER = REPO.parent / "shared" / "reference" / "emu2_paper_results.csv"
DEMO_TASKS = ["demo_vqa", "demo_caption", "demo_hateful_memes"]
INTERVAL = re.compile(r"-?\d+\.\d+ \[-?\d+\.\d+, -?\d+\.\d+\]")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, isolated_home):
    output = tmp_path_factory.mktemp("report_run")
    results = evaluate_run(
        "tiny-vlm", {}, DEMO_TASKS, output, limit=8, batch_size=8, progress=False
    )
    return output, results


def _no_external_resources(text: str) -> None:
    lowered = text.lower()
    for pattern in ('src="http', "src='http", 'href="http', "<link", "@import", "url(http"):
        assert pattern not in lowered, pattern
    assert 'src="//' not in lowered


def test_every_metric_of_a_run_has_an_interval(demo_run) -> None:
    _, results = demo_run
    for task in DEMO_TASKS:
        block = results["tasks"][task]
        assert set(block["intervals"]) == set(block["metrics"]), task
        for interval in block["intervals"].values():
            assert interval["resamples"] == 1000 and interval["interval"] == "percentile"
            assert interval["low"] <= interval["high"]
    meteor = results["tasks"]["demo_caption"]["intervals"]["METEOR"]["method"]
    assert "corpus statistics fixed" in meteor


def test_markdown_csv_and_latex_show_intervals(demo_run) -> None:
    output, _ = demo_run
    markdown = (output / "report.md").read_text()
    assert "value [95% CI]" in markdown and INTERVAL.search(markdown)
    assert "percentile bootstrap over documents, 1000 resamples, seed 0" in markdown
    rows = list(csv.DictReader((output / "report.csv").open()))
    assert {"low", "high", "confidence", "interval_method"} <= set(rows[0])
    assert list(rows[0])[-2:] == ["n", "errors"]
    latex = (output / "report.tex").read_text()
    assert r"\toprule" in latex and r"demo\_vqa" in latex and r"95\% CI" in latex


def test_html_report_contains_tables_images_and_failure_browser(demo_run) -> None:
    output, results = demo_run
    page = (output / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert '<h2 id="results">Results</h2>' in page and "value [95% CI]" in page
    for task in DEMO_TASKS:
        assert f"<td>{task}</td>" in page
    assert len(INTERVAL.findall(page)) >= sum(len(b["metrics"]) for b in results["tasks"].values())
    assert page.count("data:image/jpeg;base64,") >= 8  # input thumbnails, embedded
    assert 'id="failures"' in page and 'data-task="demo_vqa"' in page
    assert "function applyFilters" in page and "<details>" in page
    _no_external_resources(page)


def test_report_from_in_memory_samples_equals_report_from_the_files(demo_run) -> None:
    """A run hands its rows to the report instead of re-reading them: same page either way."""
    output, results = demo_run
    assert html_report(results, output) == (output / "report.html").read_text()
    in_memory = {
        task: [json.loads(line) for line in (output / f"samples_{task}.jsonl").open()]
        for task in DEMO_TASKS
    }
    in_memory["demo_vqa"][0]["response"] = "in-memory marker"  # proves the files were not read
    page = html_report(results, output, samples=in_memory)
    assert "in-memory marker" in page and "in-memory marker" not in html_report(results, output)


def test_report_command_with_paper_model_and_new_bootstrap_settings(demo_run, tmp_path) -> None:
    output, _ = demo_run
    run = tmp_path / "run"
    shutil.copytree(output, run)
    results = json.loads((run / "results.json").read_text())
    results["tasks"]["demo_vqa"]["reference"] = {
        "benchmark": "VQAv2",
        "split": "test-dev",
        "metric": "vqa_accuracy",
    }
    (run / "results.json").write_text(json.dumps(results))
    html = tmp_path / "elsewhere.html"
    args = ["report", str(run), "--paper-model", "Emu2-37B", "--resamples", "200"]
    result = CliRunner().invoke(main, [*args, "--output", str(html)])
    assert result.exit_code == 0, result.output
    assert "Reproduction of Emu2-37B" in result.output and "| 33.50 |" in result.output
    page = html.read_text()
    assert "Reproduction of Emu2-37B" in page and "33.50" in page
    saved = json.loads((run / "results.json").read_text())
    assert saved["tasks"]["demo_caption"]["intervals"]["CIDEr"]["resamples"] == 200
    bad = CliRunner().invoke(main, ["report", str(run), "--paper-model", "Emu3"])
    assert bad.exit_code == 1 and "valid: " in bad.output and "Emu2-Chat" in bad.output


def test_reproduction_table_marks_whether_the_paper_lies_inside_the_interval() -> None:
    results = {
        "model": {"name": "m"},
        "tasks": {
            "okvqa_val": {
                "metrics": {"vqa_accuracy": 55.0},
                "intervals": {"vqa_accuracy": {"low": 52.0, "high": 58.0}},
                "units": {"vqa_accuracy": "percent"},
                "fewshot": {"shots": 8},
                "reference": {"benchmark": "OKVQA", "split": "val", "metric": "vqa_accuracy"},
            },
            "hm": {
                "metrics": {"roc_auc": 70.0},
                "intervals": {"roc_auc": {"low": 68.0, "high": 72.0}},
                "fewshot": {"shots": 0},
                "reference": {"benchmark": "HatefulMemes", "metric": "roc_auc"},
            },
            "no_reference": {"metrics": {"x": 1.0}},
        },
    }
    table = reproduction_table(results, "Emu2-37B").set_index("task")
    assert table.loc["okvqa_val", "paper"] == 54.1 and table.loc["okvqa_val", "paper_in_interval"]
    assert table.loc["okvqa_val", "diff"] == pytest.approx(0.9)
    assert table.loc["hm", "paper"] == 52.2 and not table.loc["hm", "paper_in_interval"]
    assert "no_reference" not in table.index


# Rows typed in from the text of issue 17, which the shared CSV lacks (source column says so).
FROM_ISSUE_17 = {
    ("5", "BLIP-Diffusion (fine-tuned)", "DreamBench", "dino"): 0.670,
    ("5", "BLIP-Diffusion (fine-tuned)", "DreamBench", "clip_i"): 0.805,
    ("5", "BLIP-Diffusion (fine-tuned)", "DreamBench", "clip_t"): 0.302,
    ("4", "Emu2-Gen", "COCO-Autoencoding", "clip_i_vitl"): 0.907,
}


def test_paper_tables_equal_the_shared_copy() -> None:
    """Every row of Tables 1, 2, 4, 5 in the shared CSV is in results/paper with its value; the
    only others are the rows of issue 17's text, each marked in its source column, and Table 3
    (tests/test_grounding_data.py::test_table3_numbers_and_their_comparison)."""
    if not SHARED_PAPER.is_file():
        pytest.skip("../shared/reference is not present")
    expected = {
        (
            r["source"].split()[-1],
            r["model"],
            r["benchmark"],
            r["split"],
            r["metric"],
            r["shots"].rstrip("*"),
            r["shots"].endswith("*"),
        ): float(r["value"])
        for r in csv.DictReader(SHARED_PAPER.open())
    }
    ours = {
        (
            r.table.split()[-1],
            r.model,
            r.benchmark,
            r.split,
            r.metric,
            str(r.shots),
            bool(r.flamingo_text_examples),
        ): float(r.value)
        for r in paper_tables().itertuples()
        if "issue 17" not in r.source and r.table != "Table 3"  # Table 3: not in the shared copy
    }
    assert ours == expected
    added = {
        (r.table.split()[-1], r.model, r.benchmark, r.metric): float(r.value)
        for r in paper_tables().itertuples()
        if "issue 17" in r.source
    }
    assert added == FROM_ISSUE_17
    assert not {k[1:] for k in added} & {(k[1], k[2], k[4]) for k in expected}


def test_latex_escapes_special_characters() -> None:
    assert latex_escape("demo_vqa") == r"demo\_vqa"
    assert latex_escape(r"a&b 50% $x$ #1 {y} ~z ^w \q <> |") == (
        r"a\&b 50\% \$x\$ \#1 \{y\} \textasciitilde{}z \textasciicircum{}w \textbackslash{}q "
        r"\textless{}\textgreater{} \textbar{}"
    )
    assert latex_escape("two\nlines") == "two lines"
    table = latex_table(["task", "[CI]"], [["a_b", "[1, 2]"]], "lr", "50% done", "tab:x y")
    assert r"a\_b & {[1, 2]} \\" in table and r"{[CI]} \\" in table
    assert r"\caption{50\% done}" in table and r"\label{tab:x-y}" in table
    with pytest.raises(ValueError, match="columns"):
        latex_table(["a"], [["b"]], "ll")


def test_generated_images_are_embedded_in_a_grid(tmp_path) -> None:
    from PIL import Image

    run = write_run(tmp_path / "gen", [1.0, 0.0])
    (run / "images").mkdir()
    rows = []
    for i, colour in enumerate(["red", "green", "blue"]):
        Image.new("RGB", (64, 64), colour).save(run / "images" / f"{i}.png")
        rows.append(
            {
                "doc_id": f"g{i}",
                "doc": {"caption": f"a {colour} square"},
                "prompt": f"draw a {colour} square",
                "response": [{"path": f"images/{i}.png", "sha256": "0" * 64}],  # ImageStore ref
                "filtered": [{"path": f"images/{i}.png", "sha256": "0" * 64}],
                "scores": {},
                "error": None,
            }
        )
    (run / "samples_toy_gen.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    results = json.loads((run / "results.json").read_text())
    results["tasks"]["toy_gen"] = {
        "metrics": {},
        "config": {"request": "generate_images"},
        "n_scored": 3,
        "n_errors": 0,
    }
    page = html_report(results, run)
    assert "<h2>Generated images</h2>" in page
    assert page.count('alt="generated image"') == 6  # 3 in the grid, 3 under Samples
    _no_external_resources(page)


def test_sweep_report_embeds_the_plot_and_cell_tables(tmp_path) -> None:
    from emu2_eval.reporting.plots import plot_sweep

    sweep = tmp_path / "sweep"
    for shots in (0, 4):
        write_run(sweep / "cells" / "toy_vqa" / f"shots{shots}-seed0", [1.0, 0.0, 1.0])
    summary = pd.DataFrame(
        {
            "task": ["toy_vqa"] * 2,
            "metric": ["vqa_accuracy"] * 2,
            "shots": [0, 4],
            "mean": [40.0, 55.0],
            "std": [1.0, 2.0],
            "paper": [33.5, 67.0],
        }
    )
    summary.to_csv(sweep / "sweep_summary.csv", index=False)
    plot_sweep(summary, sweep / "sweep.png", "Emu2-37B")
    result = CliRunner().invoke(main, ["report", str(sweep)])
    assert result.exit_code == 0, result.output
    page = (sweep / "report.html").read_text()
    assert "data:image/png;base64," in page and "Few-shot plot" in page
    assert "Cell toy_vqa / shots4-seed0" in page and "<th>mean</th>" in page
    assert sweep_html_report(sweep) == page


def test_trackers_are_optional_and_say_what_to_install(monkeypatch) -> None:
    import importlib

    from emu2_eval.reporting import loggers

    results = {
        "model": {"name": "m"},
        "tasks": {
            "t": {"metrics": {"m": 1.0}, "intervals": {"m": {"low": 0.5, "high": 1.5}}},
        },
    }
    assert loggers.scalars(results) == {"t/m": 1.0, "t/m_low": 0.5, "t/m_high": 1.5}
    real_import = importlib.import_module

    def no_trackers(name, *args):
        if name.startswith(("torch.utils.tensorboard", "wandb")):
            raise ImportError(name)
        return real_import(name, *args)

    monkeypatch.setattr(loggers.importlib, "import_module", no_trackers)
    with pytest.raises(loggers.TrackerUnavailableError, match="pip install tensorboard"):
        loggers.log_tensorboard(results, Path("unused"))
    with pytest.raises(loggers.TrackerUnavailableError, match="pip install wandb"):
        loggers.log_wandb(results, "project")


@pytest.mark.skipif(
    shutil.which("chromium") is None,
    reason="chromium is not installed (apt-get install -y chromium); the HTML report is still "
    "checked as text by the other tests",
)
def test_demo_report_renders_in_headless_chromium(demo_run, tmp_path) -> None:
    from PIL import Image, ImageStat

    output, _ = demo_run
    png = tmp_path / "report.png"
    script = REPO / "scripts" / "screenshot_report.sh"
    subprocess.run(
        ["bash", str(script), str(output / "report.html"), str(png), "1280x1600"],
        check=True,
        timeout=120,
        capture_output=True,
    )
    dom = subprocess.run(  # the DOM after the inline script ran: the filter counted the rows
        [
            shutil.which("chromium"),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            f"--user-data-dir={tmp_path}/p",
            "--dump-dom",
            (output / "report.html").resolve().as_uri(),
        ],
        check=True,
        timeout=120,
        capture_output=True,
        text=True,
    ).stdout
    assert re.search(r'id="f-count">(\d+) of \1 shown<', dom)
    with Image.open(png) as image:
        assert image.size == (1280, 1600)
        spread = ImageStat.Stat(image.convert("L")).stddev[0]
    assert spread > 10  # not a blank page


def _block(task: str, metrics: dict[str, float], **extra) -> dict:
    from emu2_eval.tasks.registry import get_task

    return {
        "metrics": metrics,
        "intervals": {m: {"low": v - 0.05, "high": v + 0.05} for m, v in metrics.items()},
        "fewshot": {"shots": 0},
        "reference": get_task(task).config.reference,
        **extra,
    }


def test_reproduction_compares_every_metric_the_paper_reports() -> None:
    dreambench = {"dino": 0.7, "dino_all_pairs": 0.6, "clip_i": 0.8, "clip_i_all_pairs": 0.7}
    results = {
        "model": {"name": "m"},
        "tasks": {
            "dreambench": _block(
                "dreambench",
                {**dreambench, "clip_t": 0.29},
                dataset={"protocol": {"reference_image": "kosmos_g"}},
            ),
            "coco_t2i_30k": _block("coco_t2i_30k", {"clip_i_vitl": 0.68, "clip_t_vitb": 0.3}),
            "coco_autoencode_30k": _block("coco_autoencode_30k", {"clip_i_vitl": 0.9}),
        },
    }
    table = reproduction_table(results, "Emu2-Gen")
    paper = {(r.task, r.metric): r.paper for r in table.itertuples()}
    assert paper == {
        ("dreambench", "dino"): 0.766,
        ("dreambench", "clip_i"): 0.85,
        ("dreambench", "clip_t"): 0.287,
        ("coco_t2i_30k", "clip_i_vitl"): 0.686,
        ("coco_t2i_30k", "clip_t_vitb"): 0.297,
        ("coco_autoencode_30k", "clip_i_vitl"): 0.907,
    }
    assert table.comparable.all() and set(table.reason) == {""}
    assert table.set_index("metric").loc["clip_t", "paper_in_interval"]  # 0.287 in [.24, .34]


def test_reproduction_marks_protocol_split_and_variant_mismatches_not_comparable() -> None:
    results = {
        "model": {"name": "m"},
        "tasks": {
            "dreambench": _block(
                "dreambench",
                {"dino": 0.766, "clip_i": 0.85, "clip_t": 0.287},
                dataset={"protocol": {"reference_image": "first"}},
            ),
            "vqav2_val": _block(
                "vqav2_val", {"vqa_accuracy": 33.5}, prompt_profile={"name": "emu2_vqa_zeroshot"}
            ),
            "okvqa_val": _block("okvqa_val", {"vqa_accuracy": 26.7}),
        },
    }
    table = reproduction_table(results, "Emu2-Gen")
    assert set(table[table.paper.isna()].task) == {"vqav2_val", "okvqa_val"}  # no Emu2-Gen row
    table = table[table.task == "dreambench"]
    assert len(table) == 3 and not table.comparable.any()
    assert set(table.reason) == {"reference_image: first, the paper used kosmos_g"}
    assert table.paper_in_interval.isna().all()  # the paper's number lies inside, but no verdict
    base = reproduction_table(results, "Emu2-37B").set_index("task")
    assert base.loc["vqav2_val", "reason"] == "split: measured on val, the paper on test-dev"
    assert base.loc["okvqa_val", "comparable"] and base.loc["okvqa_val", "paper_in_interval"]
    chat = reproduction_table(results, "Emu2-Chat").set_index("task")
    assert (
        "prompt/model variant: the task follows Table 1 (prompt emu2_vqa_zeroshot)"
        in (chat.loc["vqav2_val", "reason"])
        and "from Table 2" in chat.loc["vqav2_val", "reason"]
    )
    assert not chat.loc["okvqa_val", "comparable"]
    text = reproduction_markdown(results, "Emu2-37B")
    assert "| vqav2_val | VQAv2 | val | test-dev | vqa_accuracy | 0 |" in text
    assert "not comparable: split: measured on val, the paper on test-dev" in text
    from emu2_eval.reporting.tables import latex_report

    latex = latex_report({"model": {"name": "m"}, **results}, "Emu2-37B")
    assert "vqav2\\_val & vqa\\_accuracy & 0 &" in latex
    assert "not comparable: split: measured on val, the paper on test-dev" in latex


def test_reports_name_the_data_protocol_each_loader_recorded(tmp_path) -> None:
    from emu2_eval.reporting.tables import markdown_report

    protocol = {
        "reference_image": "kosmos_g",
        "source": "microsoft/unilm kosmos-g/scripts/remove_dreambench_multiimg.sh",
        "images": {"dog": "dog/02.jpg"},
    }
    results = {
        "model": {"name": "emu2-gen"},
        "tasks": {
            "dreambench": {"metrics": {"dino": 0.7}, "dataset": {"protocol": protocol}},
            "coco_t2i_30k": {
                "metrics": {"clip_i_vitl": 0.68},
                "dataset": {"protocol": {"sampling": "kosmos_g", "seed": 0}},
            },
        },
    }
    text = markdown_report(results)
    assert "- dreambench: reference_image: kosmos_g; source: microsoft/unilm" in text
    assert "- coco_t2i_30k: sampling: kosmos_g; seed: 0" in text
    page = html_report(results, tmp_path, samples={})
    assert "dreambench: reference_image: kosmos_g" in page and "sampling: kosmos_g" in page


def test_paper_comparison_shows_the_measured_split_next_to_the_papers() -> None:
    """vqav2_val's val number, with the paper's test-dev inside its interval: shown as val
    beside test-dev, "not comparable" with the reason, never "inside the interval" (today's
    code labelled the row test-dev)."""
    results = {
        "model": {"name": "m"},
        "tasks": {"vqav2_val": _block("vqav2_val", {"vqa_accuracy": 33.5})},
    }
    row = reproduction_table(results, "Emu2-37B").set_index("task").loc["vqav2_val"]
    assert (row.measured_split, row.paper_split) == ("val", "test-dev")
    assert row.comparable is False or row.comparable == False  # noqa: E712 - numpy bool
    assert row.paper_in_interval is None and row.low <= row.paper <= row.high
    assert "split: measured on val, the paper on test-dev" in row.reason
    text = reproduction_markdown(results, "Emu2-37B")
    assert "| vqav2_val | VQAv2 | val | test-dev | vqa_accuracy |" in text
    assert "| yes |" not in text and "not comparable: split" in text
    from emu2_eval.reporting.html import _paper_section

    page = _paper_section(results, "Emu2-37B")
    assert "<td>val</td><td>test-dev</td>" in page.replace("\n", "")
    assert "not comparable: split: measured on val" in page


def test_paper_comparison_of_the_test_dev_task_and_of_another_scorer() -> None:
    """The test-dev task measures the paper's split (predict-only: no number, no verdict); a
    task pinning the paper's scorer variant is not comparable when the run used another."""
    okvqa = _block(
        "okvqa_val",
        {"vqa_accuracy": 26.7},
        metric_options={"vqa_accuracy": {"variant": "official"}},
    )
    pinned = {"vqa_accuracy": {"variant": "emu_lavis"}}
    okvqa["reference"] = {**okvqa["reference"], "scorer": pinned}
    testdev = {
        "metrics": {},
        "intervals": {},
        "fewshot": {"shots": 0},
        "predict_only": True,
        "reference": get_task_reference("vqav2_testdev"),
    }
    table = reproduction_table(
        {"model": {"name": "m"}, "tasks": {"okvqa_val": okvqa, "vqav2_testdev": testdev}},
        "Emu2-37B",
    ).set_index("task")
    row = table.loc["okvqa_val"]
    assert not row.comparable and row.paper_in_interval is None
    assert row.reason == "scorer: vqa_accuracy variant official, the paper's is emu_lavis"
    okvqa["metric_options"] = {"vqa_accuracy": {"variant": "emu_lavis"}}
    same = reproduction_table(
        {"model": {"name": "m"}, "tasks": {"okvqa_val": okvqa}}, "Emu2-37B"
    ).iloc[0]
    assert same.comparable and same.paper_in_interval
    dev = table.loc["vqav2_testdev"]
    assert (dev.measured_split, dev.paper_split) == ("test-dev", "test-dev")
    assert dev.paper == 33.5 and pd.isna(dev.measured) and dev.paper_in_interval is None
    assert comparison_verdict(dev.to_dict()) == "n/a"


def get_task_reference(task: str) -> dict:
    from emu2_eval.tasks.registry import get_task

    return dict(get_task(task).config.reference)

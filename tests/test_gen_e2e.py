"""End to end: ``emu2-eval run`` of DreamBench and COCO text-to-image with tiny models on CPU.

The shipped demo tasks name real metric backbones (hub ids); these tests write variants of
them into a temporary task directory with the tiny CLIP and DINO stand-ins, small images and
one sampling step.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from emu2_eval.cli import main

REPO = Path(__file__).resolve().parents[1]


def _run(model: str, pretrained: Path, tasks: str, out: Path, gen_task_dir: Path, *extra: str):
    args = [
        "run",
        "--model",
        model,
        "--model-args",
        f"pretrained={pretrained},device=cpu",
        "--tasks",
        tasks,
        "--output",
        str(out),
        "--include-path",
        str(gen_task_dir),
        "--no-progress",
        *extra,
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output, json.loads((out / "results.json").read_text())


def _responses(out: Path, task: str) -> dict[str, list[dict]]:
    rows = (json.loads(x) for x in (out / f"samples_{task}.jsonl").read_text().splitlines())
    return {r["doc_id"]: r["response"] for r in rows}


def test_emu2_gen_dreambench_and_coco_end_to_end(tiny_emu2_gen_dir, gen_task_dir, tmp_path) -> None:
    out = tmp_path / "run"
    tasks = "tiny_dreambench,tiny_coco"
    printed, results = _run(
        "emu2-gen", tiny_emu2_gen_dir, tasks, out, gen_task_dir, "--limit", "5", "--batch-size", "3"
    )
    dreambench = results["tasks"]["tiny_dreambench"]
    assert set(dreambench["metrics"]) == {
        "dino",
        "dino_all_pairs",
        "clip_i",
        "clip_i_all_pairs",
        "clip_t",
    }
    assert set(results["tasks"]["tiny_coco"]["metrics"]) == {"clip_i_vitl", "clip_t_vitb"}
    assert dreambench["n_scored"] == 5 and dreambench["prompt_profile"]["name"] == (
        "emu2_gen_dreambench"
    )
    protocol = dreambench["dataset"]["protocol"]
    assert protocol["reference_image"] == "first" and protocol["images"]["red_block"]
    assert results["tasks"]["tiny_coco"]["dataset"]["protocol"]["sampling"] == "kosmos_g"
    assert "dino_all_pairs" in printed and "clip_t_vitb" in printed
    assert set(dreambench["groups"]["dino/subject"]) == {"red_block", "blue_mug"}
    responses = _responses(out, "tiny_dreambench")
    assert all(len(refs) == 2 for refs in responses.values())
    assert all((out / ref["path"]).is_file() for refs in responses.values() for ref in refs)
    report = (out / "report.md").read_text()
    assert "tiny_dreambench: reference_image: first" in report
    assert "tiny_coco: sampling: kosmos_g" in report
    assert "## Image grids" in report and "(grids/tiny_dreambench/red_block.png)" in report
    assert (out / "grids" / "tiny_dreambench" / "blue_mug.png").is_file()
    assert (out / "grids" / "tiny_coco" / "samples.png").is_file()

    # Batch size 1: the same images, byte for byte.
    single = tmp_path / "single"
    _run("emu2-gen", tiny_emu2_gen_dir, "tiny_dreambench", single, gen_task_dir, "--limit", "3")
    alone = _responses(single, "tiny_dreambench")
    assert alone == {doc: responses[doc] for doc in alone} and len(alone) == 3

    # Resume: cached responses are reused, but one whose image file is missing or altered is
    # recomputed, not trusted.
    first, second = responses["red_block/00"][0], responses["red_block/01"][1]
    (out / first["path"]).unlink()
    (out / second["path"]).write_bytes((out / responses["red_block/02"][0]["path"]).read_bytes())
    _, healed = _run(
        "emu2-gen", tiny_emu2_gen_dir, "tiny_dreambench", out, gen_task_dir, "--limit", "5"
    )
    block = healed["tasks"]["tiny_dreambench"]
    assert (block["n_cached"], block["n_computed"]) == (3, 2)
    assert (
        block["metrics"] == dreambench["metrics"]
        and _responses(out, "tiny_dreambench") == responses
    )

    # Re-scoring from the run directory alone reproduces the numbers.
    rescored = CliRunner().invoke(main, ["score", str(out)])
    assert rescored.exit_code == 0, rescored.output
    stored = json.loads((out / "results.json").read_text())["tasks"]["tiny_dreambench"]
    assert stored["metrics"] == pytest.approx(dreambench["metrics"])


def test_emu2_gen_coco_autoencoding_end_to_end(tiny_emu2_gen_dir, gen_task_dir, tmp_path) -> None:
    """Image in, image out: the request is the real image alone, CLIP-I against that image."""
    out = tmp_path / "autoencode"
    _, results = _run(
        "emu2-gen", tiny_emu2_gen_dir, "tiny_autoencode", out, gen_task_dir, "--limit", "2"
    )
    block = results["tasks"]["tiny_autoencode"]
    assert block["n_scored"] == 2 and set(block["metrics"]) == {"clip_i_vitl"}
    assert block["prompt_profile"]["name"] == "emu2_gen_autoencode"
    rows = [json.loads(x) for x in (out / "samples_tiny_autoencode.jsonl").read_text().splitlines()]
    assert [row["prompt"] for row in rows] == ["<image>", "<image>"]  # the image, no text
    assert all(row["doc"]["image"] == row["doc"]["reference_image"] for row in rows)
    assert block["dataset"]["protocol"]["sampling"] == "kosmos_g"


def test_diffusers_t2i_on_coco_end_to_end(tiny_sd_dir, gen_task_dir, tmp_path) -> None:
    out = tmp_path / "sd"
    printed, results = _run(
        "diffusers-t2i",
        tiny_sd_dir,
        "tiny_coco",
        out,
        gen_task_dir,
        "--limit",
        "3",
        "--batch-size",
        "2",
    )
    block = results["tasks"]["tiny_coco"]
    assert block["n_scored"] == 3 and set(block["metrics"]) == {"clip_i_vitl", "clip_t_vitb"}
    assert results["model"]["info"]["pipeline_class"] == "StableDiffusionPipeline"
    assert "clip_i_vitl" in printed and (out / "grids" / "tiny_coco" / "samples.png").is_file()
    clip = block["metric_options"]["clip_t"]
    assert clip["backbone"].endswith("tiny_clip0") or Path(clip["backbone"]).is_dir()

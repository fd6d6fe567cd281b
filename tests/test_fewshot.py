"""Few-shot: demonstration choice is a pure function; RICES; context budget; sweeps."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emu2_eval.core.prompts import ImagePart, TextPart
from emu2_eval.data.docs import Doc, LoadedData
from emu2_eval.engine.runner import ContextLengthError, FewShotSettings
from emu2_eval.fewshot.encoders import ColorHistogramEncoder
from emu2_eval.fewshot.feature_store import FeatureStore
from emu2_eval.fewshot.selection import RandomSelector, RicesSelector
from emu2_eval.tasks.registry import get_task
from tests.helpers import red_blue_image
from tests.runs import evaluate_run

REPO = Path(__file__).resolve().parents[1]
DEMO_VQA = (REPO / "tasks" / "demo" / "demo_vqa.yaml").read_text()


def _variant(task_dir: Path, name: str, **replace: str) -> str:
    text = DEMO_VQA.replace("task: demo_vqa", f"task: {name}")
    for old, new in replace.items():
        assert old in text or old.replace("_", " ") in text, old
        text = text.replace(old, new)
    (task_dir / f"{name}.yaml").write_text(text)
    return name


def _demos(output: Path, task: str) -> dict[str, list[str]]:
    rows = map(json.loads, (output / f"samples_{task}.jsonl").read_text().splitlines())
    return {r["doc_id"]: r["demonstrations"] for r in rows}


@pytest.mark.parametrize("strategy", ["random", "rices"])
def test_demonstrations_do_not_depend_on_batch_size(strategy, task_dir, tmp_path) -> None:
    name = _variant(task_dir, f"fs_{strategy}", **{"strategy: rices": f"strategy: {strategy}"})
    runs = {}
    for batch_size in (1, 5):
        out = tmp_path / f"b{batch_size}"
        evaluate_run(
            "tiny-vlm",
            {},
            [name],
            out,
            limit=10,
            batch_size=batch_size,
            progress=False,
            fewshot=FewShotSettings(shots=4, seed=3),
        )
        runs[batch_size] = _demos(out, name)
    assert runs[1] == runs[5]
    assert all(len(d) == 4 for d in runs[1].values())


SHARD_SCRIPT = """
import json, sys
from emu2_eval.tasks.locations import TaskIndex
from emu2_eval.tasks.registry import get_task
from emu2_eval.fewshot.feature_store import FeatureStore
task = get_task(sys.argv[2], TaskIndex((sys.argv[1],)))
data = task.load()
docs = data.docs[int(sys.argv[3])::int(sys.argv[4])]
selector = task.selector(data.fingerprint, FeatureStore(sys.argv[5]), progress=False)
print(json.dumps({d.doc_id: [x.doc_id for x in selector.select(d, 4, 7)] for d in docs}))
"""


def test_demonstrations_identical_in_one_or_two_processes(task_dir, tmp_path) -> None:
    name = _variant(task_dir, "fs_proc", **{"strategy: rices": "strategy: random"})

    def shard(index: int, count: int) -> dict[str, list[str]]:
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                SHARD_SCRIPT,
                str(task_dir),
                name,
                str(index),
                str(count),
                str(tmp_path / "features"),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])

    one = shard(0, 1)
    two = {**shard(0, 2), **shard(1, 2)}
    assert one == two and len(one) == 96
    # a different seed changes the choice, the same seed never does
    task = get_task(name)
    data = task.load()
    selector = task.selector(data.fingerprint, FeatureStore(tmp_path / "f2"), progress=False)
    doc = data.docs[0]
    assert [d.doc_id for d in selector.select(doc, 4, 7)] == one[doc.doc_id]
    assert [d.doc_id for d in selector.select(doc, 4, 8)] != one[doc.doc_id]


def _mix(path: Path, red_fraction: float) -> ImagePart:
    """An image with a given share of pure red pixels, the rest pure blue."""
    return red_blue_image(path, red_fraction, size=50)


def test_rices_picks_nearest_neighbours_most_similar_last(tmp_path) -> None:
    fractions = [0.1, 0.3, 0.5, 0.7, 0.86, 1.0, 0.0]
    pool_docs = [
        Doc(f"p{i}", {"image": _mix(tmp_path / f"p{i}.png", f)}) for i, f in enumerate(fractions)
    ]
    pool = LoadedData(pool_docs, fingerprint="pool-v1")
    query = Doc("q", {"image": _mix(tmp_path / "q.png", 0.9)})
    store = FeatureStore(tmp_path / "features")
    selector = RicesSelector(
        pool, "t", ColorHistogramEncoder(), store, "queries-v1", progress=False
    )
    chosen = [d.doc_id for d in selector.select(query, 3, seed=0)]
    # shares of red 0.86, 1.0, 0.7 are the nearest to 0.9 by angle of (red, blue) counts
    assert chosen == ["p3", "p5", "p4"]
    # independent check: brute-force cosine similarity of raw pixel-colour counts
    counts = np.array([[f, 1 - f] for f in fractions])
    q = np.array([0.9, 0.1])
    cosine = counts @ q / (np.linalg.norm(counts, axis=1) * np.linalg.norm(q))
    assert chosen == [f"p{i}" for i in np.argsort(-cosine)[:3][::-1]]
    assert selector.select(query, 3, seed=0) == selector.select(query, 3, seed=99)
    assert store.computed == 8
    # a second run reads every feature back from disk
    again = FeatureStore(tmp_path / "features")
    selector2 = RicesSelector(
        pool, "t", ColorHistogramEncoder(), again, "queries-v1", progress=False
    )
    assert [d.doc_id for d in selector2.select(query, 3, seed=0)] == chosen
    assert again.computed == 0


def test_rices_never_shows_the_query_image(tmp_path) -> None:
    image = _mix(tmp_path / "same.png", 0.5)
    pool = LoadedData(
        [
            Doc("a", {"image": image}),
            Doc("b", {"image": _mix(tmp_path / "b.png", 0.2)}),
            Doc("c", {"image": _mix(tmp_path / "c.png", 0.9)}),
        ],
        "fp",
    )
    query = Doc("q", {"image": image})
    selector = RicesSelector(
        pool, "t", ColorHistogramEncoder(), FeatureStore(tmp_path / "f"), "qfp", progress=False
    )
    assert "a" not in [d.doc_id for d in selector.select(query, 2, 0)]
    random_choice = RandomSelector(pool, "t").select(query, 2, 0)
    assert "a" not in [d.doc_id for d in random_choice]
    with pytest.raises(ValueError, match="3 shots asked but the pool has 3"):
        RandomSelector(pool, "t").select(query, 3, 0)


def test_fewshot_prompt_is_interleaved(task_dir, tmp_path) -> None:
    task = get_task("demo_vqa")
    data = task.load()
    selector = task.selector(data.fingerprint, FeatureStore(tmp_path / "f"), progress=False)
    doc = data.docs[0]
    demos, text_only = task.demonstrations(doc, 2, 0, selector)
    request = task.build_request(doc, demos, text_only)
    kinds = [type(p).__name__ for p in request.prompt]
    assert kinds == ["ImagePart", "TextPart", "ImagePart", "TextPart", "ImagePart", "TextPart"]
    first = request.prompt[1].text
    assert first == (
        f"based on the picture, {demos[0]['question']} short answer: {demos[0]['answer']}. "
    )
    assert request.prompt[-1].text == f"based on the picture, {doc['question']} short answer:"
    zero = task.build_request(doc)
    assert zero.prompt[1].text.startswith("based on the picture, answer in one word or phrase.")


def test_flamingo_zero_shot_text_examples_are_an_option(task_dir, tmp_path) -> None:
    name = _variant(
        task_dir,
        "fs_flamingo0",
        **{"profile: emu2_vqa_fewshot": "profile: emu2_vqa_fewshot\n  zero_shot_text_examples: 2"},
    )
    results = evaluate_run("tiny-vlm", {}, [name], tmp_path / "o", limit=3, progress=False)
    assert results["tasks"][name]["fewshot"]["zero_shot_text_examples"] == 2
    rows = [
        json.loads(x) for x in (tmp_path / "o" / f"samples_{name}.jsonl").read_text().splitlines()
    ]
    assert all(len(r["demonstrations"]) == 2 for r in rows)
    assert all(r["prompt"].count("<image>") == 1 for r in rows)  # text-only examples
    assert all(r["prompt"].count("short answer:") == 3 for r in rows)


def _eight_shots_in_120_tokens(output: Path, fewshot: FewShotSettings, **options) -> dict:
    """demo_vqa (4 docs) on tiny-vlm with a 120-token context: 8 demonstrations overflow it."""
    return evaluate_run(
        "tiny-vlm",
        {"max_context": 120},
        ["demo_vqa"],
        output,
        limit=4,
        progress=False,
        fewshot=fewshot,
        **options,
    )


def test_context_overflow_is_a_clear_error_before_running(tmp_path) -> None:
    with pytest.raises(
        ContextLengthError,
        match=r"doc 10: the prompt needs \d+ tokens \(8 "
        r"demonstrations\) but the model takes 120",
    ):
        _eight_shots_in_120_tokens(tmp_path / "o", FewShotSettings(shots=8))
    assert not (tmp_path / "o" / "results.json").exists()


def test_drop_demonstrations_policy_is_recorded(tmp_path) -> None:
    from emu2_eval.models.tiny_vlm import TinyVLMAdapter

    adapter = TinyVLMAdapter(max_context=120)
    fewshot = FewShotSettings(shots=8, context_policy="drop_demonstrations")
    results = _eight_shots_in_120_tokens(tmp_path / "o", fewshot, adapter=adapter)
    assert results["tasks"]["demo_vqa"]["fewshot"]["context_policy"] == "drop_demonstrations"
    rows = [
        json.loads(x) for x in (tmp_path / "o" / "samples_demo_vqa.jsonl").read_text().splitlines()
    ]
    from emu2_eval.core.requests import Request

    for row in rows:
        assert 0 < len(row["demonstrations"]) < 8
        n_images = row["prompt"].count("<image>")
        assert n_images == len(row["demonstrations"]) + 1
    # the kept prompt fits; one more demonstration would not
    task = get_task("demo_vqa")
    docs = {d.doc_id: d for d in task.load().docs}
    row = rows[0]
    pool = {d.doc_id: d for d in task.selector("x", FeatureStore(tmp_path / "f"), False).pool.docs}
    demos = [pool[i] for i in row["demonstrations"]]
    request: Request = task.build_request(docs[row["doc_id"]], demos)
    assert adapter.count_tokens(request) <= 120


def test_count_tokens_matches_the_processor(tiny_adapter, demo_dir) -> None:
    """The budget check counts exactly what the model will see (text + expanded images)."""
    from emu2_eval.core.requests import Request

    images = sorted((demo_dir / "images" / "val2014").glob("*.jpg"))[:2]
    parts = (
        ImagePart.from_file(images[0]),
        TextPart("what color is it? red. "),
        ImagePart.from_file(images[1]),
        TextPart("what color is it?"),
    )
    request = Request("generate", parts, "t", "d", (("max_new_tokens", 5),))
    text, pics = tiny_adapter.render(parts)
    seen = tiny_adapter._encode([text], [pics])["input_ids"].shape[1]
    assert tiny_adapter.count_tokens(request) == seen + 5


def test_zero_shot_only_task_refuses_shots(tmp_path) -> None:
    with pytest.raises(ValueError, match="has no 'fewshot' pool"):
        evaluate_run(
            "tiny-vlm",
            {},
            ["demo_caption"],
            tmp_path / "o",
            limit=2,
            progress=False,
            fewshot=FewShotSettings(shots=4),
        )


def test_paper_reference_numbers_match_shared_copy() -> None:
    import csv

    shared = REPO.parent / "shared" / "reference" / "emu2_paper_results.csv"
    if not shared.is_file():
        pytest.skip("../shared/reference is not present")
    expected = {
        (r["model"], r["benchmark"], r["shots"].rstrip("*"), r["shots"].endswith("*")): float(
            r["value"]
        )
        for r in csv.DictReader(shared.open())
        if r["source"].endswith("Table 1")
    }
    from emu2_eval.tasks.paper_numbers import paper_fewshot_table

    table = paper_fewshot_table()
    ours = {
        (r.model, r.benchmark, str(r.shots), bool(r.flamingo_text_examples)): r.value
        for r in table.itertuples()
    }
    assert ours == expected


@pytest.mark.slow
def test_sweep_end_to_end_with_table_and_plot(task_dir, tmp_path) -> None:
    from click.testing import CliRunner

    from emu2_eval.cli import main

    reference = "reference: {benchmark: VQAv2, split: test-dev, metric: vqa_accuracy}\n"
    name = _variant(task_dir, "fs_sweep", **{"strategy: rices": "strategy: random"})
    (task_dir / f"{name}.yaml").write_text((task_dir / f"{name}.yaml").read_text() + reference)
    out = tmp_path / "sweep"
    args = [
        "sweep",
        "--model",
        "tiny-vlm",
        "--tasks",
        name,
        "--shots",
        "0,4,8",
        "--seeds",
        "0,1",
        "--limit",
        "6",
        "--batch-size",
        "3",
        "--output",
        str(out),
        "--no-progress",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    summary = __import__("pandas").read_csv(out / "sweep_summary.csv")
    assert list(summary.shots) == [0, 4, 8] and set(summary.seeds) == {2}
    assert list(summary.paper) == [33.5, 67.0, 67.8]
    assert np.allclose(summary["diff"], summary["mean"] - summary["paper"])
    assert (out / "sweep.png").stat().st_size > 5000
    cells = sorted(p.parent.name for p in out.glob("cells/*/*/results.json"))
    assert cells == [
        "shots0-seed0",
        "shots0-seed1",
        "shots4-seed0",
        "shots4-seed1",
        "shots8-seed0",
        "shots8-seed1",
    ]
    # seeds give different demonstrations at 4 shots
    assert _demos(out / "cells" / name / "shots4-seed0", name) != _demos(
        out / "cells" / name / "shots4-seed1", name
    )
    # a second sweep skips every complete cell
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("cells/*/*/results.json")}
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert stamps == {p: p.stat().st_mtime_ns for p in out.glob("cells/*/*/results.json")}


def test_clip_encoder_from_a_local_checkpoint(tmp_path, demo_dir) -> None:
    """RICES with CLIP features loads a checkpoint the real way (tiny random CLIP on disk)."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel

    from emu2_eval.fewshot.encoders import CLIPImageEncoder

    config = CLIPConfig(
        text_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "vocab_size": 64,
        },
        vision_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=8,
    )
    torch.manual_seed(0)
    CLIPModel(config).save_pretrained(tmp_path / "clip")
    CLIPImageProcessorPil(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    ).save_pretrained(tmp_path / "clip")
    encoder = CLIPImageEncoder(str(tmp_path / "clip"), device="cpu", batch_size=3)
    images = [
        ImagePart.from_file(p) for p in sorted((demo_dir / "images/val2014").glob("*.jpg"))[:5]
    ]
    images.append(ImagePart.from_file(tmp_path / "missing.jpg"))
    features = encoder.encode(images, progress=False)
    assert features.shape == (6, 8)
    assert np.allclose(np.linalg.norm(features[:5], axis=1), 1.0, atol=1e-5)
    assert np.isnan(features[5]).all()  # unreadable image: no features, not a crash
    assert encoder.fingerprint().startswith("clip-")

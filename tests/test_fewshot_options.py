"""Issue 16 item 5 (few-shot half): the unpublished few-shot settings are options.

The RICES encoder (any CLIP checkpoint, or Emu2's own EVA-CLIP tower), one example per image,
which crowd answer a demonstration shows, and OpenFlamingo's Hateful Memes prompt. Each option
must change the demonstrations or the rendered prompt the way it says, on small pools built here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from emu2_eval.core.prompts import ImagePart, TextPart
from emu2_eval.data.docs import Doc, LoadedData
from emu2_eval.fewshot.answers import DemoAnswerError, most_common_answer, with_demo_answer
from emu2_eval.fewshot.encoders import CLIPImageEncoder, ColorHistogramEncoder
from emu2_eval.fewshot.feature_store import FeatureStore
from emu2_eval.fewshot.selection import RandomSelector, RicesSelector
from emu2_eval.rundir.images import request_identity
from emu2_eval.tasks.config import TaskConfigError
from emu2_eval.tasks.registry import get_task
from tests.helpers import red_blue_image

REPO = Path(__file__).resolve().parents[1]


def _square(path: Path, red: float) -> ImagePart:
    """A picture whose share of red rows (the rest blue) sets its colour histogram."""
    return red_blue_image(path, red, size=40)


# -- demo_answer ---------------------------------------------------------------------------------
def _doc(answers: list[str], answer: str = "mc") -> Doc:
    return Doc("d", {"answers": answers, "answer": answer})


def test_most_common_counts_exact_strings_and_breaks_ties_by_first_occurrence() -> None:
    # "3" and "2" both occur twice: "3" is seen first (index 1), so it wins; "4" is answers[0]
    assert most_common_answer(_doc(["4", "3", "3", "2", "2"])) == "3"
    assert most_common_answer(_doc(["2", "3", "3", "2"])) == "2"  # the same counts, other order
    assert most_common_answer(_doc(["yes", "Yes", "Yes"])) == "Yes"  # no normalisation
    assert most_common_answer(_doc(["a"])) == "a"
    doc = _doc(["4", "3", "3", "2", "2"], answer="two")
    assert with_demo_answer(doc, "multiple_choice_answer") is doc
    assert with_demo_answer(doc, "first")["answer"] == "4"
    assert with_demo_answer(doc, "most_common")["answer"] == "3"


def _vqa_pool(root: Path) -> Path:
    """Official-format VQA files: three pool questions (answers chosen so that the three rules
    differ) on three images, and one query on a fourth image (the reddest)."""
    images = root / "images"
    images.mkdir(parents=True)
    for image_id, red in ((1, 0.2), (2, 0.5), (3, 0.9), (4, 0.0)):
        _square(images / f"COCO_x_{image_id:012d}.jpg", red)
    answers = ["4", "3", "3", "2", "2", "5", "6", "7", "8", "9"]

    def write(split: str, ids: list[int]) -> None:
        questions = [
            {"question_id": i * 10, "image_id": i, "question": f"how many in {i}?"} for i in ids
        ]
        annotations = [
            {
                "question_id": i * 10,
                "image_id": i,
                "multiple_choice_answer": "two",
                "answers": [{"answer": a, "answer_id": k} for k, a in enumerate(answers)],
                "answer_type": "number",
                "question_type": "how many",
            }
            for i in ids
        ]
        (root / f"q_{split}.json").write_text(
            json.dumps({"data_subtype": "x", "questions": questions})
        )
        (root / f"a_{split}.json").write_text(json.dumps({"annotations": annotations}))

    write("pool", [1, 2, 4])
    write("query", [3])
    return root


def _vqa_task(task_dir: Path, data: Path, name: str, extra: str = "") -> str:
    args = (
        "{{questions: {d}/q_{s}.json, annotations: {d}/a_{s}.json, images: {d}/images, "
        "image_pattern: 'COCO_x_{{image_id:012d}}.jpg'}}"
    )
    (task_dir / f"{name}.yaml").write_text(
        f"task: {name}\n"
        f"dataset:\n  loader: vqa_official\n  args: {args.format(d=data, s='query')}\n"
        "prompt: emu2_vqa_zeroshot\nrequest: generate\n"
        "generation: {num_beams: 1, max_new_tokens: 3}\nfilters: [short_answer]\n"
        "metrics:\n  - name: vqa_accuracy\n"
        f"fewshot:\n  pool:\n    loader: vqa_official\n    args: {args.format(d=data, s='pool')}\n"
        "  strategy: rices\n  encoder: color_histogram\n  profile: emu2_vqa_fewshot\n" + extra
    )
    return name


@pytest.mark.parametrize(
    ("rule", "shown"), [(None, "two"), ("multiple_choice_answer", "two"), ("first", "4"),
                        ("most_common", "3")],
)  # fmt: skip
def test_demo_answer_sets_the_answer_each_demonstration_shows(
    rule, shown, task_dir: Path, tmp_path: Path
) -> None:
    data = _vqa_pool(tmp_path / "data")
    extra = f"  demo_answer: {rule}\n" if rule else ""
    task = get_task(_vqa_task(task_dir, data, f"answers_{rule}", extra))
    query = task.load().docs[0]
    selector = task.selector("q", FeatureStore(tmp_path / "f"), progress=False)
    demos, _ = task.demonstrations(query, 2, 0, selector)
    assert [d["answer"] for d in demos] == [shown, shown]
    prompt = task.build_request(query, demos).prompt
    texts = [p.text for p in prompt if isinstance(p, TextPart)]
    # RICES: the two pool images nearest the query's colours, the nearest (image 2) last
    assert texts[0] == f"based on the picture, how many in 1? short answer: {shown}. "
    assert texts[1] == f"based on the picture, how many in 2? short answer: {shown}. "
    assert task.config.fewshot.describe()["demo_answer"] == (rule or "multiple_choice_answer")


def test_demo_answer_changes_the_request_and_so_the_cache_key(task_dir, tmp_path) -> None:
    data = _vqa_pool(tmp_path / "data")
    hashes = set()
    for rule in ("multiple_choice_answer", "first", "most_common"):
        task = get_task(_vqa_task(task_dir, data, f"key_{rule}", f"  demo_answer: {rule}\n"))
        query = task.load().docs[0]
        selector = task.selector("q", FeatureStore(tmp_path / "f"), progress=False)
        hashes.add(request_identity(task.build_request(query, task.demonstrations(
            query, 2, 0, selector)[0])))  # fmt: skip
    assert len(hashes) == 3


def test_bad_demo_answer_values_and_combinations_are_refused(task_dir, tmp_path) -> None:
    from emu2_eval.tasks.config import load_task_config

    data = _vqa_pool(tmp_path / "data")
    _vqa_task(task_dir, data, "bad_rule", "  demo_answer: majority\n")
    with pytest.raises(TaskConfigError) as info:
        load_task_config(task_dir / "bad_rule.yaml")
    message = str(info.value)
    assert "bad_rule.yaml" in message and "fewshot.demo_answer: unknown rule 'majority'" in message
    assert "first, most_common, multiple_choice_answer" in message
    _vqa_task(task_dir, data, "bad_flag", "  one_example_per_image: sometimes\n")
    with pytest.raises(TaskConfigError, match="one_example_per_image must be true or false"):
        load_task_config(task_dir / "bad_flag.yaml")
    # a caption profile shows no {answer}: demo_answer would silently do nothing
    _vqa_task(task_dir, data, "cap", "  demo_answer: first\n")
    path = task_dir / "cap.yaml"
    path.write_text(path.read_text().replace("profile: emu2_vqa_fewshot", "profile: brief_caption"))
    with pytest.raises(TaskConfigError, match=r"needs a few-shot profile whose target shows"):
        load_task_config(path)


def test_demo_answer_on_a_pool_without_crowd_answers_is_refused(task_dir, tmp_path) -> None:
    text = (REPO / "tasks/demo/demo_hateful_memes.yaml").read_text()
    (task_dir / "hm_first.yaml").write_text(
        text.replace("task: demo_hateful_memes", "task: hm_first") + "  demo_answer: first\n"
    )
    task = get_task("hm_first")
    with pytest.raises(DemoAnswerError) as info:
        task.selector("q", FeatureStore(tmp_path / "f"), progress=False)
    message = str(info.value)
    assert "hm_first" in message and "hm_first.yaml" in message and "train.jsonl" in message
    assert "demo_answer: multiple_choice_answer" in message  # the fix


# -- one_example_per_image -----------------------------------------------------------------------
def _shared_image_pool(tmp_path: Path) -> tuple[LoadedData, Doc]:
    """Three images with two questions each (a1, a2 near the query's colours; c far)."""
    images = {name: _square(tmp_path / f"{name}.png", red) for name, red in
              (("a", 0.8), ("b", 0.5), ("c", 0.1))}  # fmt: skip
    docs = [Doc(f"{n}{k}", {"image": images[n]}) for n in "abc" for k in (1, 2)]
    query = Doc("q", {"image": _square(tmp_path / "q.png", 0.85)})
    return LoadedData(docs, "pool-fp"), query


def test_random_one_example_per_image_never_repeats_an_image(tmp_path) -> None:
    pool, query = _shared_image_pool(tmp_path)
    per_question = RandomSelector(pool, "t")
    per_image = RandomSelector(pool, "t", one_example_per_image=True)
    repeats = 0
    for seed in range(40):
        images = [d.doc_id[0] for d in per_image.select(query, 3, seed)]
        assert sorted(images) == ["a", "b", "c"]
        default = [d.doc_id[0] for d in per_question.select(query, 3, seed)]
        repeats += len(set(default)) < 3
        assert per_image.select(query, 3, seed) == per_image.select(query, 3, seed)
    assert repeats > 0  # one entry per question (OpenFlamingo) does show an image twice
    # every entry of an image can be the one shown
    shown = {d.doc_id for seed in range(40) for d in per_image.select(query, 3, seed)}
    assert shown == {"a1", "a2", "b1", "b2", "c1", "c2"}
    with pytest.raises(ValueError, match="4 shots asked with one_example_per_image but the "
                                         "pool has 3 images"):  # fmt: skip
        per_image.select(query, 4, 0)


def test_rices_one_example_per_image_takes_the_next_image_not_its_second_question(tmp_path):
    pool, query = _shared_image_pool(tmp_path)
    store = FeatureStore(tmp_path / "f")
    default = RicesSelector(pool, "t", ColorHistogramEncoder(), store, "q", progress=False)
    assert [d.doc_id for d in default.select(query, 2, 0)] == ["a2", "a1"]
    per_image = RicesSelector(
        pool, "t", ColorHistogramEncoder(), store, "q", progress=False, one_example_per_image=True
    )
    assert [d.doc_id for d in per_image.select(query, 2, 0)] == ["b1", "a1"]
    assert [d.doc_id for d in per_image.select(query, 3, 0)] == ["c1", "b1", "a1"]


def test_one_example_per_image_from_the_task_file(task_dir, tmp_path) -> None:
    text = (REPO / "tasks/demo/demo_vqa.yaml").read_text()
    (task_dir / "per_image.yaml").write_text(
        text.replace("task: demo_vqa", "task: per_image") + "  one_example_per_image: true\n"
    )
    default, per_image = get_task("demo_vqa"), get_task("per_image")
    docs = default.load().docs[:12]
    repeated = 0
    for task in (default, per_image):
        selector = task.selector("q", FeatureStore(tmp_path / "f"), progress=False)
        for doc in docs:
            images = [d["image"].key for d in task.demonstrations(doc, 4, 0, selector)[0]]
            if task is per_image:
                assert len(set(images)) == 4
            else:
                repeated += len(set(images)) < 4
    assert repeated > 0  # the demo pool has 4 questions per image: RICES repeats images
    assert per_image.config.fewshot.describe()["one_example_per_image"] is True


# -- the RICES encoder ---------------------------------------------------------------------------
def test_each_clip_checkpoint_keys_its_own_features(tmp_path) -> None:
    from emu2_eval.core.tiny_backbones import save_tiny_clip

    pool, _ = _shared_image_pool(tmp_path)
    first = CLIPImageEncoder(str(save_tiny_clip(tmp_path / "clip0", seed=0)), device="cpu")
    second = CLIPImageEncoder(str(save_tiny_clip(tmp_path / "clip1", seed=1)), device="cpu")
    assert first.fingerprint() != second.fingerprint()
    assert first.fingerprint().startswith("clip-")
    store = FeatureStore(tmp_path / "f")
    one = store.features(first, pool.fingerprint, pool.docs, progress=False)
    assert store.computed == 6
    two = store.features(second, pool.fingerprint, pool.docs, progress=False)
    assert store.computed == 12  # never the first checkpoint's features
    assert not np.allclose(one, two)
    assert len(list((tmp_path / "f").glob("*.npz"))) == 2
    again = CLIPImageEncoder(str(tmp_path / "clip0"), device="cpu")
    assert np.array_equal(store.features(again, pool.fingerprint, pool.docs, progress=False), one)
    assert store.computed == 12
    selector = RicesSelector(pool, "t", first, store, "q", progress=False)
    assert selector.describe() == {"encoder_fingerprint": first.fingerprint()}


def _tiny_emu2_checkpoint(directory: Path, seed: int = 0):
    """A tiny Emu2 in the published sharded layout (split q/v bias), without tokenizer files:
    the visual encoder needs none."""
    from emu2_eval.models.emu2.loading import save_checkpoint
    from tests.emu2_factories import TinyEmu2

    tiny = TinyEmu2("base", seed=seed)
    model = tiny.build()
    state = tiny.published_state_dict(model, split_qkv_bias=True)
    save_checkpoint(state, directory, max_shard_bytes=2 * 1024**2)
    tiny.config().save_pretrained(directory)
    return model


def test_emu2_visual_encoder_reads_the_checkpoints_eva_tower(tmp_path) -> None:
    import torch

    from emu2_eval.fewshot.emu2_encoder import Emu2VisualEncoder
    from emu2_eval.models.emu2.preprocess import preprocess_images

    model = _tiny_emu2_checkpoint(tmp_path / "emu2")
    assert len(list((tmp_path / "emu2").glob("pytorch_model-*.bin"))) > 1  # sharded
    pool, query = _shared_image_pool(tmp_path)
    images = [d["image"] for d in pool.docs] + [ImagePart.from_file(tmp_path / "missing.png")]
    encoder = Emu2VisualEncoder(str(tmp_path / "emu2"), device="cpu", batch_size=4)
    features = encoder.encode(images, progress=False)
    # independently: the full model's own tower on Emu2's preprocessing, patch tokens averaged
    pixels = preprocess_images([i.load() for i in images[:-1]], 112)
    with torch.no_grad():
        tokens = model.model.visual(pixels)[:, 1:, :].mean(dim=1).numpy()
    expected = tokens / np.linalg.norm(tokens, axis=1, keepdims=True)
    assert np.allclose(features[:-1], expected, atol=1e-5)
    assert np.isnan(features[-1]).all()
    cls = Emu2VisualEncoder(str(tmp_path / "emu2"), pooling="cls", device="cpu")
    assert not np.allclose(cls.encode(images[:2], progress=False), features[:2])
    assert len({encoder.fingerprint(), cls.fingerprint()}) == 2
    assert encoder.fingerprint().startswith("emu2_visual-")
    _tiny_emu2_checkpoint(tmp_path / "other", seed=1)
    other = Emu2VisualEncoder(str(tmp_path / "other"), device="cpu")
    assert other.fingerprint() != encoder.fingerprint()
    # RICES with Emu2's features: nearest images by these features, most similar last
    selector = RicesSelector(pool, "t", encoder, FeatureStore(tmp_path / "f"), "q", False)
    query_feature = encoder.encode([query["image"]], progress=False)[0]
    order = np.argsort(-(features[:-1] @ query_feature), kind="stable")[:3][::-1]
    assert [d.doc_id for d in selector.select(query, 3, 0)] == [pool.docs[i].doc_id for i in order]
    with pytest.raises(ValueError, match="pooling 'max' is not one of mean, cls"):
        Emu2VisualEncoder(str(tmp_path / "emu2"), pooling="max", device="cpu")


def test_emu2_visual_encoder_refuses_a_checkpoint_without_the_tower(tmp_path) -> None:
    from emu2_eval.fewshot.emu2_encoder import Emu2VisualEncoder
    from emu2_eval.models.emu2.loading import Emu2LoadError, read_shard, save_checkpoint

    _tiny_emu2_checkpoint(tmp_path / "emu2")
    state = {}
    for shard in sorted((tmp_path / "emu2").glob("pytorch_model-*.bin")):
        state.update(read_shard(shard))
    broken = tmp_path / "broken"
    save_checkpoint({k: v for k, v in state.items() if ".blocks.1." not in k}, broken)
    (broken / "config.json").write_text((tmp_path / "emu2" / "config.json").read_text())
    with pytest.raises(Emu2LoadError, match=r"does not match its checkpoint \(missing blocks\.1\."):
        Emu2VisualEncoder(str(broken), device="cpu")


def test_unknown_encoder_is_refused_with_the_valid_names(task_dir) -> None:
    from emu2_eval.tasks.config import load_task_config

    text = (REPO / "tasks/demo/demo_vqa.yaml").read_text()
    (task_dir / "enc.yaml").write_text(
        text.replace("task: demo_vqa", "task: enc").replace("color_histogram", "eva_clip")
    )
    with pytest.raises(TaskConfigError) as info:
        load_task_config(task_dir / "enc.yaml")
    assert "unknown encoder 'eva_clip'" in str(info.value)
    assert "emu2_visual" in str(info.value) and "enc.yaml" in str(info.value)


# -- OpenFlamingo's Hateful Memes prompt ---------------------------------------------------------
def test_openflamingo_hateful_memes_prompt_renders_as_open_flamingo(tmp_path) -> None:
    task = get_task("demo_hateful_memes_openflamingo")
    data = task.load()
    query = data.docs[0]
    selector = task.selector(data.fingerprint, FeatureStore(tmp_path / "f"), progress=False)
    demos, _ = task.demonstrations(query, 2, 0, selector)
    request = task.build_request(query, demos)
    kinds = [type(p).__name__ for p in request.prompt]
    assert kinds == ["ImagePart", "TextPart", "ImagePart", "TextPart", "ImagePart", "TextPart"]

    def of_prompt(text: str, label: str | None = None) -> str:  # get_hateful_memes_prompt
        end = f"{label}<|endofchunk|>" if label is not None else ""
        return f"is an image with: '{text}' written on it. Is it hateful? Answer:{end}"

    for part, demo in zip(request.prompt[1:4:2], demos, strict=True):
        assert part.text == of_prompt(demo["text"], "yes" if demo["label"] == 1 else "no")
    assert request.prompt[-1].text == of_prompt(query["text"])
    assert request.continuations == ("yes", "no")
    zero = task.build_request(query)
    assert [p.text for p in zero.prompt if isinstance(p, TextPart)] == [of_prompt(query["text"])]
    config = get_task("hateful_memes_test_seen_openflamingo").config
    assert config.prompt == "openflamingo_hateful_memes" and config.continuations == ("yes", "no")


def test_openflamingo_hateful_memes_demo_runs_end_to_end(tmp_path) -> None:
    from emu2_eval.engine.runner import FewShotSettings
    from tests.runs import evaluate_run

    name = "demo_hateful_memes_openflamingo"
    results = evaluate_run(
        "tiny-vlm", {}, [name], tmp_path / "run", limit=8, progress=False,
        fewshot=FewShotSettings(shots=1, seed=0),
    )  # fmt: skip
    block = results["tasks"][name]
    assert block["prompt_profile"]["name"] == "openflamingo_hateful_memes"
    assert 0.0 <= block["metrics"]["roc_auc"] <= 100.0 and block["n_scored"] == 8
    rows = [json.loads(x) for x in (tmp_path / "run" / f"samples_{name}.jsonl").read_text()
            .splitlines()]  # fmt: skip
    for row in rows:
        demo = row["demonstration_docs"][0]
        assert (
            f"written on it. Is it hateful? Answer:{demo['answer']}<|endofchunk|>"
            in (row["prompt"])
        )
        assert row["prompt"].endswith(f"is an image with: '{row['doc']['text']}' written on it. "
                                      "Is it hateful? Answer:")  # fmt: skip


# -- recorded and reported -----------------------------------------------------------------------
def test_options_are_recorded_in_results_and_every_report(task_dir, tmp_path) -> None:
    from emu2_eval.engine.runner import FewShotSettings
    from emu2_eval.reporting.html import html_report
    from emu2_eval.reporting.tables import latex_report, markdown_report, results_table
    from tests.runs import evaluate_run

    text = (REPO / "tasks/demo/demo_vqa.yaml").read_text()
    (task_dir / "opts.yaml").write_text(
        text.replace("task: demo_vqa", "task: opts")
        + "  one_example_per_image: true\n  demo_answer: first\n"
    )
    out = tmp_path / "run"
    results = evaluate_run(
        "tiny-vlm", {}, ["opts"], out, limit=3, progress=False,
        fewshot=FewShotSettings(shots=2, seed=0),
    )  # fmt: skip
    block = results["tasks"]["opts"]["fewshot"]
    assert block["one_example_per_image"] is True and block["demo_answer"] == "first"
    fingerprint = ColorHistogramEncoder().fingerprint()
    assert block["encoder"] == "color_histogram" and block["encoder_fingerprint"] == fingerprint
    assert json.loads((out / "results.json").read_text())["tasks"]["opts"]["fewshot"] == block
    rows = [json.loads(x) for x in (out / "samples_opts.jsonl").read_text().splitlines()]
    for row in rows:  # the samples show the answer the prompt showed
        for demo in row["demonstration_docs"]:
            assert demo["answer"] == demo["answers"][0]
            assert f"short answer: {demo['answer']}. " in row["prompt"]
    shown = f"color_histogram@{fingerprint.rpartition('-')[2][:8]}, per image, answer first"
    assert results_table(results).iloc[0]["demos"] == shown
    assert shown in markdown_report(results) and "| seed | demos |" in markdown_report(results)
    assert shown.replace("_", r"\_") in latex_report(results) or shown in latex_report(results)
    assert f"demos {shown}" in html_report(results, out)
    csv_header = (out / "report.csv").read_text().splitlines()[0].split(",")
    assert csv_header[-4:] == ["demos", "scorer", "n", "errors"]


def test_defaults_record_todays_behaviour_and_zero_shot_shows_no_demo_options() -> None:
    from emu2_eval.reporting.settings import demos_setting

    spec = get_task("demo_vqa").config.fewshot
    assert (spec.one_example_per_image, spec.demo_answer) == (False, "multiple_choice_answer")
    block = {"shots": 4, **spec.describe()}
    assert demos_setting(block) == "color_histogram, per question, answer multiple_choice_answer"
    assert demos_setting({**block, "shots": 0}) == ""
    # a results.json from before these options: nothing is guessed
    assert demos_setting({"shots": 4, "strategy": "random"}) == ""


def test_a_missing_rices_checkpoint_is_named_before_the_model_loads(task_dir, monkeypatch) -> None:
    from click.testing import CliRunner

    from emu2_eval.cli import main
    from emu2_eval.engine import evaluate as evaluate_module

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the preflight stopped the run")

    monkeypatch.setattr(evaluate_module, "load_adapter", refuse)
    text = (REPO / "tasks/demo/demo_vqa.yaml").read_text()
    (task_dir / "eva.yaml").write_text(
        text.replace("task: demo_vqa", "task: eva").replace(
            "encoder: color_histogram",
            "encoder: emu2_visual\n  encoder_args: {pretrained: /nonexistent/Emu2}",
        )
    )
    result = CliRunner().invoke(
        main, ["run", "--model", "tiny-vlm", "--tasks", "eva", "--shots", "2",
               "--output", str(task_dir.parent / "run")],
    )  # fmt: skip
    assert result.exit_code == 1
    assert (
        "task 'eva': the few-shot Emu2 visual (EVA-CLIP) encoder '/nonexistent/Emu2' does not "
        "exist" in result.output
    )


def test_rices_with_emu2s_encoder_runs_end_to_end_and_records_it(task_dir, tmp_path) -> None:
    from emu2_eval.engine.runner import FewShotSettings
    from tests.runs import evaluate_run

    _tiny_emu2_checkpoint(tmp_path / "emu2")
    text = (REPO / "tasks/demo/demo_vqa.yaml").read_text()
    (task_dir / "eva_run.yaml").write_text(
        text.replace("task: demo_vqa", "task: eva_run").replace(
            "encoder: color_histogram",
            f"encoder: emu2_visual\n  encoder_args: {{pretrained: {tmp_path / 'emu2'}, "
            "device: cpu}",
        )
    )
    results = evaluate_run(
        "tiny-vlm", {}, ["eva_run"], tmp_path / "run", limit=2, progress=False,
        fewshot=FewShotSettings(shots=2, seed=0),
    )  # fmt: skip
    block = results["tasks"]["eva_run"]["fewshot"]
    assert block["encoder"] == "emu2_visual"
    assert block["encoder_fingerprint"].startswith("emu2_visual-")
    rows = (tmp_path / "run" / "samples_eva_run.jsonl").read_text().splitlines()
    assert all(len(json.loads(r)["demonstrations"]) == 2 for r in rows)

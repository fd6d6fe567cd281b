"""GQA (loader, exact match) and MMMU (loader, answer parsing, accuracy) for the Table 2 tasks.

The MMMU parser is checked against ``tests/data/mmmu_parse_golden.json``: what MMMU's own
``eval_utils.py`` returns on the public example outputs of its repository (LLaVA-1.5-13B and
Qwen-VL responses on MMMU val) and on hand-written responses (``scripts/make_mmmu_golden.py``).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from emu2_eval.data.docs import DataFormatError
from emu2_eval.scoring.metrics.base import Sample

GOLDEN = json.loads((Path(__file__).parent / "data" / "mmmu_parse_golden.json").read_text())


@pytest.fixture(scope="module")
def chat_demo(isolated_home: Path) -> Path:
    from emu2_eval.data.demo_chat import demo_chat_root

    return demo_chat_root()


# -- GQA ------------------------------------------------------------------------------------


def test_gqa_loader_reads_the_official_balanced_questions(chat_demo: Path) -> None:
    from emu2_eval.data.gqa import load_gqa

    questions = chat_demo / "gqa/testdev_balanced_questions.json"
    data = load_gqa(str(questions), str(chat_demo / "gqa/images"))
    raw = json.loads(questions.read_text())
    assert [d.doc_id for d in data.docs] == list(raw)
    first = data.docs[0]
    record = raw[first.doc_id]
    assert first["answer"] == record["answer"] and first["question"] == record["question"]
    assert first["image"].path == str(chat_demo / "gqa/images" / f"{record['imageId']}.jpg")
    assert first["structural_type"] == record["types"]["structural"]
    assert first["semantic_type"] == record["types"]["semantic"]


def _write(tmp_path: Path, payload: object) -> str:
    path = tmp_path / "testdev_balanced_questions.json"
    path.write_text(json.dumps(payload))
    return str(path)


def test_gqa_bad_files_are_named(tmp_path: Path) -> None:
    from emu2_eval.data.gqa import load_gqa

    with pytest.raises(DataFormatError, match=r"expected a JSON object \{question id: record\}"):
        load_gqa(_write(tmp_path, [{"imageId": "n1", "question": "q"}]), str(tmp_path))
    with pytest.raises(DataFormatError, match=r"record 7: missing key\(s\) imageId"):
        load_gqa(_write(tmp_path, {"7": {"question": "q", "answer": "a"}}), str(tmp_path))
    mixed = {"1": {"imageId": "n1", "question": "q", "answer": "a"},
             "2": {"imageId": "n1", "question": "q"}}  # fmt: skip
    with pytest.raises(DataFormatError, match="record 2: record has no answer"):
        load_gqa(_write(tmp_path, mixed), str(tmp_path))
    with pytest.raises(DataFormatError, match="escapes the image root"):
        load_gqa(_write(tmp_path, {"1": {"imageId": "../x", "question": "q"}}), str(tmp_path))


# (prediction, gold, normalize, expected): hand-derived from each variant's description
EXACT_MATCH_CASES = [
    ("Yes.", "yes", "llava", True),  # LLaVA: trailing '.' dropped, lower-cased
    (" Red ", "red", "llava", True),
    ("red car", "red", "llava", False),
    ("no!", "no", "llava", False),  # only a trailing '.' goes
    ("t-shirt", "t-shirt", "llava", True),
    ("T-Shirt", "tshirt", "ignore_case_punctuation", True),
    ("no!", "no", "ignore_case_punctuation", True),
    ("Yes", "yes", "none", False),
]


@pytest.mark.parametrize(("prediction", "gold", "normalize", "expected"), EXACT_MATCH_CASES)
def test_exact_match_variants(prediction: str, gold: str, normalize: str, expected: bool) -> None:
    from emu2_eval.scoring.metrics.exact_match import exact_match

    assert exact_match(prediction, gold, normalize) is expected


def test_exact_match_metric_groups_and_records_its_variant() -> None:
    from emu2_eval.scoring.metrics.exact_match import ExactMatchMetric

    samples = [
        Sample("1", {"answer": "yes", "structural_type": "verify"}, "Yes."),
        Sample("2", {"answer": "red", "structural_type": "query"}, "blue"),
        Sample("3", {"answer": "cup", "structural_type": "query"}, "cup"),
    ]
    result = ExactMatchMetric(normalize="llava").score(samples)
    assert result.summary == {"exact_match": pytest.approx(200 / 3)}
    assert result.groups["structural_type"] == {"verify": 100.0, "query": 50.0}
    assert result.options["normalize"] == "llava"
    with pytest.raises(ValueError, match="unknown exact_match normalize 'lmms'; valid: vqa, llava"):
        ExactMatchMetric(normalize="lmms")


# -- MMMU parsing against the official code ---------------------------------------------------


def _sort(values: list) -> list:
    return sorted(values, key=lambda v: (isinstance(v, str), str(v)))


@pytest.mark.parametrize("source", ["llava1.5_13b", "qwen_vl", "hand"])
def test_mmmu_parsing_matches_the_official_code(source: str) -> None:
    from emu2_eval.scoring.metrics.mmmu_parsing import open_correct, parse_choice, parse_open

    cases = [c for c in GOLDEN["cases"] if c["source"] == source]
    kinds = {c["question_type"] for c in cases}  # MMMU: anything not multiple-choice is open
    assert "multiple-choice" in kinds and len(kinds) == 2 and len(cases) >= 20
    for case in cases:
        if case["question_type"] == "multiple-choice":
            letter = parse_choice(case["response"], case["index2ans"])
            assert (letter or "<random>") == case["parsed"], case["id"]
        else:
            parsed = parse_open(case["response"])
            assert _sort(parsed) == case["parsed"], case["id"]
            assert open_correct(case["answer"], parsed) is case["correct"], case["id"]


def test_golden_covers_every_answer_format() -> None:
    """The public examples hold letters, bracketed letters, option text and no answer at all."""
    from emu2_eval.scoring.metrics.mmmu_parsing import parse_choice

    choice = [c for c in GOLDEN["cases"] if c["question_type"] == "multiple-choice"]
    bracketed = [c for c in choice if any(f"({x})" in c["response"] for x in c["index2ans"])]
    content = [c for c in choice if len(c["response"].split()) > 5 and c["parsed"] != "<random>"]
    unparsed = [c for c in choice if c["parsed"] == "<random>"]
    assert bracketed and content and unparsed
    assert all(parse_choice(c["response"], c["index2ans"]) is None for c in unparsed)


def _samples(source: str) -> dict[str, list[Sample]]:
    by_subject: dict[str, list[Sample]] = {}
    for case in GOLDEN["cases"]:
        if case["source"] != source:
            continue
        options = list(case.get("index2ans", {}).values())
        fields = {
            "answer": case["answer"],
            "question_type": case["question_type"],
            "options": options,
            "subject": case["subject"],
            "discipline": "d",
        }
        sample = Sample(case["id"], fields, case["response"])
        by_subject.setdefault(case["subject"], []).append(sample)
    return by_subject


@pytest.mark.parametrize("source", ["llava1.5_13b", "qwen_vl"])
def test_mmmu_accuracy_per_subject_equals_the_official_evaluate(source: str) -> None:
    """fallback: wrong reproduces MMMU's evaluate() with its random draw never right."""
    from emu2_eval.scoring.metrics.mmmu import MMMUAccuracyMetric

    metric = MMMUAccuracyMetric(fallback="wrong")
    all_samples = []
    for subject, samples in _samples(source).items():
        all_samples += samples
        official = GOLDEN["accuracy"][f"{source}/{subject}"]
        assert metric.score(samples).summary["accuracy"] == pytest.approx(100 * official)
    result = metric.score(all_samples)
    assert set(result.groups["subject"]) == set(_samples(source))
    n = {s: len(v) for s, v in _samples(source).items()}
    weighted = sum(GOLDEN["accuracy"][f"{source}/{s}"] * k for s, k in n.items()) / sum(n.values())
    assert result.summary["accuracy"] == pytest.approx(100 * weighted)  # calculate_ins_level_acc


def test_mmmu_random_fallback_is_seeded_by_the_doc_and_recorded() -> None:
    from emu2_eval.scoring.metrics.mmmu import MMMUAccuracyMetric, fallback_letter

    fields = {"answer": "B", "question_type": "multiple-choice", "options": ["x", "y", "z", "w"],
              "subject": "Math"}  # fmt: skip
    samples = [Sample(f"validation_Math_{i}", fields, "no idea") for i in range(40)]
    metric = MMMUAccuracyMetric()
    forward = metric.score(samples).per_sample
    backward = metric.score(samples[::-1]).per_sample
    assert forward == backward  # independent of order (MMMU's own draw is not)
    hits = [forward[s.doc_id]["accuracy"] for s in samples]
    expected = [float(fallback_letter(s.doc_id, "ABCD") == "B") for s in samples]
    assert hits == expected and 0 < sum(hits) < 40
    assert metric.options == {"fallback": "random", "parser": "mmmu_eval_utils"}
    assert metric.score(samples).summary["mmmu_unparsed"] == 100.0
    with pytest.raises(ValueError, match="unknown mmmu_accuracy fallback 'first'"):
        MMMUAccuracyMetric(fallback="first")


# -- MMMU data ------------------------------------------------------------------------------


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buffer, format="PNG")
    return buffer.getvalue()


RECORDS = [
    {"id": "validation_Art_Theory_1", "question": "Who painted <image 1>?",
     "options": "['Monet', 'Manet']", "answer": "A", "question_type": "multiple-choice"},
    {"id": "validation_Math_2", "question": "Compute <image 1>.", "options": "[]",
     "answer": "['0.5', '1/2']", "question_type": "open"},
]  # fmt: skip


def test_mmmu_loader_reads_the_hf_parquet_layout(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from emu2_eval.data.mmmu import load_mmmu

    for record in RECORDS:
        subject = record["id"].split("_", 1)[1].rsplit("_", 1)[0]
        (tmp_path / subject).mkdir()
        row = {**record, "image_1": {"bytes": _png(), "path": "a.png"}, "image_2": None}
        pq.write_table(pa.Table.from_pylist([row]),
                       tmp_path / subject / "validation-00000-of-00001.parquet")  # fmt: skip
    data = load_mmmu(str(tmp_path))
    docs = {d.doc_id: d for d in data.docs}
    art, math = docs["validation_Art_Theory_1"], docs["validation_Math_2"]
    assert art["subject"] == "Art_Theory" and art["discipline"] == "Art and Design"
    assert art["options"] == ["Monet", "Manet"] and art["answer"] == "A"
    assert art["options_block"] == "\n\n(A) Monet\n(B) Manet\n"
    assert math["answer"] == ["0.5", "1/2"] and math["options_block"] == ""
    assert math["instruction"] == "Answer the question using a single word or phrase."
    assert art["image"].load().size == (8, 8)
    assert data.protocol["mmmu_images"].startswith("image_1 only")
    with pytest.raises(DataFormatError, match=r"no <Subject>/test-\*\.parquet files"):
        load_mmmu(str(tmp_path), split="test")


def test_mmmu_bad_records_are_named(tmp_path: Path) -> None:
    from emu2_eval.data.mmmu import load_mmmu

    def load(record: dict) -> None:
        path = tmp_path / "validation.json"
        path.write_text(json.dumps([{**RECORDS[0], "image_1": "a.png", **record}]))
        load_mmmu(str(path), images=str(tmp_path))

    with pytest.raises(DataFormatError, match="question_type must be one of multiple-choice, open"):
        load({"question_type": "mc"})
    with pytest.raises(DataFormatError, match="does not name an MMMU subject"):
        load({"id": "validation_Cooking_1"})
    with pytest.raises(DataFormatError, match="options is not a list"):
        load({"options": "Monet, Manet"})
    with pytest.raises(DataFormatError, match="a multiple-choice question needs options"):
        load({"options": "[]"})
    with pytest.raises(DataFormatError, match="image_1 must be an image"):
        load({"image_1": None})


# -- demo tasks end to end ------------------------------------------------------------------


def test_chat_demo_tasks_run_end_to_end(
    tiny_model_dir: Path, chat_demo: Path, tmp_path: Path
) -> None:
    import emu2_eval

    tasks = ["demo_chat_vqa", "demo_chat_gqa", "demo_chat_mmmu"]
    results = emu2_eval.evaluate(model="tiny-vlm", tasks=tasks, limit=8, output=tmp_path)
    blocks = results["tasks"]
    assert blocks["demo_chat_vqa"]["prompt_profile"]["name"] == "chat_vqa_short"
    assert 0 <= blocks["demo_chat_vqa"]["metrics"]["vqa_accuracy"] <= 100
    gqa = blocks["demo_chat_gqa"]
    assert gqa["metrics"]["exact_match"] in {100.0 * k / 8 for k in range(9)}
    assert gqa["metric_options"]["exact_match"]["normalize"] == "llava"
    mmmu = blocks["demo_chat_mmmu"]
    assert mmmu["metric_options"]["mmmu_accuracy"]["fallback"] == "random"
    assert set(mmmu["metrics"]) >= {"accuracy", "mmmu_unparsed"}
    lines = (tmp_path / "samples_demo_chat_mmmu.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    assert "\n\n(A) " in first["prompt"] and first["prompt"].endswith("directly.")

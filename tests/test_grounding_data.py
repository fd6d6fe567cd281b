"""RefCOCO-family loading (refer toolkit layout), its bad inputs, and the grounding demo task
end to end: prompt, parse, score, report, paper comparison."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import pandas as pd
import pytest

import emu2_eval
from emu2_eval.data.demo_grounding import demo_grounding_root
from emu2_eval.data.docs import DataFormatError
from emu2_eval.data.refcoco import load_refcoco
from emu2_eval.models.base import ModelAdapter
from emu2_eval.reporting.paper import paper_tables, reproduction_table
from emu2_eval.scoring.metrics.boxes import parse_box


@pytest.fixture
def refcoco(tmp_path: Path) -> Path:
    """A writable copy of the demo RefCOCO (refs(unc).p, instances.json, images)."""
    copy = tmp_path / "grounding"
    shutil.copytree(demo_grounding_root(), copy)
    return copy


def _load(root: Path, split: str = "val", **kwargs) -> list:
    return load_refcoco(
        refs=str(root / "refcoco" / "refs(unc).p"),
        instances=str(root / "refcoco" / "instances.json"),
        images=str(root / "images" / "train2014"),
        split=split,
        **kwargs,
    ).docs


def _refs(root: Path) -> list[dict]:
    with open(root / "refcoco" / "refs(unc).p", "rb") as handle:
        return pickle.load(handle)  # our own demo file, written by this test's fixture


def _write_refs(root: Path, refs) -> None:
    with open(root / "refcoco" / "refs(unc).p", "wb") as handle:
        pickle.dump(refs, handle, protocol=2)


def test_one_doc_per_referring_sentence_with_box_and_image_size(refcoco: Path) -> None:
    refs = [r for r in _refs(refcoco) if r["split"] == "val"]
    instances = json.loads((refcoco / "refcoco" / "instances.json").read_text())
    docs = _load(refcoco)
    assert len(docs) == sum(len(r["sentences"]) == 2 for r in refs) * 2 == 24
    first, ref = docs[0], refs[0]
    assert first.doc_id == str(ref["sentences"][0]["sent_id"])
    assert first["expression"] == ref["sentences"][0]["sent"]
    ann = next(a for a in instances["annotations"] if a["id"] == ref["ann_id"])
    image = next(i for i in instances["images"] if i["id"] == ref["image_id"])
    assert first["bbox"] == ann["bbox"] and first["width"] == image["width"] == 96
    assert first["image"].path.endswith(image["file_name"])
    raw = _load(refcoco, sentence_field="raw")
    assert raw[0]["expression"] == ref["sentences"][0]["raw"] != first["expression"]
    assert len(_load(refcoco, split="testA")) == 8


def test_a_pickle_that_would_run_code_is_refused_and_nothing_runs(refcoco: Path) -> None:
    marker = refcoco / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    _write_refs(refcoco, [Payload()])
    with pytest.raises(DataFormatError, match=r"refs\(unc\)\.p: the pickle references .*system"):
        _load(refcoco)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda refs: refs[: len(refs)], None),  # control: untouched file loads
        (lambda refs: {"not": "a list"}, "expected a list of refs"),
        (lambda refs: [{"ref_id": 1}], r"record 0: missing key\(s\) ann_id"),
        (lambda refs: [{**refs[0], "ann_id": 999999}], "ref_id 0: ann_id 999999 is not in"),
        (lambda refs: [{**refs[0], "image_id": 7}], "image_id 7 differs from annotation"),
        (lambda refs: [{**refs[0], "sentences": []}], "sentences must be a non-empty list"),
        (
            lambda refs: [{**refs[0], "sentences": [{"sent_id": 1, "sent": None}]}],
            r"ref_id 0, sentences\[0\]: sent must be a non-empty string",
        ),
        (lambda refs: [refs[0], refs[0]], "sent_id 0 also used by ref_id 0"),
        (lambda refs: [{**r, "split": "train"} for r in refs], "no ref of split 'val'; splits"),
    ],
)
def test_malformed_refs_name_the_file_and_record(refcoco: Path, damage, match) -> None:
    _write_refs(refcoco, damage(_refs(refcoco)))
    if match is None:
        assert _load(refcoco)
        return
    with pytest.raises(DataFormatError, match=match) as info:
        _load(refcoco)
    assert "refs(unc).p" in str(info.value)


def test_truncated_pickle_and_bad_instances_are_named(refcoco: Path) -> None:
    refs_file = refcoco / "refcoco" / "refs(unc).p"
    refs_file.write_bytes(refs_file.read_bytes()[:100])
    with pytest.raises(DataFormatError, match=r"refs\(unc\)\.p: not a readable pickle"):
        _load(refcoco)
    # a Python 2 pickle (protocol 2) holding a byte string that is not UTF-8
    refs_file.write_bytes(b"\x80\x02]q\x00U\x02\xff\xfeq\x01a.")
    with pytest.raises(DataFormatError, match=r"\.p: a string in the pickle is not UTF-8"):
        _load(refcoco)
    _write_refs(refcoco, [])
    instances = refcoco / "refcoco" / "instances.json"
    payload = json.loads(instances.read_text())
    payload["annotations"][0]["bbox"] = [1, 2, "wide", 4]
    instances.write_text(json.dumps(payload))
    with pytest.raises(DataFormatError, match=r"instances\.json, record 5001: bbox must be"):
        _load(refcoco)
    payload["annotations"][0]["bbox"] = [1, 2, -3, 4]
    instances.write_text(json.dumps(payload))
    with pytest.raises(DataFormatError, match="negative width or height"):
        _load(refcoco)
    instances.write_text(json.dumps({"annotations": []}))
    with pytest.raises(DataFormatError, match=r'instances\.json: expected an object with an "'):
        _load(refcoco)
    with pytest.raises(ValueError, match="sentence_field='text'; valid: sent, raw"):
        _load(refcoco, sentence_field="text")


def test_demo_refcoco_runs_end_to_end_on_tiny_vlm(tmp_path: Path) -> None:
    out = tmp_path / "run"
    results = emu2_eval.evaluate(model="tiny-vlm", tasks=["demo_refcoco"], output=str(out))
    block = results["tasks"]["demo_refcoco"]
    records = [json.loads(line) for line in (out / "samples_demo_refcoco.jsonl").open()]
    assert block["n_scored"] == len(records) == 24
    no_box = sum(parse_box(r["filtered"]) is None for r in records)
    assert block["metrics"]["unparseable"] == no_box
    right = sum(r["scores"]["iou_accuracy"] for r in records)
    assert block["metrics"]["iou_accuracy"] == pytest.approx(100 * right / 24)
    assert block["prompt_profile"]["mode"] == "grounding"
    assert block["metric_options"]["iou_accuracy"]["box_format"] == "emu2_224"
    assert block["dataset"]["protocol"] == {
        "unit": "sentence",
        "sentence_field": "sent",
        "split": "val",
    }
    assert {"iou_accuracy", "unparseable"} <= set(block["intervals"])
    report = (out / "report.md").read_text()
    assert "iou_accuracy" in report and "emu2_chat_grounding" in report
    # the box convention is shown beside the numbers (markdown and HTML)
    assert "demo_refcoco/iou_accuracy: box_format: emu2_224; box_format_meaning: xyxy" in report
    assert "iou_mode: continuous; threshold: 0.5" in report
    assert "demo_refcoco/iou_accuracy: box_format: emu2_224" in (out / "report.html").read_text()


class OracleAdapter(ModelAdapter):
    """Answers Emu2's grounding format: the true box (0..224 grid) for even sentence ids, the
    box shifted right by its own width for odd ones (IoU 0), and nothing for every fifth."""

    name = "oracle"
    supported_kinds = frozenset({"generate"})
    prompt_modes = frozenset({"grounding"})

    def __init__(self, docs: dict) -> None:
        self.docs = docs

    def fingerprint(self) -> str:
        return "oracle-v1"

    def generate(self, requests):
        answers = []
        for request in requests:
            doc = self.docs[request.doc_id]
            x, y, w, h = doc["bbox"]
            sx, sy = 224 / doc["width"], 224 / doc["height"]
            shift = 0 if int(request.doc_id) % 2 == 0 else w
            box = [
                round((x + shift) * sx),
                round(y * sy),
                round((x + shift + w) * sx),
                round((y + h) * sy),
            ]
            text = f"<phrase>it</phrase><object>[{', '.join(map(str, box))}]</object>"
            answers.append("no idea" if int(request.doc_id) % 5 == 0 else text)
        return answers


def test_a_model_answering_the_box_scores_as_computed_by_hand(tmp_path: Path) -> None:
    docs = {d.doc_id: d for d in _load(demo_grounding_root())}
    results = emu2_eval.evaluate(model=OracleAdapter(docs), tasks=["demo_refcoco"])
    metrics = results["tasks"]["demo_refcoco"]["metrics"]
    ids = [int(i) for i in docs]
    unparsed = [i for i in ids if i % 5 == 0]
    right = [i for i in ids if i % 2 == 0 and i % 5]
    assert metrics["unparseable"] == len(unparsed) == 5
    assert metrics["iou_accuracy"] == pytest.approx(100 * len(right) / len(ids))


def test_table3_numbers_and_their_comparison() -> None:
    table = paper_tables()
    table3 = table[table.table == "Table 3"]
    emu2 = table3[table3.model == "Emu2-Chat"].set_index(["benchmark", "split"]).value.to_dict()
    assert emu2 == {
        ("RefCOCO", "val"): 90.40,
        ("RefCOCO", "testA"): 93.88,
        ("RefCOCO", "testB"): 85.97,
        ("RefCOCO+", "val"): 87.05,
        ("RefCOCO+", "testA"): 91.43,
        ("RefCOCO+", "testB"): 80.47,
        ("RefCOCOg", "val"): 87.64,
        ("RefCOCOg", "test"): 88.11,
    }
    assert set(table3.model) == {"Emu2-Chat", "Qwen-VL-7B", "Shikra-13B", "OFA-L"}
    assert table3.source.str.contains("baaivision/Emu Emu2/README.md").all()
    block = {
        "reference": {
            "benchmark": "RefCOCO",
            "split": "testB",
            "metric": "iou_accuracy",
            "measured_split": "testB",
            "tables": ["Table 3"],
        },
        "metrics": {"iou_accuracy": 86.5, "unparseable": 3.0},
        "intervals": {"iou_accuracy": {"low": 85.0, "high": 88.0}},
        "units": {"iou_accuracy": "percent"},
        "prompt_profile": {"name": "emu2_chat_grounding", "version": 1, "mode": "grounding"},
    }
    rows = reproduction_table(
        {"model": {"name": "m"}, "tasks": {"refcoco_testB": block}}, "Emu2-Chat"
    )
    row = rows.iloc[0]
    assert row.paper == 85.97 and row.paper_in_interval and row.comparable
    assert row["diff"] == pytest.approx(86.5 - 85.97)
    other = dict(block, reference={**block["reference"], "measured_split": "val"})
    row = reproduction_table({"model": {"name": "m"}, "tasks": {"t": other}}, "Emu2-Chat").iloc[0]
    assert not row.comparable and pd.isna(row.paper_in_interval)
    assert "split: measured on val, the paper on testB" in row.reason

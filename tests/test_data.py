"""Loaders for the official formats and HF datasets; malformed input names the file and record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emu2_eval.core.prompts import ImageLoadError, ImagePart
from emu2_eval.data.coco_captions import load_coco_karpathy
from emu2_eval.data.docs import DataFormatError
from emu2_eval.data.hf_datasets import load_hf_dataset
from emu2_eval.data.vqa import load_vqa_official


def _vqa(demo: Path, **kw):
    args = {
        "questions": demo / "vqa/questions_val2014.json",
        "annotations": demo / "vqa/annotations_val2014.json",
        "images": demo / "images/val2014",
    }
    args.update(kw)
    return load_vqa_official(**{k: str(v) for k, v in args.items()})


def test_vqa_official_format(demo_dir: Path) -> None:
    data = _vqa(demo_dir)
    assert len(data.docs) == 96
    doc = data.docs[0]
    assert doc.doc_id == "10" and len(doc["answers"]) == 10
    assert doc["answer_type"] == "other" and doc["question_type"] == "what color is the"
    assert doc["image"].key == "COCO_val2014_000000000001.jpg"
    assert doc["image"].load().size == (64, 64)
    assert len(data.fingerprint) == 64


def test_vqa_questions_only_split_has_no_answers(demo_dir: Path) -> None:
    data = load_vqa_official(
        str(demo_dir / "vqa/questions_val2014.json"), str(demo_dir / "images/val2014")
    )
    assert "answers" not in data.docs[0].fields


def test_malformed_json_names_file_and_line(demo_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "questions.json"
    broken.write_text('{"questions": [\n{"image_id": 1,\n')
    with pytest.raises(DataFormatError, match=r"questions.json: invalid JSON at line 3"):
        _vqa(demo_dir, questions=broken)


def test_missing_key_names_the_record(demo_dir: Path, tmp_path: Path) -> None:
    payload = json.loads((demo_dir / "vqa/questions_val2014.json").read_text())
    del payload["questions"][5]["image_id"]
    path = tmp_path / "q.json"
    path.write_text(json.dumps(payload))
    with pytest.raises(DataFormatError, match=r"q.json, record 5: missing key\(s\) image_id"):
        _vqa(demo_dir, questions=path)


def test_question_without_annotation_is_named(demo_dir: Path, tmp_path: Path) -> None:
    payload = json.loads((demo_dir / "vqa/annotations_val2014.json").read_text())
    payload["annotations"] = [a for a in payload["annotations"] if a["question_id"] != 12]
    path = tmp_path / "a.json"
    path.write_text(json.dumps(payload))
    with pytest.raises(DataFormatError, match=r"a.json, record 12: no annotation"):
        _vqa(demo_dir, annotations=path)


def test_missing_file_is_named(demo_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match=r"nope\.json: file not found"):
        _vqa(demo_dir, annotations=tmp_path / "nope.json")


def test_karpathy_with_official_references(demo_dir: Path) -> None:
    data = load_coco_karpathy(
        str(demo_dir / "coco/dataset_coco.json"),
        str(demo_dir / "images"),
        "test",
        str(demo_dir / "coco/captions_val2014.json"),
    )
    assert len(data.docs) == 24
    doc = data.docs[0]
    assert len(doc["references"]) == 5
    assert doc["image"].key == "val2014/COCO_val2014_000000000001.jpg"
    train = load_coco_karpathy(
        str(demo_dir / "coco/dataset_coco.json"), str(demo_dir / "images"), "train"
    )
    assert len(train.docs) == 16 and train.docs[0]["references"][0].endswith(".")


def test_karpathy_unknown_split_is_an_error(demo_dir: Path) -> None:
    with pytest.raises(DataFormatError, match="no images in split 'restval'"):
        load_coco_karpathy(
            str(demo_dir / "coco/dataset_coco.json"), str(demo_dir / "images"), "restval"
        )


def test_hf_datasets_local_files_with_embedded_images(tmp_path: Path, demo_dir: Path) -> None:
    import datasets

    image_files = sorted((demo_dir / "images/val2014").glob("*.jpg"))[:3]
    rows = [
        {
            "qid": 7 + i,
            "question": f"q{i}",
            "answers": ["red"] * 10,
            "image": {"bytes": p.read_bytes(), "path": None},
        }
        for i, p in enumerate(image_files)
    ]
    features = datasets.Features(
        {
            "qid": datasets.Value("int64"),
            "question": datasets.Value("string"),
            "answers": datasets.List(datasets.Value("string")),
            "image": datasets.Image(),
        }
    )
    datasets.Dataset.from_list(rows, features=features).to_parquet(str(tmp_path / "vqa.parquet"))
    data = load_hf_dataset(
        "parquet",
        "train",
        data_files=str(tmp_path / "vqa.parquet"),
        columns={"question": "question", "answers": "answers", "image": "image"},
        id_column="qid",
    )
    assert [d.doc_id for d in data.docs] == ["7", "8", "9"]
    image = data.docs[0]["image"]
    assert isinstance(image, ImagePart) and image.key.startswith("sha256:")
    assert image.load().size == (64, 64)
    with pytest.raises(DataFormatError, match="column 'caption' for field 'references' not found"):
        load_hf_dataset(
            "parquet",
            "train",
            data_files=str(tmp_path / "vqa.parquet"),
            columns={"references": "caption"},
        )


def test_corrupt_image_error_names_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    with pytest.raises(ImageLoadError, match=r"bad\.jpg"):
        ImagePart.from_file(bad).load()
    with pytest.raises(ImageLoadError, match="file not found"):
        ImagePart.from_file(tmp_path / "missing.jpg").load()


def test_demo_data_is_deterministic(tmp_path: Path, demo_dir: Path) -> None:
    from emu2_eval.data.demo import generate_demo_data

    generate_demo_data(tmp_path)
    for rel in (
        "vqa/annotations_val2014.json",
        "coco/dataset_coco.json",
        "images/val2014/COCO_val2014_000000000005.jpg",
    ):
        assert (tmp_path / rel).read_bytes() == (demo_dir / rel).read_bytes(), rel

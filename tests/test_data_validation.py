"""Loaders refuse what would silently change scores: duplicate ids (10 and "10" included), a
second annotation for a question, ids of mixed types, and non-string questions or texts (which
would reach the prompt as "None" or "42"). VQAv2 answer lists other than 10 long are counted."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from emu2_eval.data.coco_captions import load_coco_karpathy
from emu2_eval.data.coco_t2i import load_coco_t2i
from emu2_eval.data.docs import DataFormatError
from emu2_eval.data.hateful_memes import load_hateful_memes
from emu2_eval.data.hf_datasets import load_hf_dataset
from emu2_eval.data.textvqa import load_textvqa
from emu2_eval.data.vizwiz import load_vizwiz
from emu2_eval.data.vqa import load_vqa_official

BAD_TEXTS = [None, 42, ["what", "colour"]]


def _write(path: Path, payload: Any) -> str:
    path.write_text(json.dumps(payload))
    return str(path)


def _question(qid: Any, text: Any = "what colour is it?", image_id: int = 1) -> dict:
    return {"question_id": qid, "image_id": image_id, "question": text}


def _annotation(qid: Any, answers: int = 10) -> dict:
    return {"question_id": qid, "answers": [{"answer": "red"}] * answers, "answer_type": "other"}


def _vqa(tmp_path: Path, questions: list, annotations: list | None = None):
    q = _write(tmp_path / "q.json", {"data_subtype": "val2014", "questions": questions})
    a = _write(tmp_path / "a.json", {"annotations": annotations}) if annotations else None
    return load_vqa_official(q, str(tmp_path / "images"), a)


def test_vqa_second_annotation_for_a_question_is_refused(tmp_path: Path) -> None:
    annotations = [_annotation(10), _annotation(11), _annotation(10)]
    with pytest.raises(
        DataFormatError,
        match=r"a\.json, record 10: duplicate question_id \(entry 2\), already used by entry 0",
    ):
        _vqa(tmp_path, [_question(10), _question(11)], annotations)


def test_vqa_ids_10_and_text_10_are_one_id(tmp_path: Path) -> None:
    with pytest.raises(
        DataFormatError,
        match=r"q\.json, record 10: duplicate question_id \(entry 1\), already used by entry 0 "
        r"\(10 and '10' are the same id\)",
    ):
        _vqa(tmp_path, [_question(10), _question("10")])
    with pytest.raises(DataFormatError, match=r"a\.json, record 10: duplicate question_id"):
        _vqa(tmp_path, [_question(10)], [_annotation(10), _annotation("10")])


def test_vqa_ids_of_one_file_have_one_type(tmp_path: Path) -> None:
    with pytest.raises(
        DataFormatError,
        match=r"q\.json, record 11: question_id '11' \(entry 1\) is a string but entry 0 has an "
        r"integer \(10\)",
    ):
        _vqa(tmp_path, [_question(10), _question("11")])
    for bad in (None, 1.5, True, ""):
        with pytest.raises(DataFormatError, match=r"question_id must be an integer or a non-emp"):
            _vqa(tmp_path, [_question(bad)])


@pytest.mark.parametrize("text", BAD_TEXTS)
def test_vqa_question_must_be_a_string(tmp_path: Path, text: Any) -> None:
    kind = type(text).__name__
    with pytest.raises(
        DataFormatError, match=rf"q\.json, record 11: question must be a string, got {kind}"
    ):
        _vqa(tmp_path, [_question(10), _question(11, text)], [_annotation(10), _annotation(11)])


def test_vqa_warns_with_a_count_of_answer_lists_not_10_long(tmp_path: Path, caplog) -> None:
    questions = [_question(q) for q in range(10, 15)]
    annotations = [_annotation(q, 9 if q < 13 else 10) for q in range(10, 15)]
    with caplog.at_level(logging.WARNING, logger="emu2_eval.data.checks"):
        data = _vqa(tmp_path, questions, annotations)
    assert len(data.docs) == 5
    assert "a.json: 3 of 5 records have 9 answers instead of the 10 of official VQAv2" in (
        caplog.text
    )
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="emu2_eval.data.checks"):
        _vqa(tmp_path, questions, [_annotation(q) for q in range(10, 15)])
    assert caplog.text == ""


def test_demo_vqa_has_ten_answers_and_loads_without_warning(demo_dir: Path, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="emu2_eval.data.checks"):
        load_vqa_official(
            str(demo_dir / "vqa/questions_val2014.json"),
            str(demo_dir / "images/val2014"),
            str(demo_dir / "vqa/annotations_val2014.json"),
        )
    assert caplog.text == ""


def _memes(tmp_path: Path, records: list[dict]) -> None:
    path = tmp_path / "dev.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    load_hateful_memes(str(path), str(tmp_path))


@pytest.mark.parametrize("text", BAD_TEXTS)
def test_hateful_memes_text_must_be_a_string(tmp_path: Path, text: Any) -> None:
    records = [{"id": 1, "img": "img/1.png", "text": "ok", "label": 0}]
    records.append({"id": 2, "img": "img/2.png", "text": text, "label": 1})
    with pytest.raises(DataFormatError, match=r"dev\.jsonl, record 2: text must be a string"):
        _memes(tmp_path, records)


def test_hateful_memes_ids_10_and_text_10_collide(tmp_path: Path) -> None:
    records = [
        {"id": 10, "img": "img/10.png", "text": "a", "label": 0},
        {"id": "10", "img": "img/10b.png", "text": "b", "label": 1},
    ]
    with pytest.raises(
        DataFormatError,
        match=r"record 10: duplicate id \(line 2\), already used by line 1 \(10 and '10'",
    ):
        _memes(tmp_path, records)


def _textvqa_record(qid: Any, question: Any = "what brand?") -> dict:
    return {"question_id": qid, "question": question, "image_id": "abc", "answers": ["x"] * 10}


def test_textvqa_checks_ids_and_question_types(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    _write(path, {"data": [_textvqa_record(5), _textvqa_record("5")]})
    with pytest.raises(DataFormatError, match=r"t\.json, record 5: duplicate question_id"):
        load_textvqa(str(path), str(tmp_path))
    _write(path, {"data": [_textvqa_record(5), _textvqa_record(6, None)]})
    with pytest.raises(DataFormatError, match=r"t\.json, record 6: question must be a string"):
        load_textvqa(str(path), str(tmp_path))


def test_vizwiz_question_must_be_a_string(tmp_path: Path) -> None:
    path = tmp_path / "val.json"
    _write(path, [{"image": "VizWiz_val_00000001.jpg", "question": 42}])
    with pytest.raises(
        DataFormatError, match=r"val\.json, record VizWiz_val_00000001: question must be a string"
    ):
        load_vizwiz(str(path), str(tmp_path))


def test_coco_t2i_caption_must_be_a_string_and_ids_unique(tmp_path: Path) -> None:
    path = tmp_path / "captions.json"
    images = [{"id": 1, "file_name": "1.jpg"}]
    _write(path, {"images": images, "annotations": [{"id": 7, "image_id": 1, "caption": None}]})
    with pytest.raises(DataFormatError, match=r"record 7: caption must be a string, got NoneType"):
        load_coco_t2i(str(path), str(tmp_path))
    twice = [{"id": 7, "image_id": 1, "caption": "a"}, {"id": "7", "image_id": 1, "caption": "b"}]
    _write(path, {"images": images, "annotations": twice})
    with pytest.raises(DataFormatError, match=r"record 7: duplicate annotations id"):
        load_coco_t2i(str(path), str(tmp_path))


def test_coco_karpathy_refuses_duplicate_images_and_non_string_captions(tmp_path: Path) -> None:
    def entry(cocoid: Any, raw: Any = "a cat") -> dict:
        return {
            "split": "test",
            "filename": f"{cocoid}.jpg",
            "filepath": "val2014",
            "cocoid": cocoid,
            "sentences": [{"raw": raw}],
        }

    path = tmp_path / "karpathy.json"
    _write(path, {"images": [entry(3), entry(3)]})
    with pytest.raises(DataFormatError, match=r"record 3: duplicate cocoid \(images\[1\]\)"):
        load_coco_karpathy(str(path), str(tmp_path))
    _write(path, {"images": [entry(3, 42)]})
    with pytest.raises(DataFormatError, match=r"record 3: raw must be a string, got int"):
        load_coco_karpathy(str(path), str(tmp_path))
    official = tmp_path / "captions.json"
    _write(official, {"annotations": [{"id": 1, "image_id": 3, "caption": ["a", "cat"]}]})
    _write(path, {"images": [entry(3)]})
    with pytest.raises(DataFormatError, match=r"captions\.json, record 0: caption must be a str"):
        load_coco_karpathy(str(path), str(tmp_path), annotations=str(official))


def test_hf_dataset_ids_and_questions_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    rows = [{"qid": "a", "question": "q1"}, {"qid": "a", "question": "q2"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataFormatError, match=r"record a: duplicate id column 'qid' \(row 1\)"):
        load_hf_dataset(
            "json", "train", {"question": "question"}, id_column="qid", data_files=str(path)
        )
    rows = [{"qid": "a", "question": "q1"}, {"qid": "b", "question": None}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataFormatError, match=r"record b: question must be a string"):
        load_hf_dataset(
            "json", "train", {"question": "question"}, id_column="qid", data_files=str(path)
        )

"""VizWiz-VQA, TextVQA and Hateful Memes loaders on the bundled demo data and on broken input.

Every malformed-input error must name the file and the record (or, for jsonl, the line).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emu2_eval.core.prompts import ImagePart
from emu2_eval.data.demo import MEME_BADGE_BOX
from emu2_eval.data.docs import DataFormatError
from emu2_eval.data.hateful_memes import load_hateful_memes
from emu2_eval.data.textvqa import load_textvqa
from emu2_eval.data.vizwiz import load_vizwiz

NEW_DEMO_DIRS = ("vizwiz", "textvqa", "hateful_memes")


def _write_json(path: Path, payload: object) -> Path:
    path.write_text(json.dumps(payload))
    return path


# -- VizWiz ---------------------------------------------------------------------------------


def _vizwiz(demo: Path, split: str = "val", annotations: Path | None = None):
    path = annotations or demo / "vizwiz" / f"{split}.json"
    return load_vizwiz(str(path), str(demo / "vizwiz" / split))


def test_vizwiz_official_format(demo_dir: Path) -> None:
    data = _vizwiz(demo_dir)
    assert len(data.docs) == 16 and len(data.fingerprint) == 64
    doc = data.docs[0]
    assert doc.doc_id == "VizWiz_val_00000000"
    assert isinstance(doc["image"], ImagePart) and doc["image"].key == "VizWiz_val_00000000.jpg"
    assert doc["image"].load().size == (64, 64)
    assert len(doc["answers"]) == 10 and all(isinstance(a, str) for a in doc["answers"])
    assert doc["answer"] == max(doc["answers"], key=doc["answers"].count)
    assert doc["answerable"] is True and doc["answer_type"] in ("other", "yes/no", "number")
    unanswerable = [d for d in data.docs if not d["answerable"]]
    assert len(unanswerable) == 4
    for d in unanswerable:
        assert d["answer"] == "unanswerable" and d["answer_type"] == "unanswerable"
    assert len(_vizwiz(demo_dir, "train").docs) == 16


def test_vizwiz_test_split_has_no_answers(demo_dir: Path, tmp_path: Path) -> None:
    records = json.loads((demo_dir / "vizwiz/val.json").read_text())
    path = _write_json(
        tmp_path / "test.json", [{"image": r["image"], "question": r["question"]} for r in records]
    )
    doc = _vizwiz(demo_dir, annotations=path).docs[0]
    assert set(doc.fields) == {"question", "image"}


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r[3].pop("question"), r"val.json, record 3: missing key\(s\) question"),
        (
            lambda r: r[2].update(answers=[{"text": "x"}]),
            r"val.json, record VizWiz_val_00000002: each answer must be an object",
        ),
        (
            lambda r: r[5].update(answerable=2),
            r"record VizWiz_val_00000005: answerable must be 0 or 1, got 2",
        ),
        (lambda r: r[4].update(image=r[1]["image"]), r"record VizWiz_val_00000001: duplicate"),
        (lambda r: r[6].pop("answers"), r"record VizWiz_val_00000006: record has no answers"),
        (lambda r: r[0].update(image=7), r"val.json, record 0: image must be a non-empty"),
    ],
)
def test_vizwiz_malformed_record_is_named(demo_dir: Path, tmp_path: Path, mutate, message) -> None:
    records = json.loads((demo_dir / "vizwiz/val.json").read_text())
    mutate(records)
    path = _write_json(tmp_path / "val.json", records)
    with pytest.raises(DataFormatError, match=message):
        _vizwiz(demo_dir, annotations=path)


def test_vizwiz_wrong_top_level_and_missing_file(demo_dir: Path, tmp_path: Path) -> None:
    path = _write_json(tmp_path / "val.json", {"annotations": []})
    with pytest.raises(DataFormatError, match=r"val.json: expected a JSON list"):
        _vizwiz(demo_dir, annotations=path)
    with pytest.raises(DataFormatError, match=r"nope\.json: file not found"):
        _vizwiz(demo_dir, annotations=tmp_path / "nope.json")
    broken = tmp_path / "broken.json"
    broken.write_text('[\n{"image": "a.jpg",\n')
    with pytest.raises(DataFormatError, match=r"broken.json: invalid JSON at line 3"):
        _vizwiz(demo_dir, annotations=broken)


# -- TextVQA --------------------------------------------------------------------------------


def _textvqa(demo: Path, split: str = "val", annotations: Path | None = None):
    path = annotations or demo / "textvqa" / f"TextVQA_0.5.1_{split}.json"
    return load_textvqa(str(path), str(demo / "textvqa" / "train_images"))


def test_textvqa_official_format(demo_dir: Path) -> None:
    data = _textvqa(demo_dir)
    assert len(data.docs) == 16
    doc = data.docs[0]
    assert doc.doc_id == "34602"
    image_id = doc["image_id"]
    assert len(image_id) == 16 and int(image_id, 16) >= 0
    assert doc["image"].key == f"{image_id}.jpg" and doc["image"].load().size == (96, 48)
    assert len(doc["answers"]) == 10 and doc["answer"] == max(
        doc["answers"], key=doc["answers"].count
    )
    assert doc["answer"].isalpha() and doc["answer"].islower()
    train = _textvqa(demo_dir, "train")
    assert len(train.docs) == 16 and train.docs[0].doc_id == "0"


def test_textvqa_test_split_has_no_answers(demo_dir: Path, tmp_path: Path) -> None:
    payload = json.loads((demo_dir / "textvqa/TextVQA_0.5.1_val.json").read_text())
    for record in payload["data"]:
        del record["answers"]
    doc = _textvqa(demo_dir, annotations=_write_json(tmp_path / "t.json", payload)).docs[0]
    assert "answers" not in doc.fields and "answer" not in doc.fields


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: p["data"][4].pop("image_id"), r"t.json, record 4: missing key\(s\) image_id"),
        (lambda p: p["data"][1].update(answers=["a", 3]), r"t.json, record 34603: answers must"),
        (lambda p: p["data"][2].update(image_id=12), r"record 34604: image_id must be a non-empty"),
        (
            lambda p: p["data"][3].update(question_id=34602),
            r"t.json, record 34602: duplicate question_id",
        ),
        (lambda p: p.pop("data"), r't.json: expected an object with a "data" list'),
    ],
)
def test_textvqa_malformed_record_is_named(demo_dir: Path, tmp_path: Path, mutate, message) -> None:
    payload = json.loads((demo_dir / "textvqa/TextVQA_0.5.1_val.json").read_text())
    mutate(payload)
    with pytest.raises(DataFormatError, match=message):
        _textvqa(demo_dir, annotations=_write_json(tmp_path / "t.json", payload))


def test_textvqa_missing_file(demo_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match=r"TextVQA_0.5.1_test\.json: file not found"):
        _textvqa(demo_dir, annotations=tmp_path / "TextVQA_0.5.1_test.json")


# -- Hateful Memes --------------------------------------------------------------------------


def _memes(demo: Path, split: str = "dev_seen", annotations: Path | None = None):
    path = annotations or demo / "hateful_memes" / f"{split}.jsonl"
    return load_hateful_memes(str(path), str(demo / "hateful_memes"))


def test_hateful_memes_official_format(demo_dir: Path) -> None:
    data = _memes(demo_dir)
    assert len(data.docs) == 24
    labels = [d["label"] for d in data.docs]
    assert labels.count(0) == labels.count(1) == 12
    first = json.loads((demo_dir / "hateful_memes/dev_seen.jsonl").read_text().splitlines()[0])
    doc = data.docs[0]
    assert doc.doc_id == str(first["id"]) and doc["text"] == first["text"]
    assert doc["image"].key == first["img"] and first["img"].startswith("img/")
    for d in data.docs:
        assert d["answer"] == ("yes" if d["label"] == 1 else "no")
        # The label is visible: a square badge (not a round one) means hateful in the demo set;
        # the two differ at the badge's corner.
        corner = d["image"].load().getpixel((MEME_BADGE_BOX[0] + 1, MEME_BADGE_BOX[1] + 1))
        assert (max(corner) < 100) == (d["label"] == 1)
    train = _memes(demo_dir, "train").docs
    assert len(train) == 24
    # File names are zero-padded, ids are not: the image comes from "img", never from "id".
    padded = [d for d in data.docs + train if d["image"].key != f"img/{d.doc_id}.png"]
    assert padded and all(d["image"].key == f"img/{int(d.doc_id):05d}.png" for d in padded)
    assert all(Path(d["image"].path).is_file() for d in padded)


def _lines(demo: Path) -> list[str]:
    return (demo / "hateful_memes/dev_seen.jsonl").read_text().splitlines()


def test_hateful_memes_unlabelled_split_and_blank_lines(demo_dir: Path, tmp_path: Path) -> None:
    rows = [json.loads(line) for line in _lines(demo_dir)]
    path = tmp_path / "test_unseen.jsonl"
    text = "\n\n".join(json.dumps({k: v for k, v in r.items() if k != "label"}) for r in rows)
    path.write_text(text + "\n")
    docs = _memes(demo_dir, annotations=path).docs
    assert len(docs) == 24 and "label" not in docs[0].fields and "answer" not in docs[0].fields


def _broken(demo: Path, tmp_path: Path, line_index: int, text: str) -> Path:
    lines = _lines(demo)
    lines[line_index] = text
    path = tmp_path / "dev_seen.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_hateful_memes_malformed_line_names_file_and_line(demo_dir: Path, tmp_path: Path) -> None:
    path = _broken(demo_dir, tmp_path, 2, '{"id": 5, "img": ')
    with pytest.raises(DataFormatError, match=r"dev_seen.jsonl: line 3: invalid JSON"):
        _memes(demo_dir, annotations=path)


@pytest.mark.parametrize("label", [2, -1, "1", True, 1.0])
def test_hateful_memes_bad_label_names_the_record(demo_dir: Path, tmp_path: Path, label) -> None:
    record = {"id": 777, "img": "img/00777.png", "label": label, "text": "x"}
    path = _broken(demo_dir, tmp_path, 1, json.dumps(record))
    with pytest.raises(
        DataFormatError, match=r"dev_seen.jsonl, record 777: label must be 0 or 1.*\(line 2\)"
    ):
        _memes(demo_dir, annotations=path)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"id": 9, "label": 0, "text": "x"}, r"record on line 4: missing key\(s\) img"),
        ([1, 2], r"record on line 4: expected an object, got list"),
        ({"id": 9, "img": "img/9.png", "text": "x"}, r"record 9: line 4 has no label"),
    ],
)
def test_hateful_memes_bad_record_is_named(demo_dir: Path, tmp_path: Path, record, message) -> None:
    path = _broken(demo_dir, tmp_path, 3, json.dumps(record))
    with pytest.raises(DataFormatError, match=message):
        _memes(demo_dir, annotations=path)


def test_hateful_memes_duplicate_id_and_missing_file(demo_dir: Path, tmp_path: Path) -> None:
    lines = _lines(demo_dir)
    path = tmp_path / "dev_seen.jsonl"
    path.write_text("\n".join([*lines, lines[0]]) + "\n")
    first_id = json.loads(lines[0])["id"]
    with pytest.raises(DataFormatError, match=rf"record {first_id}: duplicate id \(line 25\)"):
        _memes(demo_dir, annotations=path)
    with pytest.raises(DataFormatError, match=r"test_seen\.jsonl: file not found"):
        _memes(demo_dir, annotations=tmp_path / "test_seen.jsonl")


# -- demo tasks and determinism -------------------------------------------------------------


@pytest.mark.parametrize("name", ["demo_vizwiz", "demo_textvqa", "demo_hateful_memes"])
def test_demo_tasks_build_requests(name: str, demo_dir: Path) -> None:
    from emu2_eval.tasks.registry import get_task

    task = get_task(name)
    docs = task.load().docs
    request = task.build_request(docs[0])
    assert isinstance(request.prompt[0], ImagePart)
    if name == "demo_hateful_memes":
        assert request.kind == "loglikelihood" and request.continuations == (" yes", " no")
        assert f'its text "{docs[0]["text"]}", is this meme hateful?' in request.prompt[1].text


def test_new_demo_folders_are_deterministic(tmp_path: Path, demo_dir: Path) -> None:
    from emu2_eval.data.demo import generate_demo_data

    generate_demo_data(tmp_path)
    for folder in NEW_DEMO_DIRS:
        files = sorted(p.relative_to(demo_dir) for p in (demo_dir / folder).rglob("*"))
        regenerated = sorted(p.relative_to(tmp_path) for p in (tmp_path / folder).rglob("*"))
        assert files == regenerated and files, folder
        for rel in files:
            if (demo_dir / rel).is_file():
                assert (tmp_path / rel).read_bytes() == (demo_dir / rel).read_bytes(), rel

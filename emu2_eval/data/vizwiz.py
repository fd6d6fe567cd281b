"""VizWiz-VQA in the official format: one JSON list per split (``train.json``, ``val.json``,
``test.json``), images named by the ``image`` field under the split's image folder.

Record: ``{"image": "VizWiz_val_00000000.jpg", "question", "answers": [{"answer",
"answer_confidence"}] x 10, "answer_type": "unanswerable" | "other" | "yes/no" | "number",
"answerable": 0 | 1}``; ``test.json`` records carry only ``image`` and ``question`` (answers are
scored by the EvalAI server), so their docs have no answers and can be run but not scored.
Unanswerable questions keep their literal ``"unanswerable"`` answers: the official metric scores
them like any other answer.

Checked against: the record shown in open-mmlab/mmpretrain ``mmpretrain/datasets/vizwiz.py``
(list of records, ``answers`` objects with ``answer_confidence`` yes/maybe/no, ``answer_type``,
``answerable``); baaivision/Emu ``Emu1/mm_eval/datasets/vizwiz.py`` (Emu's own loader:
``json.load`` of ``val.json``/``test.json``, image path from ``sample["image"]``); the VizWiz API
demo (answer types yes/no, number, other, unanswerable); HELM ``vizwiz_scenario.py`` (train/val
annotations from https://vizwiz.cs.colorado.edu/VizWiz_final/vqa_data/Annotations.zip, images
unzipped per split, 4,319 val questions, 10 answers each).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emu2_eval.data.checks import RecordIds, SplitLabels, require_str
from emu2_eval.data.docs import (
    DataFormatError,
    Doc,
    LoadedData,
    fingerprint_files,
    image_under,
    read_json,
    require_keys,
)
from emu2_eval.data.vqa import majority_answer


def _answers(record: dict[str, Any], path: Path, doc_id: str) -> list[str]:
    answers = record["answers"]
    if not isinstance(answers, list) or not answers:
        raise DataFormatError(path, "answers must be a non-empty list", doc_id)
    for answer in answers:
        if not isinstance(answer, dict) or not isinstance(answer.get("answer"), str):
            raise DataFormatError(
                path, 'each answer must be an object with a string "answer"', doc_id
            )
    return [a["answer"] for a in answers]


def _answerable(record: dict[str, Any], path: Path, doc_id: str) -> bool:
    value = record["answerable"]
    if value not in (0, 1) or isinstance(value, float):
        raise DataFormatError(path, f"answerable must be 0 or 1, got {value!r}", doc_id)
    return bool(value)


def load_vizwiz(annotations: str, images: str) -> LoadedData:
    """Load one VizWiz-VQA split; doc ids are the image file stems (one question per image)."""
    path = Path(annotations)
    payload = read_json(path)
    if not isinstance(payload, list):
        raise DataFormatError(path, "expected a JSON list of records (official VizWiz-VQA format)")
    image_dir = Path(images)
    docs: list[Doc] = []
    ids = RecordIds(path, "image")  # one question per image: the file stem is the id
    labels = SplitLabels(path, "answers")
    for index, record in enumerate(payload):
        require_keys(record, ("image", "question"), path, index)
        file_name = record["image"]
        if not isinstance(file_name, str) or not file_name:
            raise DataFormatError(path, "image must be a non-empty file name", index)
        doc_id = ids.claim(Path(file_name).stem, f"entry {index}")
        require_str(record, "question", path, doc_id)
        has_answers = labels.check(record, doc_id)
        fields: dict[str, Any] = {
            "question": record["question"],
            "image": image_under(image_dir, file_name, path, doc_id),
        }
        if has_answers:
            fields["answers"] = _answers(record, path, doc_id)
            fields["answer"] = majority_answer(fields["answers"])
            fields["answer_type"] = str(record.get("answer_type", ""))
            if "answerable" in record:
                fields["answerable"] = _answerable(record, path, doc_id)
        docs.append(Doc(doc_id=doc_id, fields=fields))
    return LoadedData(docs=docs, fingerprint=fingerprint_files([path]), sources=[str(path)])

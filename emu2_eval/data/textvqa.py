"""TextVQA 0.5.1 in the official format: ``TextVQA_0.5.1_<split>.json``.

File: ``{"dataset_name": "textvqa", "dataset_version": "0.5.1", "data": [record]}``; record:
``{"question", "question_id", "image_id": "003a8ae2ef43b901", "answers": [10 str],
"image_classes", "set_name", "question_tokens", "image_width", "image_height", ...}``. Images are
``<images>/<image_id>.jpg``; val images ship inside ``train_val_images.zip`` and unpack to
``train_images/``. The test split has no ``answers``: its docs can be run, not scored.
Answers are plain strings (not VQA answer objects), scored with VQA accuracy after always
normalising (the TextVQA/M4C evaluator applies the EvalAI answer processor to every answer).

Checked against: open-mmlab/mmpretrain ``mmpretrain/datasets/textvqa.py`` (example record with
the fields above, ``ann_file['data']``, ``image_id + '.jpg'``, download URLs
https://dl.fbaipublicfiles.com/textvqa/data/TextVQA_0.5.1_val.json and
https://dl.fbaipublicfiles.com/textvqa/images/train_val_images.zip); OpenFlamingo-style loaders
reading ``TextVQA_0.5.1_val.json`` with images from ``train_images/<image_id>.jpg``;
facebookresearch/mmf ``mmf/utils/m4c_evaluators.py`` (``TextVQAAccuracyEvaluator``, 10 answers);
lmms-eval ``lmms_eval/tasks/textvqa/utils.py`` (same leave-one-out accuracy, always normalised).
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
    if not all(isinstance(a, str) for a in answers):
        raise DataFormatError(path, "answers must be strings", doc_id)
    return list(answers)


def load_textvqa(annotations: str, images: str) -> LoadedData:
    """Load one TextVQA split; doc ids are the question ids."""
    path = Path(annotations)
    payload = read_json(path)
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        raise DataFormatError(path, 'expected an object with a "data" list (TextVQA 0.5.1 format)')
    image_dir = Path(images)
    docs: list[Doc] = []
    ids = RecordIds(path, "question_id")
    labels = SplitLabels(path, "answers")
    for index, record in enumerate(payload["data"]):
        require_keys(record, ("question", "question_id", "image_id"), path, index)
        doc_id = ids.claim(record["question_id"], f"entry {index}")
        require_str(record, "question", path, doc_id)
        image_id = record["image_id"]
        if not isinstance(image_id, str) or not image_id:
            raise DataFormatError(path, "image_id must be a non-empty string", doc_id)
        has_answers = labels.check(record, doc_id)
        file_name = f"{image_id}.jpg"
        fields: dict[str, Any] = {
            "question": record["question"],
            "image_id": image_id,
            "image": image_under(image_dir, file_name, path, doc_id),
        }
        if has_answers:
            fields["answers"] = _answers(record, path, doc_id)
            fields["answer"] = majority_answer(fields["answers"])
        docs.append(Doc(doc_id=doc_id, fields=fields))
    return LoadedData(docs=docs, fingerprint=fingerprint_files([path]), sources=[str(path)])

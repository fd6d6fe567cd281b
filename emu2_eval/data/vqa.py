"""VQAv2 / OK-VQA in the official format: a questions JSON plus an annotations JSON.

Questions: ``{"data_subtype": "val2014", "questions": [{"image_id", "question", "question_id"}]}``.
Annotations: ``{"annotations": [{"question_id", "image_id", "answers": [{"answer", ...}] x 10,
"answer_type", "question_type", "multiple_choice_answer"}]}``. Images are COCO files named
``COCO_<subtype>_<image_id:012d>.jpg`` under ``images``. Splits without public answers (test-dev)
load from questions alone; their docs have no ``answers`` and can only be run, not scored.
"""

from __future__ import annotations

from pathlib import Path

from emu2_eval.data.checks import RecordIds, require_str, warn_answer_counts
from emu2_eval.data.docs import (
    DataFormatError,
    Doc,
    LoadedData,
    fingerprint_files,
    image_under,
    read_json,
    require_keys,
)

DEFAULT_IMAGE_PATTERN = "COCO_{data_subtype}_{image_id:012d}.jpg"
#: Every official VQAv2 (and OK-VQA) annotation has ten crowd answers.
ANSWERS_PER_QUESTION = 10


def majority_answer(answers: list[str]) -> str:
    """The most frequent answer (first seen wins ties): the target shown in demonstrations."""
    return max(answers, key=lambda a: (answers.count(a), -answers.index(a)))


def _load_annotations(path: Path) -> dict[str, dict]:
    """Annotations by ``str(question_id)``; a second annotation for a question is refused."""
    payload = read_json(path)
    if not isinstance(payload, dict) or not isinstance(payload.get("annotations"), list):
        raise DataFormatError(path, 'expected an object with an "annotations" list')
    by_question: dict[str, dict] = {}
    ids = RecordIds(path, "question_id")
    for index, ann in enumerate(payload["annotations"]):
        require_keys(ann, ("question_id", "answers"), path, index)
        key = ids.claim(ann["question_id"], f"entry {index}")
        answers = ann["answers"]
        if not isinstance(answers, list) or not answers:
            raise DataFormatError(path, "answers must be a non-empty list", ann["question_id"])
        for answer in answers:
            if not isinstance(answer, dict) or not isinstance(answer.get("answer"), str):
                raise DataFormatError(
                    path, 'each answer must be an object with a string "answer"', ann["question_id"]
                )
        for optional in ("multiple_choice_answer", "answer_type", "question_type"):
            if optional in ann:
                require_str(ann, optional, path, ann["question_id"])
        by_question[key] = ann
    warn_answer_counts(
        path, [len(a["answers"]) for a in by_question.values()], ANSWERS_PER_QUESTION, "VQAv2"
    )
    return by_question


def load_vqa_official(
    questions: str,
    images: str,
    annotations: str | None = None,
    image_pattern: str = DEFAULT_IMAGE_PATTERN,
    data_subtype: str | None = None,
) -> LoadedData:
    """Load questions (and answers when ``annotations`` is given) in the official VQA format."""
    questions_path = Path(questions)
    payload = read_json(questions_path)
    if not isinstance(payload, dict) or not isinstance(payload.get("questions"), list):
        raise DataFormatError(questions_path, 'expected an object with a "questions" list')
    subtype = data_subtype or payload.get("data_subtype", "")
    answers_by_question = _load_annotations(Path(annotations)) if annotations else {}
    image_dir = Path(images)
    docs: list[Doc] = []
    ids = RecordIds(questions_path, "question_id")
    for index, question in enumerate(payload["questions"]):
        require_keys(question, ("question_id", "image_id", "question"), questions_path, index)
        question_id = ids.claim(question["question_id"], f"entry {index}")
        require_str(question, "question", questions_path, question_id)
        try:
            file_name = image_pattern.format(data_subtype=subtype, image_id=question["image_id"])
        except (ValueError, KeyError) as exc:
            raise DataFormatError(
                questions_path, f"image_pattern {image_pattern!r} does not fit: {exc}", question_id
            ) from None
        fields = {
            "question": question["question"],
            "image_id": question["image_id"],
            "image": image_under(image_dir, file_name, questions_path, question_id),
        }
        if annotations:
            ann = answers_by_question.get(question_id)
            if ann is None:
                raise DataFormatError(annotations, "no annotation for question", question_id)
            fields["answers"] = [a["answer"] for a in ann["answers"]]
            fields["answer"] = ann.get("multiple_choice_answer") or majority_answer(
                fields["answers"]
            )
            fields["answer_type"] = ann.get("answer_type", "")
            fields["question_type"] = ann.get("question_type", "")
        docs.append(Doc(doc_id=question_id, fields=fields))
    files = [questions_path] + ([Path(annotations)] if annotations else [])
    return LoadedData(
        docs=docs, fingerprint=fingerprint_files(files), sources=[str(f) for f in files]
    )

"""EvalAI VQAv2 (test-dev / test-std) results file.

EvalAI's VQA Challenge takes one JSON list ``[{"question_id": int, "answer": str}, ...]`` that
answers **every** question of test2015 (``v2_OpenEnded_mscoco_test2015_questions.json``, 447,793
questions), test-dev being a subset of it. The standard conversion (e.g. LLaVA's
``convert_vqav2_for_submission.py``) writes the model's answer for each test-dev question and an
empty answer for every other test2015 question; this writer does the same, in the order of the
test2015 questions file. Answers are the task's filtered predictions, unchanged: the server
normalises them with the official VQA evaluation code.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from emu2_eval.data.docs import DataFormatError, read_json
from emu2_eval.submissions.base import answer_of, answers_by_id, coverage, record_values


def _question_ids(path: Path) -> list[int]:
    payload = read_json(path)
    if not isinstance(payload, dict) or not isinstance(payload.get("questions"), list):
        raise DataFormatError(path, 'expected an object with a "questions" list (test2015)')
    return record_values(
        path,
        payload["questions"],
        "question_id",
        lambda qid: isinstance(qid, int) and not isinstance(qid, bool),
        "question_id must be an integer",
    )


def vqav2_evalai(
    rows: Sequence[dict[str, Any]], questions: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``questions``: the full test2015 questions file the server expects answers for."""
    fix = (
        "submission.args.questions must be the full test2015 questions file "
        "(v2_OpenEnded_mscoco_test2015_questions.json)"
    )
    path = Path(questions)
    all_ids = _question_ids(path)
    answers = answers_by_id(rows, all_ids, lambda r: int(r["doc_id"]), answer_of, path, fix)
    payload = [{"question_id": qid, "answer": answers.get(qid, "")} for qid in all_ids]
    return payload, {**coverage(len(payload), len(answers)), "questions": str(path)}

"""MMMU test results file: ``{question id: answer}`` for every question of the split.

MMMU's own inference scripts (MMMU-Benchmark/MMMU ``mmmu/run_llava.py``) submit, per question,
the parsed option letter for multiple-choice questions and the raw response for open ones; the
server parses open answers itself. A multiple-choice response that names no option gets the
task's ``fallback`` (``random``: a letter seeded by the question id, as
:func:`emu2_eval.scoring.metrics.mmmu.fallback_letter`; ``empty``: ""), recorded. Questions the run
did
not answer (``--limit``) get "" so the file always covers the whole split.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from emu2_eval.scoring.metrics.mmmu import fallback_letter
from emu2_eval.scoring.metrics.mmmu_parsing import parse_choice
from emu2_eval.submissions.base import answer_of, answers_by_id, coverage

FALLBACKS = ("random", "empty")


def mmmu_answer(row: dict[str, Any], fallback: str) -> tuple[str, bool]:
    """(submitted answer, whether the fallback was used) of one sample row."""
    response = answer_of(row)
    doc = row.get("doc") or {}
    if doc.get("question_type") != "multiple-choice" or row.get("error") is not None:
        return response, False
    index2ans = {chr(ord("A") + i): str(o) for i, o in enumerate(doc.get("options") or [])}
    letter = parse_choice(response, index2ans)
    if letter is not None:
        return letter, False
    return (
        fallback_letter(str(row["doc_id"]), list(index2ans)) if fallback == "random" else ""
    ), True


def mmmu_submission(
    rows: Sequence[dict[str, Any]],
    path: str,
    split: str = "test",
    images: str | None = None,
    fallback: str = "random",
) -> tuple[dict[str, str], dict[str, Any]]:
    """``path``/``split``/``images``: the MMMU files the task loads (the full list of ids)."""
    from emu2_eval.data.mmmu import load_mmmu

    if fallback not in FALLBACKS:
        raise ValueError(f"mmmu submission fallback {fallback!r}; valid: {', '.join(FALLBACKS)}")
    ids = [doc.doc_id for doc in load_mmmu(path, split, images).docs]
    used: list[bool] = []

    def answer(row: dict[str, Any]) -> str:
        text, fell_back = mmmu_answer(row, fallback)
        used.append(fell_back)
        return text

    fix = f"submission.args must name the MMMU {split} files the task loads"
    answers = answers_by_id(rows, ids, lambda r: str(r["doc_id"]), answer, path, fix)
    payload = {doc_id: answers.get(doc_id, "") for doc_id in ids}
    return payload, {
        **coverage(len(payload), len(answers)),
        "n_fallback": sum(used),
        "fallback": fallback,
        "questions": str(path),
    }

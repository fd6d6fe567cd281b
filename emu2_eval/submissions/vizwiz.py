"""EvalAI VizWiz-VQA results file: ``[{"image": "VizWiz_test_00000000.jpg", "answer": str}]``.

The VizWiz VQA challenge (test-dev and test-standard phases) takes one answer per image of
``test.json``; like the VQAv2 conversion, images the run did not answer (``--limit``) get an
empty answer, in the order of ``test.json``. Answers are the filtered predictions, unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from emu2_eval.data.docs import DataFormatError, read_json
from emu2_eval.submissions.base import answer_of, answers_by_id, coverage, record_values


def _images(path: Path) -> list[str]:
    payload = read_json(path)
    if not isinstance(payload, list):
        raise DataFormatError(path, "expected a JSON list of records (official VizWiz format)")

    def valid(name: object) -> bool:
        return isinstance(name, str) and name != ""

    return record_values(path, payload, "image", valid, "image must be a non-empty file name")


def vizwiz_evalai(
    rows: Sequence[dict[str, Any]], annotations: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``annotations``: the split's records (``test.json``) the server expects answers for."""
    path = Path(annotations)
    names = _images(path)
    by_stem = {Path(name).stem: name for name in names}
    fix = "submission.args.annotations must be the split's own records (test.json)"
    answers = answers_by_id(
        rows, names, lambda r: by_stem.get(str(r["doc_id"]), r["doc_id"]), answer_of, path, fix
    )
    payload = [{"image": name, "answer": answers.get(name, "")} for name in names]
    return payload, {**coverage(len(payload), len(answers)), "annotations": str(path)}

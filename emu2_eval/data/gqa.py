"""GQA in the official balanced-questions format (``testdev_balanced_questions.json``).

The file is one JSON object keyed by question id; each value holds at least ``imageId``,
``question`` and (in every split but ``submission``/``test``) ``answer``, plus ``fullAnswer``,
``types: {structural, semantic, detailed}``, ``isBalanced``... Images are
``<images>/<imageId>.jpg`` (the ``images.zip`` of the GQA download page,
https://cs.stanford.edu/people/dorarad/gqa/download.html, "Questions 1.2" and "Images 1.2").

Checked against: the GQA evaluation script ``eval.py`` (reads ``questions[qid]["answer"]``,
``["types"]["structural"|"semantic"|"detailed"]``, ``["imageId"]``) and LLaVA-1.5's
``scripts/convert_gqa_for_eval.py`` / lmms-eval's ``gqa`` task (testdev balanced, 12,578
questions, question id as the doc id).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emu2_eval.data.checks import SplitLabels, require_str
from emu2_eval.data.docs import (
    DataFormatError,
    Doc,
    LoadedData,
    fingerprint_files,
    image_under,
    read_json,
    require_keys,
)


def _types(record: dict[str, Any]) -> dict[str, str]:
    types = record.get("types")
    if not isinstance(types, dict):
        return {}
    return {f"{k}_type": str(types[k]) for k in ("structural", "semantic") if k in types}


def load_gqa(questions: str, images: str) -> LoadedData:
    """Load one GQA question file; doc ids are the official question ids."""
    path = Path(questions)
    payload = read_json(path)
    if not isinstance(payload, dict):
        raise DataFormatError(
            path,
            "expected a JSON object {question id: record} (official GQA "
            "*_balanced_questions.json); a list is another export: convert it",
        )
    image_dir = Path(images)
    docs: list[Doc] = []
    labels = SplitLabels(path, "answer")
    for qid, record in payload.items():
        require_keys(record, ("imageId", "question"), path, qid)
        require_str(record, "question", path, qid)
        image_id = require_str(record, "imageId", path, qid)
        has_answers = labels.check(record, qid)
        fields: dict[str, Any] = {
            "question": record["question"],
            "image": image_under(image_dir, f"{image_id}.jpg", path, qid),
            "image_id": image_id,
            **_types(record),
        }
        if has_answers:
            fields["answer"] = require_str(record, "answer", path, qid)
        docs.append(Doc(doc_id=str(qid), fields=fields))
    return LoadedData(docs=docs, fingerprint=fingerprint_files([path]), sources=[str(path)])

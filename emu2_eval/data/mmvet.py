"""MM-Vet in its released layout (https://github.com/yuweihao/MM-Vet/releases, ``mm-vet.zip``).

``mm-vet/mm-vet.json``: one JSON object keyed by question id (``v1_0`` ... ``v1_217``), each
``{"imagename": "v1_0.png", "capability": ["rec", "math"], "question", "answer"}``; images under
``mm-vet/images/``. ``answer`` is the ground truth the GPT judge compares with (``<AND>`` /
``<OR>`` join its alternatives). Checked against MM-Vet's ``mm-vet_evaluator.py``
(``data[id]["capability"|"question"|"answer"]``) and its ``inference/*.py``
(``imagename`` under ``images``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emu2_eval.data.checks import require_str
from emu2_eval.data.docs import (
    DataFormatError,
    Doc,
    LoadedData,
    fingerprint_files,
    image_under,
    read_json,
    require_keys,
)


def load_mmvet(annotations: str, images: str) -> LoadedData:
    """Load ``mm-vet.json``; doc ids are MM-Vet's question ids (the results file's keys)."""
    path = Path(annotations)
    payload = read_json(path)
    if not isinstance(payload, dict):
        raise DataFormatError(path, "expected a JSON object {question id: record} (mm-vet.json)")
    docs = []
    for qid, record in payload.items():
        require_keys(record, ("imagename", "question", "answer", "capability"), path, qid)
        capability = record["capability"]
        if not isinstance(capability, list) or not all(isinstance(c, str) for c in capability):
            raise DataFormatError(path, "capability must be a list of strings", qid)
        fields: dict[str, Any] = {
            "question": require_str(record, "question", path, qid),
            "answer": require_str(record, "answer", path, qid),
            "capability": capability,
            "image": image_under(images, require_str(record, "imagename", path, qid), path, qid),
        }
        docs.append(Doc(doc_id=str(qid), fields=fields))
    return LoadedData(docs=docs, fingerprint=fingerprint_files([path]), sources=[str(path)])

"""Hateful Memes (Facebook AI) in the official format: one JSON object per line.

Files ``train.jsonl``, ``dev_seen.jsonl``, ``test_seen.jsonl``, ``dev_unseen.jsonl``,
``test_unseen.jsonl``; each line is
``{"id": 42953, "img": "img/42953.png", "label": 0, "text": "..."}``
with ``label`` 1 = hateful, 0 = not hateful. Images are ``<root>/<img>``; the image name is taken
from ``img``, never rebuilt from ``id``: ids are integers while file names are zero-padded to
five digits, so a small id would not give its file name back. A split without labels (the
original phase-1 test release) loads without ``label``/``answer`` and can be run but not scored.
``answer`` ("yes"/"no") is the target word shown in few-shot demonstrations.

Checked against: the dataset's own README (fields ``text``, ``img``, ``label`` 0/1, file list with
``dev_seen``/``test_seen``/``dev_unseen``/``test_unseen``, AUROC via sklearn ``roc_auc_score`` as
the metric); the MMF hateful_memes project README (``dev_seen.jsonl``/``test_seen.jsonl`` as the
phase-1 val/test annotations); a public README quoting a line
``{"id":1,"img":"img\\/1.png","label":0,"text":"..."}``.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from emu2_eval.data.checks import RecordIds, require_str
from emu2_eval.data.docs import (
    DataFormatError,
    Doc,
    LoadedData,
    fingerprint_files,
    image_under,
    read_text,
    require_keys,
)


def _read_jsonl(path: Path) -> list[tuple[int, Any]]:
    """(line number, parsed object) for every non-blank line; errors name the file and line."""
    rows = []
    for line_no, line in enumerate(io.StringIO(read_text(path)), 1):  # as the file yields them
        if not line.strip():
            continue
        try:
            rows.append((line_no, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise DataFormatError(
                path, f"line {line_no}: invalid JSON at column {exc.colno}: {exc.msg}"
            ) from None
    return rows


def _label(record: dict[str, Any], path: Path, doc_id: str, line_no: int) -> int:
    label = record["label"]
    if type(label) is not int or label not in (0, 1):
        raise DataFormatError(path, f"label must be 0 or 1, got {label!r} (line {line_no})", doc_id)
    return label


def load_hateful_memes(annotations: str, root: str) -> LoadedData:
    """Load one Hateful Memes split; doc ids are ``str(id)``."""
    path = Path(annotations)
    root_dir = Path(root)
    docs: list[Doc] = []
    ids = RecordIds(path, "id")
    has_labels: bool | None = None
    for line_no, record in _read_jsonl(path):
        require_keys(record, ("id", "img", "text"), path, f"on line {line_no}")
        doc_id = ids.claim(record["id"], f"line {line_no}")
        require_str(record, "text", path, doc_id)
        if not isinstance(record["img"], str) or not record["img"]:
            raise DataFormatError(path, f"img must be a relative path (line {line_no})", doc_id)
        if has_labels is None:
            has_labels = "label" in record
        elif has_labels != ("label" in record):
            state = "has no" if has_labels else "has"
            raise DataFormatError(
                path, f"line {line_no} {state} label, unlike the first line", doc_id
            )
        fields: dict[str, Any] = {
            "text": record["text"],
            "image": image_under(root_dir, record["img"], path, doc_id),
        }
        if has_labels:
            fields["label"] = _label(record, path, doc_id, line_no)
            fields["answer"] = "yes" if fields["label"] == 1 else "no"
        docs.append(Doc(doc_id=doc_id, fields=fields))
    return LoadedData(docs=docs, fingerprint=fingerprint_files([path]), sources=[str(path)])

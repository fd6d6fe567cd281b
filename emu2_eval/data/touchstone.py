"""TouchStone in its released layout: one TSV (``touchstone_20230831.tsv``, linked from
https://github.com/OFA-Sys/TouchStone), 908 rows, tab-separated, with a header.

Columns: ``index``, ``image`` (the picture, base64), ``question``, ``human_annotation`` (the
fine-grained description the judge reads), ``gpt4_ha_answer`` (the reference answer),
``category``, ``task_name``. TouchStone's ``eval.py`` expects the same columns back plus
``response``, one row per question (see :mod:`emu2_eval.judge.touchstone`).
"""

from __future__ import annotations

import base64
import binascii
import csv
import sys
from pathlib import Path

from emu2_eval.core.prompts import ImagePart
from emu2_eval.data.checks import RecordIds
from emu2_eval.data.docs import DataFormatError, Doc, LoadedData, fingerprint_files

COLUMNS = ("index", "image", "question", "human_annotation", "gpt4_ha_answer", "category",
           "task_name")  # fmt: skip
#: doc fields carried into the submission file (everything but the image)
SUBMISSION_FIELDS = COLUMNS[2:]


def load_touchstone(path: str) -> LoadedData:
    """Load the TouchStone TSV; doc ids are its ``index`` column."""
    source = Path(path)
    if not source.is_file():
        raise DataFormatError(source, "file not found (touchstone_20230831.tsv)")
    csv.field_size_limit(sys.maxsize)  # base64 images are far beyond csv's 128 kB default
    docs = []
    ids = RecordIds(source, "index")
    with open(source, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataFormatError(source, f"missing column(s) {', '.join(missing)} in the header")
        for line, row in enumerate(reader, start=2):
            doc_id = ids.claim(row["index"], f"line {line}")
            try:
                image = ImagePart.from_bytes(base64.b64decode(row["image"], validate=True))
            except (binascii.Error, ValueError):
                raise DataFormatError(source, "image is not base64", doc_id) from None
            fields = {key: row[key] for key in SUBMISSION_FIELDS}
            docs.append(Doc(doc_id=doc_id, fields={**fields, "image": image}))
    return LoadedData(docs=docs, fingerprint=fingerprint_files([source]), sources=[str(source)])

"""MMMU (Massive Multi-discipline Multimodal Understanding) in its published layouts.

Two sources, same records:

- the Hugging Face dataset ``MMMU/MMMU`` as downloaded (``huggingface-cli download MMMU/MMMU
  --repo-type dataset``): one folder per subject, ``<Subject>/<split>-00000-of-00001.parquet``
  (splits ``dev``, ``validation``, ``test``). Columns: ``id`` (``validation_Art_Theory_12``),
  ``question``, ``options`` (a Python list written as a string, ``"['a', 'b']"``), ``answer``
  (a letter; for open questions the text, sometimes a list written as a string),
  ``question_type`` (``multiple-choice`` | ``open``), ``subfield``, ``img_type``,
  ``topic_difficulty``, ``explanation``, ``image_1`` ... ``image_7`` (``{bytes, path}`` or null);
- a JSON export: one JSON list of the same records, ``options`` a list (or the string form),
  ``image_1`` a file name under ``images``.

As MMMU's own evaluation (``mmmu/utils/data_utils.py``), the first image (``image_1``) is the one
shown, the subject is the id without its split prefix and number, and the prompt parts follow
its LLaVA-1.5 config (``mmmu/configs/llava1.5.yaml``): ``options_block`` is
``"\\n\\n(A) first\\n(B) second\\n"`` (empty for open questions) and ``instruction`` is
"Answer with the option's letter from the given choices directly." or "Answer the question using
a single word or phrase.". The test split has no answers: its docs carry none.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from emu2_eval.core.prompts import ImagePart
from emu2_eval.data.checks import RecordIds, require_str
from emu2_eval.data.docs import (
    DataFormatError,
    Doc,
    LoadedData,
    fingerprint_files,
    image_under,
    read_json,
    require_keys,
)

CHOICE_INSTRUCTION = "Answer with the option's letter from the given choices directly."
OPEN_INSTRUCTION = "Answer the question using a single word or phrase."
QUESTION_TYPES = ("multiple-choice", "open")
# MMMU's six disciplines and their 30 subjects (the benchmark's published grouping)
DISCIPLINES: dict[str, tuple[str, ...]] = {
    "Art and Design": ("Art", "Art_Theory", "Design", "Music"),
    "Business": ("Accounting", "Economics", "Finance", "Manage", "Marketing"),
    "Science": ("Biology", "Chemistry", "Geography", "Math", "Physics"),
    "Health and Medicine": (
        "Basic_Medical_Science",
        "Clinical_Medicine",
        "Diagnostics_and_Laboratory_Medicine",
        "Pharmacy",
        "Public_Health",
    ),
    "Humanities and Social Science": ("History", "Literature", "Sociology", "Psychology"),
    "Tech and Engineering": (
        "Agriculture",
        "Architecture_and_Engineering",
        "Computer_Science",
        "Electronics",
        "Energy_and_Power",
        "Materials",
        "Mechanical_Engineering",
    ),
}
DISCIPLINE_OF = {subject: d for d, subjects in DISCIPLINES.items() for subject in subjects}


def subject_of(doc_id: str) -> str:
    """``validation_Art_Theory_12`` -> ``Art_Theory``."""
    return "_".join(doc_id.split("_")[1:-1])


def _options(value: Any, where: Path, record: str) -> list[str]:
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value) if value.strip() else []
        except (ValueError, SyntaxError):
            raise DataFormatError(where, f"options is not a list: {value[:60]!r}", record) from None
    if not isinstance(value, list) or not all(isinstance(o, str) for o in value):
        raise DataFormatError(where, "options must be a list of strings", record)
    return value


def _answer(value: Any, where: Path, record: str) -> str | list[str]:
    if isinstance(value, str) and value.startswith("[") and value.endswith("]"):
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return value
        if isinstance(parsed, list) and all(isinstance(a, str) for a in parsed):
            return parsed
    if isinstance(value, list) and all(isinstance(a, str) for a in value):
        return value
    if not isinstance(value, str):
        raise DataFormatError(where, f"answer must be a string, got {value!r}", record)
    return value


def _image(value: Any, images: Path | None, where: Path, record: str) -> ImagePart:
    if isinstance(value, dict) and value.get("bytes"):
        return ImagePart.from_bytes(value["bytes"])
    if isinstance(value, str) and value and images is not None:
        return image_under(images, value, where, record)
    raise DataFormatError(
        where,
        "image_1 must be an image ({bytes, path} in the parquet files, a file name under "
        "'images' in a JSON export)",
        record,
    )


def _doc(record: dict[str, Any], where: Path, images: Path | None, ids: RecordIds) -> Doc:
    label = record.get("id", "?") if isinstance(record, dict) else "?"
    require_keys(record, ("id", "question", "options", "question_type", "image_1"), where, label)
    doc_id = ids.claim(record["id"], "record")
    question = require_str(record, "question", where, doc_id)
    kind = record["question_type"]
    if kind not in QUESTION_TYPES:
        raise DataFormatError(
            where, f"question_type must be one of {', '.join(QUESTION_TYPES)}, got {kind!r}", doc_id
        )
    subject = subject_of(doc_id)
    if subject not in DISCIPLINE_OF:
        raise DataFormatError(
            where, f"id {doc_id!r} does not name an MMMU subject (<split>_<Subject>_<n>)", doc_id
        )
    options = _options(record["options"], where, doc_id) if kind == "multiple-choice" else []
    if kind == "multiple-choice" and not options:
        raise DataFormatError(where, "a multiple-choice question needs options", doc_id)
    letters = [chr(ord("A") + i) for i in range(len(options))]
    block = "".join(f"({x}) {o}\n" for x, o in zip(letters, options, strict=True))
    fields: dict[str, Any] = {
        "question": question,
        "question_type": kind,
        "options": options,
        "options_block": f"\n\n{block}" if block else "",
        "instruction": CHOICE_INSTRUCTION if options else OPEN_INSTRUCTION,
        "subject": subject,
        "discipline": DISCIPLINE_OF[subject],
        "image": _image(record["image_1"], images, where, doc_id),
    }
    answer = record.get("answer")
    if answer not in (None, "", "?"):  # the test split hides its answers
        fields["answer"] = _answer(answer, where, doc_id)
    return Doc(doc_id=doc_id, fields=fields)


def _parquet_records(root: Path, split: str) -> tuple[list[dict[str, Any]], list[Path]]:
    import pyarrow.parquet as pq

    files = sorted(root.glob(f"*/{split}-*.parquet"))
    if not files:
        raise DataFormatError(
            root,
            f"no <Subject>/{split}-*.parquet files: download MMMU/MMMU (huggingface-cli "
            "download MMMU/MMMU --repo-type dataset --local-dir ...) or give a JSON export",
        )
    records: list[dict[str, Any]] = []
    for file in files:
        records += [{**r, "_file": file} for r in pq.read_table(file).to_pylist()]
    return records, files


def load_mmmu(path: str, split: str = "validation", images: str | None = None) -> LoadedData:
    """Load MMMU from the HF parquet folder (``path`` a directory) or a JSON export (a file)."""
    source = Path(path)
    ids = RecordIds(source, "id")
    docs = []
    if source.is_dir():
        records, files = _parquet_records(source, split)
        for record in records:
            docs.append(_doc(record, record.pop("_file"), None, ids))
    else:
        payload = read_json(source)
        if not isinstance(payload, list):
            raise DataFormatError(source, "expected a JSON list of MMMU records")
        files = [source]
        image_dir = Path(images) if images else source.parent
        for record in payload:
            docs.append(_doc(record, source, image_dir, ids))
    return LoadedData(
        docs=docs,
        fingerprint=fingerprint_files(files),
        sources=[str(f) for f in files],
        protocol={"mmmu_images": "image_1 only (MMMU's own evaluation)", "mmmu_split": split},
    )

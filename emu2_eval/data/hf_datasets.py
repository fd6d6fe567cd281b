"""Hugging Face ``datasets`` sources: local files (json, parquet, csv...) or hub ids when online.

``columns`` maps the harness's field names to the dataset's columns, e.g.
``{question: question, answers: answers, image: image}``; ``id_column`` gives stable doc ids.
Image columns are read without decoding (bytes or path) and decoded only when a model needs them.
"""

from __future__ import annotations

from typing import Any

from emu2_eval.core.prompts import ImagePart
from emu2_eval.data.checks import RecordIds, require_str
from emu2_eval.data.docs import DataFormatError, Doc, LoadedData

#: Fields that become prompt text: a None or a number there is a data error, not "None".
TEXT_FIELDS = ("question", "text", "caption", "prompt")


def _image_part(value: Any, where: str, record: str) -> ImagePart:
    if isinstance(value, dict):
        if value.get("bytes"):
            return ImagePart.from_bytes(value["bytes"])
        if value.get("path"):
            return ImagePart.from_file(value["path"])
    if isinstance(value, str):
        return ImagePart.from_file(value)
    raise DataFormatError(where, f"image column holds {type(value).__name__}, not an image", record)


def _answers(value: Any, where: str, record: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise DataFormatError(where, "answers must be a non-empty list", record)
    out = []
    for item in value:
        if isinstance(item, dict) and isinstance(item.get("answer"), str):
            out.append(item["answer"])
        elif isinstance(item, str):
            out.append(item)
        else:
            raise DataFormatError(where, "each answer must be a string or {answer: str}", record)
    return out


def load_hf_dataset(
    path: str,
    split: str,
    columns: dict[str, str],
    id_column: str | None = None,
    name: str | None = None,
    data_files: str | list[str] | dict[str, Any] | None = None,
    image_root: str | None = None,
) -> LoadedData:
    """Load a split with ``datasets.load_dataset`` and map its columns to doc fields."""
    import datasets

    try:
        dataset = datasets.load_dataset(path, name=name, data_files=data_files, split=split)
    except FileNotFoundError as exc:
        raise DataFormatError(path, f"dataset files not found: {exc}") from None
    where = f"{path}[{split}]"
    for field_name, column in columns.items():
        if column not in dataset.column_names:
            raise DataFormatError(
                where,
                f"column {column!r} for field {field_name!r} not found; "
                f"columns: {', '.join(dataset.column_names)}",
            )
    image_column = columns.get("image")
    if image_column and isinstance(dataset.features[image_column], datasets.Image):
        dataset = dataset.cast_column(image_column, datasets.Image(decode=False))
    docs = []
    ids = RecordIds(where, f"id column {id_column!r}") if id_column else None
    for index, row in enumerate(dataset):
        doc_id = ids.claim(row[id_column], f"row {index}") if ids else str(index)
        fields: dict[str, Any] = {}
        for field_name, column in columns.items():
            value = row[column]
            if field_name in TEXT_FIELDS:
                value = require_str(row, column, where, doc_id)
            elif field_name == "image":
                if image_root and isinstance(value, str):
                    value = f"{image_root}/{value}"
                value = _image_part(value, where, doc_id)
            elif field_name == "answers":
                value = _answers(value, where, doc_id)
            fields[field_name] = value
        docs.append(Doc(doc_id=doc_id, fields=fields))
    return LoadedData(docs=docs, fingerprint=dataset._fingerprint, sources=[where])

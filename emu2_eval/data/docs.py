"""Documents: one evaluation item (a question, an image to caption...) as plain data."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emu2_eval.core.prompts import ImagePart


class DataFormatError(ValueError):
    """An annotation file is missing or malformed; names the file and the record at fault."""

    def __init__(self, file: str | Path, reason: str, record: str | int | None = None) -> None:
        where = f"{file}" if record is None else f"{file}, record {record}"
        super().__init__(f"{where}: {reason}")
        self.file = str(file)
        self.record = record
        self.reason = reason


@dataclass(frozen=True)
class Doc:
    """One item of a task. ``fields`` holds what prompts and metrics read (question, answers,
    answer_type, image, references...); ``doc_id`` is stable across runs and machines."""

    doc_id: str
    fields: Mapping[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.fields[key]


@dataclass
class LoadedData:
    """Documents of one split plus a fingerprint of the files they came from."""

    docs: list[Doc]
    fingerprint: str
    sources: list[str] = field(default_factory=list)
    # protocol choices the loader made (sampling, reference images), recorded in results.json
    protocol: dict[str, Any] = field(default_factory=dict)


def fingerprint_files(paths: Iterable[str | Path]) -> str:
    """sha256 over the contents of annotation files (not images: too many to hash)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).name.encode())
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def read_text(path: str | Path) -> str:
    """The text of a UTF-8 annotation file; a missing or undecodable file is a DataFormatError
    naming it."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, "file not found")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataFormatError(path, f"not UTF-8 text: {exc}") from None


def read_json(path: str | Path) -> Any:
    """Read a JSON annotation file, turning every failure into a DataFormatError naming it."""
    import json

    path = Path(path)
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataFormatError(
            path, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None


def image_under(root: str | Path, relative: str, file: str | Path, record: str | int) -> ImagePart:
    """An image file named by an annotation, which must stay inside the dataset's image root.

    Annotation files come from third parties: a name such as ``../../home/me/.ssh/id_rsa`` or an
    absolute path must not make the harness read (and send to a model) files outside the root.
    """
    if not isinstance(relative, str) or not relative:
        reason = f"image name must be a non-empty string, got {relative!r}"
        raise DataFormatError(file, reason, record)
    # Lexical check (no resolve()): image files may be symlinks into other disks, which is fine;
    # a name that climbs out of the root is not.
    normalized = os.path.normpath(relative)
    if os.path.isabs(normalized) or normalized == ".." or normalized.startswith(".." + os.sep):
        raise DataFormatError(
            file, f"image path {relative!r} escapes the image root {root}", record
        )
    return ImagePart.from_file(Path(root) / normalized, key=relative)


def require_keys(record: Any, keys: Iterable[str], file: str | Path, index: str | int) -> None:
    """Check a record is an object holding ``keys``, else name the file, record and keys."""
    if not isinstance(record, dict):
        raise DataFormatError(file, f"expected an object, got {type(record).__name__}", index)
    missing = [key for key in keys if key not in record]
    if missing:
        raise DataFormatError(file, f"missing key(s) {', '.join(missing)}", index)

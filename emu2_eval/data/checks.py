"""Record checks shared by the dataset loaders: unique ids, id types, string fields.

Doc ids are ``str(id)``, so ``10`` and ``"10"`` would become two documents with one id whose
scores collide; a second record for an id would silently replace or shadow the first. And a
``null`` or ``42`` question would reach the prompt as the text "None" or "42". Loaders refuse all
of these with a :class:`DataFormatError` naming the file, the records and the field.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from emu2_eval.data.docs import DataFormatError

logger = logging.getLogger(__name__)


def _kind(value: Any) -> str:
    return "an integer" if isinstance(value, int) else "a string"


class RecordIds:
    """The ids of one file: each unique once normalised to text, all integers or all strings."""

    def __init__(self, file: str | Path, field: str) -> None:
        self.file = file
        self.field = field
        self._first: dict[str, tuple[Any, str]] = {}  # normalised id -> (raw id, where)
        self._type: tuple[Any, str] | None = None  # (first raw id, where) fixing the id type

    def claim(self, value: Any, where: str) -> str:
        """Register the id of the record at ``where`` ("entry 3", "line 7"); return ``str(id)``."""
        if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
            raise DataFormatError(
                self.file,
                f"{self.field} must be an integer or a non-empty string, got {value!r} ({where})",
                where,
            )
        doc_id = str(value)
        if doc_id in self._first:
            first, first_where = self._first[doc_id]
            same = type(first) is type(value)
            note = "" if same else f" ({first!r} and {value!r} are the same id)"
            raise DataFormatError(
                self.file,
                f"duplicate {self.field} ({where}), already used by {first_where}{note}",
                doc_id,
            )
        if self._type is None:
            self._type = (value, where)
        elif type(self._type[0]) is not type(value):
            first, first_where = self._type
            raise DataFormatError(
                self.file,
                f"{self.field} {value!r} ({where}) is {_kind(value)} but {first_where} has "
                f"{_kind(first)} ({first!r}): ids of one file must all be integers or all strings",
                doc_id,
            )
        self._first[doc_id] = (value, where)
        return doc_id


class SplitLabels:
    """Whether a split is labelled, fixed by its first record: a file mixing records with and
    without answers is refused (it would be scored on some of its docs only)."""

    def __init__(self, file: str | Path, key: str) -> None:
        self.file = file
        self.key = key
        self.labelled: bool | None = None

    def check(self, record: dict[str, Any], where: str | int) -> bool:
        """Whether ``record`` has ``key``; raise when the first record did not, or the reverse."""
        has = self.key in record
        if self.labelled is None:
            self.labelled = has
        elif self.labelled != has:
            state = "has no" if self.labelled else "has"
            raise DataFormatError(
                self.file, f"record {state} {self.key}, unlike the first record", where
            )
        return has


def require_str(record: dict[str, Any], key: str, file: str | Path, where: str | int) -> str:
    """``record[key]`` when it is a string (so never "None" or "42" in a prompt), else raise."""
    value = record[key]
    if not isinstance(value, str):
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        raise DataFormatError(
            file, f"{key} must be a string, got {type(value).__name__} {shown}", where
        )
    return value


def warn_answer_counts(file: str | Path, counts: list[int], expected: int, dataset: str) -> int:
    """Log how many records do not have ``expected`` answers (official data always has); the
    number of such records is returned so that callers and tests can see it."""
    odd = [count for count in counts if count != expected]
    if odd:
        lengths = ", ".join(str(n) for n in sorted(set(odd)))
        logger.warning(
            "%s: %d of %d records have %s answers instead of the %d of official %s data "
            "(a converted or truncated file?); their scores are not comparable to published ones",
            file,
            len(odd),
            len(counts),
            lengths,
            expected,
            dataset,
        )
    return len(odd)

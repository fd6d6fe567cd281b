"""Atomic output files: a reader sees the old file or the whole new one, never half of one.

Writes go to a temporary file beside the target, are flushed to disk, then renamed over it. A
failure (a full disk, a kill) leaves the previous file untouched and no temporary behind, and the
error names the file that could not be written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any


class OutputWriteError(OSError):
    """An output file could not be written; the previous version is kept."""


def write_atomic(path: Path, write: Callable[[IO[str]], None]) -> None:
    """Call ``write(handle)`` on a temp file and rename it to ``path`` once complete."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        reason = exc.strerror or str(exc)
        raise OutputWriteError(
            exc.errno, f"cannot write {path}: {reason}; the previous version is kept"
        ) from exc


def write_jsonl_atomic(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """JSON lines, one object per line."""

    def write(handle: IO[str]) -> None:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")

    write_atomic(path, write)


def write_json_atomic(path: Path, payload: Any) -> None:
    write_atomic(
        path, lambda handle: json.dump(payload, handle, indent=2, ensure_ascii=False, default=str)
    )

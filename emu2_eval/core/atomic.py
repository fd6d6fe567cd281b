"""Atomic output files: a reader sees the old file or the whole new one, never half of one.

The one module every output file goes through (results, samples, reports, grids, plots, sweep
summaries, baselines, generated images, the coordination files of distributed runs). Writes go
to a temporary file beside the target (``.<name>.<pid>.<random>.tmp``, unique per call so that
threads and processes never share one), are flushed to disk, then renamed over the target. A
failure (a full disk, a kill) leaves the previous file untouched and no temporary behind (a
SIGKILL can leave a hidden ``.tmp`` file, never a half-written target), and the error names the
file that could not be written.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

from emu2_eval.core.processes import pid_alive


class OutputWriteError(OSError):
    """An output file could not be written; the previous version is kept."""


def temp_path(path: Path) -> Path:
    """The temporary file a write of ``path`` goes through (hidden, unique per call)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


def write_atomic(
    path: str | Path,
    write: Callable[[IO[Any]], None],
    *,
    binary: bool = False,
    durable: bool = True,
) -> None:
    """Call ``write(handle)`` on a temp file and rename it to ``path`` once complete.

    ``binary`` opens the handle in bytes mode; ``durable=False`` skips the fsync (for files
    that only matter while the process lives, such as heartbeats).
    """
    path = Path(path)
    tmp = temp_path(path)
    mode, encoding = ("wb", None) if binary else ("w", "utf-8")
    try:
        with open(tmp, mode, encoding=encoding) as handle:
            write(handle)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        reason = exc.strerror or str(exc)
        raise OutputWriteError(
            exc.errno, f"cannot write {path}: {reason}; the previous version is kept"
        ) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def remove_stale_temps(directory: str | Path) -> list[Path]:
    """Delete the temporaries of writes in ``directory`` whose process is gone (a SIGKILL
    between write and rename leaves one); returns what was removed. Same-host pids only, so a
    live writer's temporary is never touched."""
    removed = []
    for tmp in Path(directory).glob(".*.tmp"):
        parts = tmp.name.rsplit(".", 3)  # .<name> . <pid> . <random> . tmp
        if len(parts) != 4 or not parts[1].isdigit() or pid_alive(int(parts[1])):
            continue
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed


def write_text_atomic(path: str | Path, text: str, durable: bool = True) -> None:
    write_atomic(path, lambda handle: handle.write(text), durable=durable)


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    write_atomic(path, lambda handle: handle.write(data), binary=True)


def write_jsonl_atomic(path: str | Path, rows: Iterable[dict[str, Any]]) -> str:
    """JSON lines, one object per line; returns the sha256 of the bytes written (the file's)."""
    digest = hashlib.sha256()

    def write(handle: IO[str]) -> None:
        for row in rows:
            line = json.dumps(row, ensure_ascii=False, default=str) + "\n"
            digest.update(line.encode("utf-8"))
            handle.write(line)

    write_atomic(path, write)
    return digest.hexdigest()


def write_json_atomic(path: str | Path, payload: Any) -> None:
    write_atomic(
        path, lambda handle: json.dump(payload, handle, indent=2, ensure_ascii=False, default=str)
    )


def write_csv_atomic(path: str | Path, frame: Any) -> None:
    """A pandas DataFrame as CSV without its index."""
    write_atomic(path, lambda handle: frame.to_csv(handle, index=False))


def save_figure_atomic(path: str | Path, figure: Any, **kwargs: Any) -> None:
    """A matplotlib figure, in the format its file suffix names."""
    fmt = Path(path).suffix.lstrip(".") or "png"
    write_atomic(path, lambda handle: figure.savefig(handle, format=fmt, **kwargs), binary=True)


def save_image_atomic(path: str | Path, image: Any, fmt: str = "PNG", **kwargs: Any) -> None:
    """A PIL image."""
    write_atomic(path, lambda handle: image.save(handle, format=fmt, **kwargs), binary=True)

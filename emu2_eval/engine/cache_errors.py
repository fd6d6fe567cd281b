"""What went wrong with the response cache, in words a user can act on.

SQLite reports a full disk, a read-only file and a damaged file through one exception type;
the advice differs (free space, make it writable, delete it), and a good cache must never be
called unreadable: moving it aside throws away every finished response.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path

from emu2_eval.core.errors import UserError

LOW_SPACE = 1 << 20  # bytes: below this an unexplained I/O error is taken for a full disk
RECOMPUTED = "the responses it held are recomputed on the next run"


class CacheError(UserError, RuntimeError):
    """The response cache cannot be used; the message says why and what to do."""


def _kind(exc: BaseException) -> str:
    """full, readonly, cantopen, corrupt or other, from the SQLite error code or errno."""
    if isinstance(exc, OSError):
        if exc.errno == errno.ENOSPC:
            return "full"
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return "readonly"
        return "other"
    name = getattr(exc, "sqlite_errorname", "") or ""
    message = str(exc).lower()
    if name.startswith("SQLITE_FULL") or "disk is full" in message:
        return "full"
    if name.startswith(("SQLITE_READONLY", "SQLITE_PERM")) or "readonly" in message:
        return "readonly"
    if name.startswith("SQLITE_CANTOPEN") or "unable to open" in message:
        return "cantopen"
    damaged = "not a database" in message or "malformed" in message
    if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")) or damaged:
        return "corrupt"
    return "other"


def _probe_directory(directory: Path) -> str | None:
    """full or readonly when a file cannot be created in ``directory`` (None: it can)."""
    try:
        with tempfile.TemporaryFile(dir=directory):
            return None
    except OSError as exc:
        kind = _kind(exc)
        return kind if kind in ("full", "readonly") else None


def _low_space(directory: Path) -> bool:
    try:
        return shutil.disk_usage(directory).free < LOW_SPACE
    except OSError:
        return False


def describe_failure(path: Path, action: str, exc: BaseException) -> str:
    """A message for a failure to ``action`` (open, read, write) the cache at ``path``."""
    kind = _kind(exc)
    existing = path.parent if path.parent.is_dir() else path.parent.parent
    if kind in ("cantopen", "other"):
        kind = _probe_directory(existing) or ("full" if _low_space(existing) else kind)
    where = f"response cache {path}"
    if kind == "full":
        return (
            f"the disk holding the {where} is full ({exc}); nothing was lost (responses "
            "already committed are kept): free some space, or give --cache a path on another "
            "disk, and run again"
        )
    if kind == "readonly":
        return (
            f"the {where} cannot be written: the file or its directory is read-only ({exc}); "
            "make it writable, or give --cache (and --output) a writable path"
        )
    if kind == "corrupt":
        return (
            f"{where} is unreadable: it is not an SQLite database, or a damaged one ({exc}); "
            f"if it is a damaged emu2_eval cache, delete it ({RECOMPUTED}); if it is another "
            "file, give --cache another path"
        )
    if kind == "cantopen":
        return f"cannot {action} the {where} ({exc}): check that its directory exists"
    return f"cannot {action} the {where} ({type(exc).__name__}: {exc})"


def lock_holders(path: Path) -> str:
    """`` (pid 123, 456)``: the other processes that have the cache open (Linux), else ''."""
    names = {str(path.resolve()) + suffix for suffix in ("", "-wal", "-shm")}
    pids = []
    proc = Path("/proc")
    if not proc.is_dir():
        return ""
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if any(os.readlink(fd) in names for fd in (entry / "fd").iterdir()):
                pids.append(int(entry.name))
        except OSError:  # gone, or not ours to look at
            continue
    return f" (pid {', '.join(map(str, sorted(pids)))})" if pids else ""

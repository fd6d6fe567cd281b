"""One writer per run directory: ``<run dir>/.lock``, held for the whole run.

A run, ``score`` and ``report`` take the lock before they read results.json and keep it until
their last write, so two runs into one ``--output`` can never both read the old results.json
and each write back only their own tasks (which lost one). A second writer stops at once with an
error naming the owner (pid, host, start time, command), or with ``wait`` queues behind it and
then reads the results.json the first one left, so both runs' tasks are kept.

The lock is an ``flock`` on the file, not the file's existence: the kernel releases it when its
process ends, however it ends (SIGKILL included), so a lock left by a dead process is simply
free and the next run takes it over, atomically (there is no window between "is it stale?" and
"take it" for two newcomers to both win). The pid, host and start time written into the file are
for the message only. Only the main process of a data-parallel run takes it (the others write
nothing but their exchange files under ``.dist/<call id>``).
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from emu2_eval.core.atomic import remove_stale_temps

logger = logging.getLogger(__name__)
LOCK_NAME = ".lock"
POLL_S = 0.5


class RunDirLockedError(ValueError):
    """Another process is writing into this run directory."""


def lock_path(directory: Path) -> Path:
    return Path(directory) / LOCK_NAME


def read_owner(directory: Path) -> dict[str, Any]:
    """What the lock file says about its (last) owner; {} when absent or unreadable."""
    try:
        owner = json.loads(lock_path(directory).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return owner if isinstance(owner, dict) else {}


def _describe(owner: dict[str, Any]) -> str:
    if not owner:
        return "another process (it has not written its details yet)"
    text = f"pid {owner.get('pid')} on host {owner.get('host')}, started {owner.get('started')}"
    return text + (f" ({owner['command']})" if owner.get("command") else "")


def _try_lock(path: Path) -> int | None:
    """An open descriptor holding the lock on ``path``, or None when another process has it."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                logger.warning("%s: this filesystem has no file locks; not locked (%s)", path, exc)
                return -1
            raise
        try:  # the holder before us may have removed the file: lock the one at the path
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


@contextmanager
def run_dir_lock(directory: str | Path, wait: bool = False) -> Iterator[None]:
    """Hold ``directory``'s lock for the body; raise :class:`RunDirLockedError` naming the
    owner when another process holds it (``wait``: wait for it instead)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = lock_path(directory)
    told = False
    while (fd := _try_lock(path)) is None:
        owner = read_owner(directory)
        if not wait:
            raise RunDirLockedError(
                f"{directory} is being written by another run: {_describe(owner)}; wait for it "
                "to finish, choose another --output, or pass --wait to queue behind it "
                f"(lock file {path})"
            )
        if not told:
            logger.warning("waiting for %s: it is being written by %s", directory, _describe(owner))
            told = True
        time.sleep(POLL_S)
    if fd == -1:
        yield
        return
    try:
        previous = read_owner(directory)
        if previous.get("pid") is not None:
            logger.info("took over the lock of %s left by %s", directory, _describe(previous))
        owner = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": " ".join(sys.argv[:12]),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(owner) + "\n").encode("utf-8"), 0)
        remove_stale_temps(directory)  # left by a writer killed between write and rename
        yield
    finally:
        try:
            os.unlink(path)  # while still holding it: a waiter re-checks the inode and retries
        except OSError:
            pass
        os.close(fd)

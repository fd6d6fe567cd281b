"""Staging folders of the first-time set-ups (demo data, the tiny model) under EMU2_EVAL_HOME.

A set-up builds into a staging folder and renames it into place, so a half-built folder is never
used. A kill during the build leaves the staging folder behind; its name records the owner
(``.staging-<label>.<random>.<pid>@<host>``), so the next set-up removes the folders of owners
that are gone, and never one that a live process is still writing.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from emu2_eval.core.processes import pid_alive

log = logging.getLogger(__name__)

PREFIX = ".staging-"
OTHER_HOST_AGE_S = 24 * 3600  # a folder of another machine (shared home): its pid is unknowable
# Folders of versions before the owner was recorded (tempfile.mkdtemp names), removed when old.
LEGACY = re.compile(r"(tiny|demo|demo-dreambench)-[a-z0-9_]{8}")
LEGACY_AGE_S = 3600


def _host() -> str:
    return socket.gethostname().replace("@", "_") or "localhost"


def _age_s(path: Path) -> float:
    return time.time() - path.stat().st_mtime


def _abandoned(path: Path) -> bool:
    """Whether a staging folder's owner is gone (a kill), so nobody will finish or remove it."""
    if LEGACY.fullmatch(path.name):
        return _age_s(path) > LEGACY_AGE_S
    owner, _, host = path.name.rpartition("@")
    pid = owner.rpartition(".")[2]
    if not pid.isdigit():
        return False
    if host == _host():
        return not pid_alive(int(pid))
    return _age_s(path) > OTHER_HOST_AGE_S


def sweep(parent: Path) -> list[Path]:
    """Remove the staging folders in ``parent`` left by killed set-ups; return them."""
    removed = []
    if not parent.is_dir():
        return removed
    for path in parent.iterdir():
        is_staging = path.name.startswith(PREFIX) or LEGACY.fullmatch(path.name)
        try:
            if is_staging and path.is_dir() and _abandoned(path):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
        except OSError:  # removed meanwhile by another process
            continue
    if removed:
        log.info("removed %d staging folder(s) of killed set-ups in %s", len(removed), parent)
    return removed


@contextmanager
def staging_dir(parent: Path, label: str) -> Iterator[Path]:
    """A fresh staging folder in ``parent`` (stale ones swept first), removed on exit.

    Rename it into place inside the block; whatever is left at exit is removed.
    """
    parent.mkdir(parents=True, exist_ok=True)
    sweep(parent)
    path = Path(
        tempfile.mkdtemp(prefix=f"{PREFIX}{label}.", suffix=f".{os.getpid()}@{_host()}", dir=parent)
    )
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)

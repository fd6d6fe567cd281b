"""Response cache: SQLite in WAL mode, keyed by request content and model fingerprint.

Every finished batch is committed at once, so a run killed at any point and started again
recomputes nothing it finished. Keys never include rank, world size or batch size. Failed
requests are never stored. Several processes may write at once (the ranks of a data-parallel run,
or two runs sharing ``--cache``): WAL lets readers go on while one writes, each write takes the
write lock up front (``BEGIN IMMEDIATE``) and waits for it (busy timeout), and a write that still
finds the database locked is retried with back-off until ``busy_timeout_s`` has passed.
WAL needs all processes on one host (shared memory); for several machines give each its own cache.
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from emu2_eval.core.requests import Request, stable_hash
from emu2_eval.engine.cache_errors import CacheError, describe_failure, lock_holders

T = TypeVar("T")
SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    kind TEXT NOT NULL,
    response TEXT NOT NULL,
    created REAL NOT NULL
)
"""
COLUMNS = ("key", "model", "kind", "response", "created")
BUSY_TIMEOUT_S = 120.0


def cache_key(model_fingerprint: str, request: Request, content_hash: str | None = None) -> str:
    """The key of a response (``content_hash``: the request's, when already computed)."""
    return stable_hash(
        {"model": model_fingerprint, "request": content_hash or request.content_hash()}
    )


def _locked(exc: sqlite3.OperationalError) -> bool:
    message = str(exc).lower()
    return "locked" in message or "busy" in message


class ResponseCache:
    """A persistent map (model fingerprint, request) -> JSON response, safe for many writers."""

    def __init__(self, path: str | Path, busy_timeout_s: float = BUSY_TIMEOUT_S) -> None:
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit mode: transactions are opened explicitly (BEGIN IMMEDIATE) in put_many.
            self._db = sqlite3.connect(self.path, timeout=busy_timeout_s, isolation_level=None)
            self._check_schema()  # before anything is written to a file that is not ours
            self._retry(lambda: self._db.execute("PRAGMA journal_mode=WAL"))
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._retry(lambda: self._db.execute(SCHEMA))
        except (sqlite3.Error, OSError) as exc:
            raise CacheError(describe_failure(self.path, "open", exc)) from exc

    def _check_schema(self) -> None:
        """Refuse an SQLite file of another program (or another schema) without touching it."""
        tables = [
            row[0]
            for row in self._retry(
                lambda: self._db.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'"
                ).fetchall()
            )
        ]
        if not tables:
            return  # a new cache
        columns = tuple(
            row[1] for row in self._db.execute("PRAGMA table_info(responses)").fetchall()
        )
        if columns != COLUMNS:
            found = f"columns {', '.join(columns)}" if columns else f"tables {', '.join(tables)}"
            self._db.close()
            raise CacheError(
                f"{self.path} is an SQLite database but not an emu2_eval response cache "
                f"({found}); nothing was written to it: give --cache another path"
            )

    def _retry(self, action: Callable[[], T]) -> T:
        """Run ``action``, retrying with jittered back-off while another process holds a lock."""
        deadline = time.monotonic() + self.busy_timeout_s
        delay = 0.01
        while True:
            try:
                return action()
            except sqlite3.OperationalError as exc:
                if not _locked(exc) or time.monotonic() > deadline:
                    if _locked(exc):
                        raise CacheError(
                            f"response cache {self.path} stayed locked for "
                            f"{self.busy_timeout_s:.0f}s by another process"
                            f"{lock_holders(self.path)} ({exc}): wait for it to finish, or "
                            "give this run its own --cache"
                        ) from exc
                    raise
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 1.0)

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """The cached responses among ``keys``."""
        try:
            return self._get_many(list(keys))
        except sqlite3.Error as exc:
            raise CacheError(describe_failure(self.path, "read", exc)) from exc

    def _get_many(self, keys: list[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._retry(
                lambda chunk=chunk, marks=marks: self._db.execute(
                    f"SELECT key, response FROM responses WHERE key IN ({marks})", chunk
                ).fetchall()
            )
            found.update((key, json.loads(response)) for key, response in rows)
        return found

    def put_many(self, items: Iterable[tuple[str, str, str, Any]]) -> None:
        """Store (key, model fingerprint, kind, response) rows in one transaction."""
        now = time.time()
        rows = [(k, m, kind, json.dumps(r), now) for k, m, kind, r in items]
        if not rows:
            return

        def write() -> None:
            self._db.execute("BEGIN IMMEDIATE")  # the write lock now, or wait for it
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?)", rows
                )
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

        try:
            self._retry(write)
        except sqlite3.Error as exc:  # full disk, read-only file...: the rows stay uncommitted
            raise CacheError(describe_failure(self.path, "write", exc)) from exc

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        self._db.close()

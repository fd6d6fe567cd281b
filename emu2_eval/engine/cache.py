"""Response cache: SQLite in WAL mode, keyed by request content and model fingerprint.

Every finished batch is committed at once, so a run killed at any point and started again
recomputes nothing it finished. Keys never include rank, world size or batch size. Failed
requests are never stored; WAL lets several processes read while one writes.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from emu2_eval.requests import Request, stable_hash

SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    kind TEXT NOT NULL,
    response TEXT NOT NULL,
    created REAL NOT NULL
)
"""


def cache_key(model_fingerprint: str, request: Request) -> str:
    return stable_hash({"model": model_fingerprint, "request": request.content_hash()})


class ResponseCache:
    """A persistent map (model fingerprint, request) -> JSON response."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=60)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(SCHEMA)
            self._db.commit()
        except sqlite3.DatabaseError as exc:
            raise RuntimeError(
                f"response cache {self.path} is unreadable ({exc}); move it aside to start afresh"
            ) from None

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """The cached responses among ``keys``."""
        found: dict[str, Any] = {}
        keys = list(keys)
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT key, response FROM responses WHERE key IN ({marks})", chunk
            )
            found.update((key, json.loads(response)) for key, response in rows)
        return found

    def put_many(self, items: Iterable[tuple[str, str, str, Any]]) -> None:
        """Store (key, model fingerprint, kind, response) rows in one transaction."""
        now = time.time()
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?)",
                [(k, m, kind, json.dumps(r), now) for k, m, kind, r in items],
            )

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        self._db.close()

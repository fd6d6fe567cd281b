"""Cache errors say what is wrong (disk full, read-only, locked by pid N, not our cache) and
never call a good cache unreadable; a damaged few-shot feature cache is named and recomputed.

Tests run as root here, where chmod does not stop writes: a full disk is SQLite's own
SQLITE_FULL (``max_page_count`` caps the file), a read-only file is SQLite's SQLITE_READONLY
(the file opened read-only); the chmod variant runs when not root.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from emu2_eval.core.errors import UserError
from emu2_eval.engine import cache as cache_module
from emu2_eval.engine.cache import ResponseCache
from emu2_eval.engine.cache_errors import CacheError

ROWS = [(f"k{i}", "model", "generate", "x" * 5000) for i in range(20)]


def _connect_with(monkeypatch: pytest.MonkeyPatch, setup=None, uri_mode: str | None = None):
    """Make the cache's sqlite3.connect give a connection that fails like a full/read-only disk."""
    real = sqlite3.connect

    def connect(path, *args, **kwargs):
        if uri_mode is not None:
            path, kwargs["uri"] = f"file:{path}?mode={uri_mode}", True
        db = real(path, *args, **kwargs)
        if setup is not None:
            setup(db)
        return db

    monkeypatch.setattr(cache_module.sqlite3, "connect", connect)


def test_full_disk_at_open_says_disk_full(tmp_path: Path, monkeypatch) -> None:
    _connect_with(monkeypatch, lambda db: db.execute("PRAGMA max_page_count = 1"))
    with pytest.raises(CacheError) as info:
        ResponseCache(tmp_path / "cache.sqlite")
    message = str(info.value)
    assert "the disk holding the response cache" in message
    assert "is full (database or disk is full)" in message and "free some space" in message
    assert "unreadable" not in message and "move it aside" not in message
    assert isinstance(info.value, UserError)


def test_full_disk_during_a_commit_is_a_clean_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    cache = ResponseCache(path)
    cache.put_many(ROWS[:1])
    pages = cache._db.execute("PRAGMA page_count").fetchone()[0]
    cache._db.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(CacheError) as info:
        cache.put_many(ROWS[1:])  # was a raw sqlite3.OperationalError
    assert str(path) in str(info.value) and "is full" in str(info.value)
    assert "unreadable" not in str(info.value)
    assert not cache._db.in_transaction  # rolled back: the cache goes on working
    assert cache.get_many(["k0", "k1"]).keys() == {"k0"}
    cache.close()


def test_read_only_cache_file_says_read_only(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "cache.sqlite"
    ResponseCache(path).close()
    _connect_with(monkeypatch, uri_mode="ro")
    with pytest.raises(CacheError) as info:
        ResponseCache(path).put_many(ROWS[:1])
    message = str(info.value)
    assert str(path) in message and "read-only" in message and "make it writable" in message
    assert "unreadable" not in message and "move it aside" not in message


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_output_directory_says_read_only(tmp_path: Path) -> None:
    directory = tmp_path / "out"
    directory.mkdir()
    directory.chmod(0o500)
    try:
        with pytest.raises(CacheError, match="read-only") as info:
            ResponseCache(directory / "cache.sqlite")
        assert "unreadable" not in str(info.value)
    finally:
        directory.chmod(0o700)


def test_locked_cache_names_the_holding_process(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    ResponseCache(path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sqlite3, sys, time\n"
         f"db = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
         "db.execute('BEGIN IMMEDIATE')\nprint('locked', flush=True)\ntime.sleep(60)\n"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        cache = ResponseCache(path, busy_timeout_s=0.3)
        with pytest.raises(CacheError) as info:
            cache.put_many(ROWS[:1])
        message = str(info.value)
        assert f"stayed locked for 0s by another process (pid {holder.pid})" in message
        assert str(path) in message and "its own --cache" in message
        cache.close()
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize(
    ("schema", "found"),
    [
        ("CREATE TABLE other (a TEXT)", "tables other"),
        ("CREATE TABLE responses (key TEXT, value TEXT)", "columns key, value"),
    ],
)
def test_sqlite_file_of_another_schema_is_not_our_cache(tmp_path: Path, schema, found) -> None:
    path = tmp_path / "theirs.sqlite"
    db = sqlite3.connect(path)
    db.execute(schema)
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(CacheError) as info:
        ResponseCache(path)
    message = str(info.value)
    assert f"{path} is an SQLite database but not an emu2_eval response cache ({found})" in message
    assert "no such column" not in message
    assert path.read_bytes() == before  # not switched to WAL, no table added
    assert not Path(f"{path}-wal").exists()


def test_damaged_feature_cache_is_named_and_recomputed(tmp_path: Path, caplog) -> None:
    from emu2_eval.core.prompts import ImagePart
    from emu2_eval.data.docs import Doc
    from emu2_eval.fewshot.encoders import ColorHistogramEncoder
    from emu2_eval.fewshot.feature_store import FeatureStore

    docs = []
    for i, colour in enumerate(["red", "blue", "green"]):
        Image.new("RGB", (8, 8), colour).save(tmp_path / f"{i}.png")
        docs.append(Doc(str(i), {"image": ImagePart.from_file(tmp_path / f"{i}.png")}))
    store = FeatureStore(tmp_path / "features")
    first = store.features(ColorHistogramEncoder(), "data-v1", docs, progress=False)
    (path,) = (tmp_path / "features").glob("*.npz")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # truncated by a kill
    again = FeatureStore(tmp_path / "features")
    with caplog.at_level(logging.WARNING):
        second = again.features(ColorHistogramEncoder(), "data-v1", docs, progress=False)
    np.testing.assert_array_equal(first, second)
    assert again.computed == 3
    assert str(path) in caplog.text and "safe to delete" in caplog.text
    third = FeatureStore(tmp_path / "features")  # rewritten whole: read back, none computed
    third.features(ColorHistogramEncoder(), "data-v1", docs, progress=False)
    assert third.computed == 0

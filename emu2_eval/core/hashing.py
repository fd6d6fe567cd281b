"""File digests and seeds derived from hashes: one implementation of each.

Seeds are a pure function of what they are about (never of rank, batch or order); the byte order
and width of each caller's seed are part of its results, so they stay the caller's choice.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

_CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def digest_seed(blob: bytes, byteorder: Literal["little", "big"] = "little") -> int:
    """The first 8 bytes of ``sha256(blob)`` as an unsigned 64-bit integer."""
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], byteorder)


def hash_seed(*parts: object, byteorder: Literal["little", "big"] = "little") -> int:
    """:func:`digest_seed` of the parts' ``str`` joined by the unit separator ``\\x1f``."""
    return digest_seed("\x1f".join(str(p) for p in parts).encode(), byteorder)

"""Checksum manifests: fail loudly when a dataset file is not the one the results were made on.

A manifest is a ``sha256sum``-style file (``<hex digest>  <path relative to the manifest>``), so
it can be written with ``sha256sum`` and checked with ``sha256sum -c`` as well. The harness never
downloads: a mismatch is an error to be fixed by the user, never a silent re-download.
"""

from __future__ import annotations

from pathlib import Path

from emu2_eval.core.hashing import sha256_file
from emu2_eval.data.docs import DataFormatError


class ChecksumMismatchError(DataFormatError):
    """A file's content differs from the manifest."""


def read_manifest(manifest: Path) -> list[tuple[str, str]]:
    """(digest, relative path) pairs; malformed lines name the manifest and the line."""
    if not manifest.is_file():
        raise DataFormatError(manifest, "checksum manifest not found")
    entries = []
    for line_no, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        digest, _, name = line.partition(" ")
        name = name.strip().lstrip("*")  # sha256sum marks binary mode with '*'
        if len(digest) != 64 or not name or any(c not in "0123456789abcdef" for c in digest):
            raise DataFormatError(manifest, f"line {line_no} is not '<sha256>  <path>'")
        entries.append((digest, name))
    return entries


def verify_checksums(manifest: str | Path) -> int:
    """Check every file listed in ``manifest``; returns how many were checked."""
    manifest = Path(manifest)
    entries = read_manifest(manifest)
    for digest, name in entries:
        path = manifest.parent / name
        if not path.is_file():
            raise ChecksumMismatchError(manifest, f"{name} is listed but missing")
        actual = sha256_file(path)
        if actual != digest:
            raise ChecksumMismatchError(
                manifest, f"{name} has sha256 {actual}, the manifest says {digest}"
            )
    return len(entries)

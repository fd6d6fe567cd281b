"""sha256 of the weights files behind a metric backbone, recorded with every result.

A hub id names a repository, not its bytes: a revision pushed later, a local copy edited by
hand or a different conversion of the same network would give other numbers under the same name.
The hash of the files actually read pins them. Hashes are cached per (path, size, mtime) so a
backbone shared by several metrics is read once per process.
"""

from __future__ import annotations

import functools
from pathlib import Path

from emu2_eval.core.hashing import sha256_file

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt")


@functools.lru_cache(maxsize=32)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(path)


def sha256_of(path: str | Path) -> str:
    """sha256 of one file (symlinks followed, as in the hub cache)."""
    resolved = Path(path).resolve()
    stat = resolved.stat()
    return _digest(str(resolved), stat.st_size, stat.st_mtime_ns)


def backbone_directory(backbone: str) -> Path | None:
    """The local folder holding a backbone: the path itself, or its hub cache snapshot."""
    if Path(backbone).expanduser().is_dir():
        return Path(backbone).expanduser()
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(backbone, local_files_only=True))
    except Exception:  # not cached (or not a hub id): nothing was read from disk under it
        return None


def backbone_weights_sha256(backbone: str) -> dict[str, str | None]:
    """{weights file name: sha256} of a from_pretrained backbone (its top-level weight files).

    An empty folder or a backbone that is neither a directory nor a cached hub id gives
    ``{"<backbone>": None}``: recorded as unknown rather than omitted.
    """
    directory = backbone_directory(backbone)
    files = []
    if directory is not None:
        files = sorted(
            p for p in directory.iterdir() if p.suffix in WEIGHT_SUFFIXES and p.is_file()
        )
    if not files:
        return {backbone: None}
    return {p.name: sha256_of(p) for p in files}

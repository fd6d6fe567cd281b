"""Model fingerprints: which weights and settings produced a response."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
FULL_HASH_LIMIT = 512 * 1024 * 1024


def checkpoint_fingerprint(path: str | Path, settings: dict[str, Any]) -> str:
    """Hash of a checkpoint directory and the settings that change outputs.

    Config and tokenizer files are hashed whole. Weights are hashed whole when the checkpoint is
    small (tests, the built-in model); for large checkpoints (tens of GB) hashing would take
    minutes on every start, so their file names and sizes stand in, plus the index file, which
    lists every tensor.
    """
    path = Path(path)
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    files = sorted(p for p in path.rglob("*") if p.is_file())
    weights = [p for p in files if p.suffix in WEIGHT_SUFFIXES]
    hash_weights = sum(p.stat().st_size for p in weights) <= FULL_HASH_LIMIT
    for file in files:
        rel = str(file.relative_to(path))
        digest.update(rel.encode())
        if file in weights and not hash_weights:
            digest.update(str(file.stat().st_size).encode())
            continue
        with open(file, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()

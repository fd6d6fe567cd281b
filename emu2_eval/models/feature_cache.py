"""An LRU cache of visual-encoder outputs for images that recur across prompts.

Few-shot prompts repeat the same demonstration images over and over (RICES picks popular pool
images; random demos repeat across seeds), and a loglikelihood request runs the same image once
per continuation. The vision tower's output for an image depends only on the image and the
encoder's weights and settings, so it is keyed by (encoder fingerprint, image content key) and
computed once.

Images are keyed by their content (:func:`image_content_key`: the sha256 of the file's bytes),
not by their name: two datasets may both hold an ``img/0001.png`` that are different pictures,
and one run may serve several datasets.

How an adapter hooks it in: before the language model runs, look each prompt image's content key
up with :meth:`FeatureCache.get`, run the encoder only on the missing images (each alone, so an
image's features never depend on which other images shared its batch), :meth:`FeatureCache.put`
their outputs, and hand the assembled features to the model instead of pixels. The HF adapter does
this through transformers' ``mm_encoder_outputs`` argument (``hf_vlm.py``); the Emu2 adapter
splices the projected features into the token embeddings (``models/emu2/adapter.py``). Both take
the model argument ``feature_cache=N``.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from emu2_eval.core.image_files import open_image_file
from emu2_eval.core.prompts import ImageLoadError, ImagePart

#: (path, size, mtime_ns) -> content hash; a file is read once while it stays unchanged.
_FILE_HASHES: dict[tuple[str, int, int], str] = {}
_FILE_HASHES_LIMIT = 100_000


def image_content_key(part: ImagePart) -> str:
    """``sha256:<hex>`` of the image's encoded bytes (in-memory images carry it already).

    Raises ``ImageLoadError`` naming the file when it cannot be read, as decoding would.
    """
    if part.path is None:
        return part.key  # ImagePart.from_bytes keys by the sha256 of its bytes
    try:
        stat = os.stat(part.path)
        memo = (part.path, stat.st_size, stat.st_mtime_ns)
        known = _FILE_HASHES.get(memo)
        if known is not None:
            return known
        digest = hashlib.sha256()
        with open_image_file(part.path) as handle:  # regular file, size-limited: never blocks
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except FileNotFoundError:
        raise ImageLoadError(part.path, "file not found") from None
    except OSError as exc:
        raise ImageLoadError(part.path, f"{type(exc).__name__}: {exc}") from None
    if len(_FILE_HASHES) >= _FILE_HASHES_LIMIT:
        _FILE_HASHES.clear()
    key = _FILE_HASHES[memo] = "sha256:" + digest.hexdigest()
    return key


class FeatureCache:
    """At most ``max_entries`` features, least recently used evicted first."""

    def __init__(self, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError("a feature cache needs room for at least one entry")
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, Hashable], Any] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, encoder: str, image_key: Hashable) -> Any | None:
        """The stored features, or None (counted as a miss)."""
        key = (encoder, image_key)
        value = self._entries.get(key)
        if value is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return value

    def put(self, encoder: str, image_key: Hashable, features: Any) -> None:
        key = (encoder, image_key)
        self._entries[key] = features
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, item: tuple[str, Hashable]) -> bool:
        return item in self._entries

    def stats(self) -> dict[str, int]:
        return {"entries": len(self), "hits": self.hits, "misses": self.misses}

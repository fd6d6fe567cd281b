"""An LRU cache of visual-encoder outputs for images that recur across prompts.

Few-shot prompts repeat the same demonstration images over and over (RICES picks popular pool
images; random demos repeat across seeds), and a loglikelihood request runs the same image once
per continuation. The vision tower's output for an image depends only on the image and the
encoder's weights and settings, so it is keyed by (encoder fingerprint, image content key) and
computed once.

How an adapter hooks it in: before the language model runs, look each prompt image's key up with
:meth:`FeatureCache.get`, run the encoder only on the missing images, :meth:`FeatureCache.put`
their outputs, and hand the assembled features to the model instead of pixels. The HF adapter does
this through transformers' ``mm_encoder_outputs`` argument (``hf_vlm.py``, model argument
``feature_cache=N``); an adapter whose model takes image embeddings directly (Emu2's visual encoder
feeds a projector whose output is spliced into the token embeddings) would wrap its encoder call
the same way.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any


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

"""One batch's images, handed to the adapter with its requests (no state on the adapter).

The engine's prefetch workers decode, and prepare (``ModelAdapter.prepare_image``), the images
of the next batch while the model runs; the runner then passes them with the batch:
``adapter.run(kind, requests, images)``. An image that is not there (prefetching is off, it
failed to decode, it is a video frame) is read from its file when asked for, so results, errors
and messages are the same with and without prefetching.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from emu2_eval.core.prompts import ImagePart


def _as_is(image: Any) -> Any:
    return image


@dataclass(frozen=True)
class PreparedImages:
    """Prepared images by image key, and how to prepare one that has to be read now."""

    prepared: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    prepare: Callable[[Any], Any] = _as_is

    def load(self, part: ImagePart) -> Any:
        """The image of ``part`` ready for the model: prefetched, else read from its file and
        prepared now (``ImageLoadError`` naming the file and the reason when it cannot be)."""
        image = self.prepared.get(part.key)
        return image if image is not None else self.prepare(part.load())

"""Emu2's image input, shared by the Emu2 adapter and Emu2-Gen's multimodal encoder.

Both resize and normalise each image ahead of the model (``prepare_image``, run by the engine's
prefetch workers) and stack a batch's prepared pixels in prompt order (``_pixels``). Torch is
imported when used, so that naming the adapter class (the preflight) stays light.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from emu2_eval.core.prompts import ImagePart
from emu2_eval.models.prepared_images import PreparedImages


class Emu2Pixels:
    """Mixin for adapters whose ``config.vision_config.image_size`` sets the input size."""

    config: Any

    def prepare_image(self, image: Any) -> Any:
        """Decoded image -> (3, S, S) normalised pixels (run ahead by the prefetch workers)."""
        from emu2_eval.models.emu2.preprocess import preprocess_image

        return preprocess_image(image, self.config.vision_config.image_size)

    def _pixels(self, parts: Sequence[ImagePart], images: PreparedImages) -> Any:
        """(N, 3, S, S) pixels of ``parts`` in order, or None when there are none."""
        import torch

        return torch.stack([images.load(part) for part in parts]) if parts else None

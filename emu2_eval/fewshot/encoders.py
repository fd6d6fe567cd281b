"""Image feature encoders for RICES (retrieval-based in-context example selection).

``color_histogram`` needs no weights (demo data, tests); ``clip`` loads any CLIP checkpoint
through ``from_pretrained`` (Flamingo's RICES used CLIP ViT-L/14 image features; ``tiny-clip``
is the built-in tiny one); ``emu2_visual`` (``emu2_encoder.py``) is Emu2's own EVA-CLIP tower.
Every encoder returns L2-normalised float32 rows, NaN for an image that could not be read, and a
fingerprint that keys the on-disk feature cache.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from emu2_eval.core.prompts import ImageLoadError, ImagePart
from emu2_eval.core.timing import bar_label

logger = logging.getLogger(__name__)


def loadable_batches(
    images: Sequence[ImagePart], batch_size: int, label: str, progress: bool
) -> Iterator[tuple[list[int], list[Any]]]:
    """Batches of (row indices, decoded images) with a progress bar; an image that cannot be
    read is left out with a warning, so its row keeps NaN features (never a neighbour)."""
    starts = range(0, len(images), batch_size)
    for start in tqdm(starts, desc=bar_label(label), disable=not progress):
        rows, pixels = [], []
        for row in range(start, min(start + batch_size, len(images))):
            try:
                pixels.append(images[row].load())
                rows.append(row)
            except ImageLoadError as exc:
                logger.warning("no features for %s: %s", images[row].key, exc.reason)
        if rows:
            yield rows, pixels


def _normalise(features: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return (features / np.where(norms == 0, 1, norms)).astype(np.float32)


class FeatureEncoder:
    """Base class: ``encode`` a list of images into an (n, d) array."""

    name = "encoder"

    def fingerprint(self) -> str:
        raise NotImplementedError

    def encode(self, images: Sequence[ImagePart], progress: bool = True) -> np.ndarray:
        raise NotImplementedError


class ColorHistogramEncoder(FeatureEncoder):
    """A joint RGB histogram (bins^3 cells) of the image at 64x64: cheap, deterministic."""

    name = "color_histogram"

    def __init__(self, bins: int = 4) -> None:
        if not 2 <= bins <= 16:
            raise ValueError("color_histogram: bins must be between 2 and 16")
        self.bins = bins

    def fingerprint(self) -> str:
        return f"color_histogram-v1-bins{self.bins}"

    def encode(self, images: Sequence[ImagePart], progress: bool = True) -> np.ndarray:
        out = np.full((len(images), self.bins**3), np.nan, dtype=np.float32)
        for row, part in enumerate(tqdm(images, desc=bar_label("features"), disable=not progress)):
            try:
                pixels = np.asarray(part.load().resize((64, 64)), dtype=np.int64)
            except ImageLoadError as exc:
                logger.warning("no features for %s: %s", part.key, exc.reason)
                continue
            cells = (pixels * self.bins) // 256
            index = (cells[..., 0] * self.bins + cells[..., 1]) * self.bins + cells[..., 2]
            out[row] = np.bincount(index.ravel(), minlength=self.bins**3)
        valid = ~np.isnan(out).any(axis=1)
        out[valid] = _normalise(out[valid])
        return out


class CLIPImageEncoder(FeatureEncoder):
    """CLIP image embeddings (projection output) from a hub id or a local checkpoint."""

    name = "clip"
    title = "CLIP"

    def __init__(self, pretrained: str, device: str = "auto", batch_size: int = 32) -> None:
        from transformers import AutoImageProcessor, CLIPModel

        from emu2_eval.core.devices import resolve_device
        from emu2_eval.core.tiny_backbones import resolve_backbone

        self.pretrained = resolve_backbone(str(pretrained))  # ``tiny-clip``: the built-in one
        self.device = resolve_device(device)
        self.batch_size = batch_size
        self._fingerprint: str | None = None
        self.model = CLIPModel.from_pretrained(self.pretrained).to(self.device).eval()
        self.processor = AutoImageProcessor.from_pretrained(self.pretrained)

    def fingerprint(self) -> str:
        """Weights (a local checkpoint's files, or a hub id and its commit): cached once."""
        from emu2_eval.core.requests import stable_hash
        from emu2_eval.models.fingerprint import checkpoint_fingerprint

        if self._fingerprint is None:
            if Path(self.pretrained).is_dir():
                self._fingerprint = "clip-" + checkpoint_fingerprint(self.pretrained, {})
            else:
                commit = getattr(self.model.config, "_commit_hash", None) or "unknown"
                self._fingerprint = "clip-" + stable_hash(
                    {"repo": self.pretrained, "commit": commit}
                )
        return self._fingerprint

    def encode(self, images: Sequence[ImagePart], progress: bool = True) -> np.ndarray:
        import torch

        dim = self.model.config.projection_dim
        out = np.full((len(images), dim), np.nan, dtype=np.float32)
        for rows, pixels in loadable_batches(images, self.batch_size, "clip features", progress):
            inputs = self.processor(images=pixels, return_tensors="pt").to(self.device)
            with torch.inference_mode():
                features = self.model.get_image_features(**inputs)
            if not isinstance(features, torch.Tensor):  # newer transformers return an output
                features = features.pooler_output
            out[rows] = _normalise(features.float().cpu().numpy())
        return out

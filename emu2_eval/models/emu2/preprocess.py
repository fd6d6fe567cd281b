"""Image preprocessing of the published code, with PIL and torch only (no torchvision).

torchvision's ``Resize((448, 448), BICUBIC)`` on a PIL image is PIL's own bicubic resize; then
``ToTensor`` (HWC uint8 -> CHW float in [0, 1]) and ``Normalize`` with the OpenAI CLIP statistics.
No crop: the aspect ratio is not kept.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from emu2_eval.models.emu2.constants import CLIP_MEAN, CLIP_STD


def preprocess_image(image: Image.Image, size: int) -> torch.Tensor:
    """One RGB image -> (3, size, size) float32, normalised."""
    resized = image.convert("RGB").resize((size, size), Image.Resampling.BICUBIC)
    array = np.asarray(resized, dtype=np.float32) / 255.0
    tensor = torch.from_numpy(array).permute(2, 0, 1)
    mean = torch.tensor(CLIP_MEAN, dtype=torch.float32).view(3, 1, 1)
    std = torch.tensor(CLIP_STD, dtype=torch.float32).view(3, 1, 1)
    return (tensor - mean) / std


def preprocess_images(images: Sequence[Image.Image], size: int) -> torch.Tensor | None:
    """A batch (N, 3, size, size) in the given order, or None when there are no images."""
    if not images:
        return None
    return torch.stack([preprocess_image(image, size) for image in images])

"""Fixed inputs for the FID tests: random Inception weights in the published layout, images.

Both are drawn with numpy's PCG64 from fixed seeds, so the same bytes can be rebuilt in another
environment (the scratch venv where torch-fidelity and clean-fid produced the reference figures
recorded in tests/test_fid_inception.py) without sharing files.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

# (height, width) of the fixed images: upscaled, downscaled, identity, non-square both ways.
SIZES = ((64, 48), (320, 400), (299, 299), (150, 500))


def random_published_weights(
    layout: Mapping[str, tuple[int, ...]], seed: int = 0
) -> dict[str, np.ndarray]:
    """float32 arrays for every name of ``layout`` (visited in sorted order), He-scaled convs.

    Batch-norm statistics are kept in a range where activations neither vanish nor explode
    through the 94 conv layers, so the features differ between images.
    """
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for name in sorted(layout):
        shape = layout[name]
        if name.endswith("running_var") or name.endswith("bn.weight"):
            value = rng.uniform(0.5, 1.5, shape)
        elif name.endswith("running_mean") or name.endswith("bias"):
            value = rng.normal(0.0, 0.1, shape)
        else:
            fan_in = int(np.prod(shape[1:]))
            value = rng.normal(0.0, np.sqrt(2.0 / fan_in), shape)
        out[name] = value.astype(np.float32)
    return out


def fixed_images(seed: int, sizes=SIZES) -> list[np.ndarray]:
    """uint8 (H, W, 3) images: smooth gradients plus noise, so resizing has work to do."""
    rng = np.random.default_rng(seed)
    images = []
    for height, width in sizes:
        y = np.linspace(0, 1, height)[:, None, None]
        x = np.linspace(0, 1, width)[None, :, None]
        phase = rng.uniform(0, 6.28, (1, 1, 3))
        base = 127.5 + 100 * np.sin(7 * x + 5 * y * rng.uniform(0.5, 2) + phase)
        noise = rng.normal(0, 25, (height, width, 3))
        images.append(np.clip(base + noise, 0, 255).astype(np.uint8))
    return images

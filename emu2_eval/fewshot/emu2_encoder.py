"""RICES features from Emu2's own image encoder (EVA-02-CLIP-E-plus), out of an Emu2 checkpoint.

Only the vision tower is built, and only its tensors (``model.visual.*``) are read from the
checkpoint's shards (each moved to its device and dtype as it is read), so a 37B Emu2 checkpoint
costs the encoder's ~4B parameters, not the model. A hub id is resolved as the ``emu2`` adapter
resolves it (its weight files are fetched into the Hugging Face cache); only the visual tensors
are read.
Images are preprocessed as Emu2 does (bicubic resize to the tower's size, CLIP mean/std). Emu2
drops EVA-CLIP's head, so there is no projected embedding: ``pooling: mean`` (default) averages
the patch tokens (what Emu2 pools into its visual tokens), ``pooling: cls`` takes the CLS token.
Rows are L2-normalised; which pooling, and the checkpoint fingerprint, key the feature cache.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from emu2_eval.core.prompts import ImagePart
from emu2_eval.fewshot.encoders import FeatureEncoder, _normalise, loadable_batches

logger = logging.getLogger(__name__)

POOLINGS = ("mean", "cls")
_PREFIX = "model.visual."


def load_visual_tower(directory: Path, device: str, dtype: torch.dtype):
    """The EVA tower of an Emu2 checkpoint with its published weights, nothing else loaded."""
    from emu2_eval.models.emu2.config import Emu2Config
    from emu2_eval.models.emu2.loading import (
        Emu2LoadError,
        KeyNormalizer,
        _to_target,
        open_shard,
        weight_files,
        weight_index,
    )
    from emu2_eval.models.emu2.visual import EvaVisionTransformer

    config = Emu2Config.from_pretrained(directory)
    with torch.device("meta"):  # no random init of ~4B parameters: the checkpoint's are assigned
        tower = EvaVisionTransformer(config.vision_config)
    index = weight_index(directory)
    files = weight_files(directory)
    if index is not None:  # open only the shards that hold visual tensors
        wanted = {v for k, v in index[1].items() if k.startswith((_PREFIX, "visual."))}
        files = [f for f in files if f.name in wanted]
    normalizer = KeyNormalizer()
    state: dict[str, torch.Tensor] = {}
    for file in files:
        with open_shard(file) as (names, get):
            for name in names:
                if name.startswith((_PREFIX, "visual.")):
                    for key, tensor in normalizer(name, get(name), str(file)):
                        state[key.removeprefix(_PREFIX)] = _to_target(tensor, device, dtype)
    result = tower.load_state_dict(state, strict=False, assign=True)
    problems = [f"missing {n}" for n in result.missing_keys]
    problems += [f"unexpected {_PREFIX}{n}" for n in result.unexpected_keys]
    problems += [f"unpaired {n}" for n in normalizer.leftovers()]
    if problems:
        raise Emu2LoadError(
            f"{directory}: the Emu2 visual encoder does not match its checkpoint ("
            + "; ".join(problems[:20])
            + ("; ..." if len(problems) > 20 else "")
            + ")"
        )
    return tower.to(device=device, dtype=dtype).eval(), config.vision_config.image_size


class Emu2VisualEncoder(FeatureEncoder):
    """Emu2's EVA-CLIP image features (``encoder: emu2_visual``, ``pretrained``: an Emu2
    checkpoint directory or hub id, ``pooling``: mean | cls)."""

    name = "emu2_visual"
    title = "Emu2 visual (EVA-CLIP)"

    def __init__(
        self,
        pretrained: str,
        pooling: str = "mean",
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 16,
    ) -> None:
        from emu2_eval.core.devices import resolve_device
        from emu2_eval.models.emu2.pretrained import resolve_checkpoint, resolve_dtype

        if pooling not in POOLINGS:
            raise ValueError(
                f"fewshot encoder 'emu2_visual': pooling {pooling!r} is not one of "
                f"{', '.join(POOLINGS)}"
            )
        self.pretrained = str(pretrained)
        self.pooling = pooling
        self.device = resolve_device(device)
        self.batch_size = batch_size
        self.directory = resolve_checkpoint(self.pretrained)
        self.dtype = resolve_dtype(dtype, self.device)
        self.tower, self.image_size = load_visual_tower(self.directory, self.device, self.dtype)

    @cached_property
    def _fingerprint(self) -> str:
        from emu2_eval.models.fingerprint import checkpoint_fingerprint

        settings = {"encoder": self.name, "pooling": self.pooling, "dtype": str(self.dtype)}
        return "emu2_visual-" + checkpoint_fingerprint(self.directory, settings)

    def fingerprint(self) -> str:
        """Weights (the checkpoint's files), pooling and dtype: features of another differ."""
        return self._fingerprint

    def encode(self, images: Sequence[ImagePart], progress: bool = True) -> np.ndarray:
        from emu2_eval.models.emu2.preprocess import preprocess_images

        out = np.full((len(images), self.tower.config.width), np.nan, dtype=np.float32)
        batches = loadable_batches(images, self.batch_size, "emu2 visual features", progress)
        for rows, pixels in batches:
            batch = preprocess_images(pixels, self.image_size).to(self.device, self.dtype)
            with torch.inference_mode():
                tokens = self.tower(batch).float()
            pooled = tokens[:, 1:, :].mean(dim=1) if self.pooling == "mean" else tokens[:, 0, :]
            out[rows] = _normalise(pooled.cpu().numpy())
        return out

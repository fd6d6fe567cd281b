"""The safety checker of the official Emu2-Gen pipeline, as a named option (off by default).

The published pipeline (baaivision/Emu ``Emu2/emu/diffusion.py``, ``run_safety_checker``) runs
diffusers' ``StableDiffusionSafetyChecker`` from the checkpoint's ``safety_checker/`` folder on
the decoded images, with the CLIP image processor of ``feature_extractor/``, and replaces every
flagged image with a black one. Evaluation normally scores the raw samples (the default here);
``safety_checker=true`` reproduces the pipeline's output instead. The weights are never fetched
behind the user's back: without them, enabling the option is an error that says what to get.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from emu2_eval.core.errors import UserError

CHECKER_DIR = "safety_checker"
PROCESSOR_DIR = "feature_extractor"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


class SafetyCheckerUnavailable(UserError):
    """``safety_checker=true`` but the checkpoint lacks the checker's files."""


def _missing(root: Path) -> list[str]:
    checker, processor = root / CHECKER_DIR, root / PROCESSOR_DIR
    missing = []
    if not (checker / "config.json").is_file():
        missing.append(f"{checker}/config.json")
    if not any((checker / name).is_file() for name in WEIGHT_FILES):
        missing.append(f"{checker}/{' or '.join(WEIGHT_FILES)}")
    if not (processor / "preprocessor_config.json").is_file():
        missing.append(f"{processor}/preprocessor_config.json")
    return missing


class SafetyChecker:
    """Flags images with the official checker and blacks them out, as the pipeline does."""

    def __init__(self, root: Path, device: Any = "cpu", dtype: Any = None) -> None:
        missing = _missing(root)
        if missing:
            raise SafetyCheckerUnavailable(
                f"safety_checker=true needs the official checker's files, missing: "
                f"{', '.join(missing)}. Download them with the checkpoint (e.g. "
                "`huggingface-cli download BAAI/Emu2-Gen --include 'safety_checker/*' "
                "'feature_extractor/*'`) or run with safety_checker=false (the default)"
            )
        from diffusers.pipelines.stable_diffusion.safety_checker import (
            StableDiffusionSafetyChecker,
        )
        from transformers import CLIPImageProcessor

        self.root = root
        self.model = StableDiffusionSafetyChecker.from_pretrained(root / CHECKER_DIR).eval()
        self.model.to(device=device, dtype=dtype)
        self.processor = CLIPImageProcessor.from_pretrained(root / PROCESSOR_DIR)
        self.device, self.dtype = device, dtype or self.model.dtype

    def __call__(self, pixels: np.ndarray) -> tuple[np.ndarray, list[bool]]:
        """uint8 images (N, H, W, 3) -> the same with flagged ones black, and the flags."""
        from PIL import Image

        inputs = self.processor([Image.fromarray(p) for p in pixels], return_tensors="pt")
        clip_input = inputs.pixel_values.to(device=self.device, dtype=self.dtype)
        checked, flags = self.model(clip_input=clip_input, images=pixels.copy())
        return np.asarray(checked, dtype=np.uint8), [bool(f) for f in flags]

    def describe(self) -> str:
        return (
            f"on: StableDiffusionSafetyChecker from {self.root / CHECKER_DIR} with "
            f"{self.root / PROCESSOR_DIR}; flagged images are replaced by black ones "
            "(the official pipeline's behaviour)"
        )

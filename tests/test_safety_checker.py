"""The official pipeline's safety checker as a named option: off by default, an error without
its weights, and the pipeline's behaviour (flagged images blacked out) with them."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from emu2_eval.core.errors import UserError
from emu2_eval.models.safety_checker import SafetyChecker, SafetyCheckerUnavailable


def save_tiny_checker(root: Path, threshold: float) -> Path:
    """``safety_checker/`` + ``feature_extractor/`` in the published layout, tiny, with every
    concept threshold set to ``threshold`` (cosines lie in [-1, 1]: -2 flags every image, 2
    none)."""
    from diffusers.pipelines.stable_diffusion.safety_checker import (
        StableDiffusionSafetyChecker,
    )
    from transformers import CLIPConfig, CLIPImageProcessor

    config = CLIPConfig(
        text_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                     "num_attention_heads": 2, "vocab_size": 64},
        vision_config={"image_size": 32, "patch_size": 8, "hidden_size": 16,
                       "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2},
        projection_dim=8,
    )  # fmt: skip
    torch.manual_seed(0)
    checker = StableDiffusionSafetyChecker(config)
    with torch.no_grad():
        checker.concept_embeds.normal_()
        checker.special_care_embeds.normal_()
        checker.concept_embeds_weights.fill_(threshold)
        checker.special_care_embeds_weights.fill_(2.0)
    checker.save_pretrained(root / "safety_checker")
    CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    ).save_pretrained(root / "feature_extractor")
    return root


def _pictures() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(1, 255, size=(3, 40, 40, 3), dtype=np.uint8)


def test_enabled_without_weights_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "feature_extractor").mkdir()
    with pytest.raises(SafetyCheckerUnavailable) as caught:
        SafetyChecker(tmp_path)
    message = str(caught.value)
    assert f"{tmp_path}/safety_checker/config.json" in message
    assert "preprocessor_config.json" in message and "safety_checker=false" in message
    assert isinstance(caught.value, UserError)  # the CLI prints it without a traceback


@pytest.mark.parametrize("threshold,flagged", [(-2.0, True), (2.0, False)])
def test_flagged_images_are_blacked_out_as_the_pipeline_does(
    tmp_path: Path, threshold: float, flagged: bool
) -> None:
    checker = SafetyChecker(save_tiny_checker(tmp_path, threshold))
    pictures = _pictures()
    checked, flags = checker(pictures)
    assert flags == [flagged] * 3 and checked.dtype == np.uint8
    if flagged:
        assert not checked.any()
    else:
        assert np.array_equal(checked, pictures)
    assert pictures.any()  # the caller's array is left alone
    assert "flagged images are replaced by black ones" in checker.describe()


def test_emu2_gen_safety_checker_option(tiny_emu2_gen_dir: Path, tmp_path: Path) -> None:
    from emu2_eval.core.prompts import TextPart
    from emu2_eval.core.requests import Request
    from emu2_eval.models.emu2_gen.adapter import Emu2GenAdapter

    off = Emu2GenAdapter(str(tiny_emu2_gen_dir), device="cpu")
    assert off.describe()["safety_checker"].startswith("off (default)")
    root = tmp_path / "gen"
    shutil.copytree(tiny_emu2_gen_dir, root)
    shutil.rmtree(root / "safety_checker", ignore_errors=True)
    with pytest.raises(SafetyCheckerUnavailable, match="safety_checker=true needs"):
        Emu2GenAdapter(str(root), device="cpu", safety_checker=True)
    save_tiny_checker(root, -2.0)
    on = Emu2GenAdapter(str(root), device="cpu", safety_checker=True)
    assert on.describe()["safety_checker"].startswith("on: StableDiffusionSafetyChecker")
    assert on.fingerprint() != Emu2GenAdapter(str(root), device="cpu").fingerprint()
    options = (("height", 32), ("width", 32), ("num_inference_steps", 1))
    request = Request("generate_images", (TextPart("a red block"),), "t", "d0", options)
    raw = off.generate_images([request])[0][0]
    black = on.generate_images([request])[0][0]
    assert np.asarray(raw).any() and not np.asarray(black).any()

"""``diffusers-t2i`` on a tiny Stable Diffusion pipeline saved with ``save_pretrained``."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from emu2_eval.core.prompts import ImagePart, TextPart
from emu2_eval.core.requests import Request
from emu2_eval.rundir.images import png_bytes

OPTIONS = (("height", 32), ("num_images_per_prompt", 2), ("num_inference_steps", 2), ("width", 32))


@pytest.fixture(scope="module")
def adapter(tiny_sd_dir: Path):
    from emu2_eval.models.base import build_adapter

    return build_adapter("diffusers-t2i", {"pretrained": str(tiny_sd_dir), "device": "cpu"})


def _request(text: str, doc: str) -> Request:
    return Request("generate_images", (TextPart(text),), "task", doc, OPTIONS)


def test_pipeline_defaults_are_recorded(adapter) -> None:
    info = adapter.describe()
    assert info["pipeline_class"] == "StableDiffusionPipeline"
    assert info["generation_defaults"]["num_inference_steps"] == 50
    assert info["generation_defaults"]["guidance_scale"] == 7.5
    assert info["generation_defaults"]["height"] == 16 and info["safety_checker"] is False


def test_images_are_sized_seeded_and_batch_independent(adapter, tiny_sd_dir) -> None:
    from emu2_eval.models.diffusers_t2i import DiffusersT2IAdapter

    requests = [_request("a cat", "0"), _request("a cat", "1")]
    alone = [adapter.generate_images([r])[0] for r in requests]
    assert all(im.size == (32, 32) for images in alone for im in images)
    together = adapter.generate_images(requests)
    shared = DiffusersT2IAdapter(str(tiny_sd_dir), device="cpu", batch_invariant=False)
    batched = shared.generate_images(requests)
    as_png = [[png_bytes(im) for im in images] for images in alone]
    assert [[png_bytes(im) for im in images] for images in together] == as_png
    assert [[png_bytes(im) for im in images] for images in batched] == as_png
    assert as_png[0][0] != as_png[1][0]  # same caption, other doc: other seed, other image
    assert shared.fingerprint() != adapter.fingerprint()  # batch_invariant is a setting


def test_an_image_in_the_prompt_is_a_clear_error(adapter) -> None:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="PNG")
    request = Request(
        "generate_images", (ImagePart.from_bytes(buffer.getvalue()), TextPart("x")), "t", "d"
    )
    with pytest.raises(ValueError, match=r"text only.*emu2_gen_dreambench_text"):
        adapter.generate_images([request])

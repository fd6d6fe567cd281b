"""``emu2-gen`` on a tiny random Emu2-Gen saved in the published layout."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from emu2_eval.core.prompts import ImagePart, TextPart
from emu2_eval.core.registry import MODELS
from emu2_eval.core.requests import Request
from emu2_eval.models.emu2_gen.layout import Emu2GenLayoutError, check_layout, weights_variant
from emu2_eval.models.emu2_gen.regression import regress_embeddings
from emu2_eval.models.emu2_gen.sampling import denoise, time_ids
from emu2_eval.models.image_requests import ImageSettings
from emu2_eval.rundir.images import png_bytes
from emu2_eval.tasks.profiles import PromptError

SMALL = (
    ("guidance_scale", 3.0),
    ("height", 32),
    ("num_images_per_prompt", 2),
    ("num_inference_steps", 2),
    ("width", 32),
)


@pytest.fixture(scope="module")
def adapter(tiny_emu2_gen_dir: Path):
    from emu2_eval.models.emu2_gen.adapter import Emu2GenAdapter

    return Emu2GenAdapter(str(tiny_emu2_gen_dir), device="cpu")


def _request(text: str, doc: str = "d0", options=SMALL, image: ImagePart | None = None):
    parts = ((image,) if image else ()) + ((TextPart(text),) if text else ())
    return Request("generate_images", parts, "task", doc, options)


def _png(image: Image.Image) -> bytes:
    return png_bytes(image)


def _photo(value: int = 90) -> ImagePart:
    buffer = io.BytesIO()
    Image.fromarray(np.full((40, 40, 3), value, dtype=np.uint8)).save(buffer, format="PNG")
    return ImagePart.from_bytes(buffer.getvalue())


def test_registered_and_described(adapter) -> None:
    assert MODELS.get("emu2-gen").__name__ == "Emu2GenAdapter"
    info = adapter.describe()
    assert info["generation_defaults"] == {
        "height": 1024,
        "width": 1024,
        "num_inference_steps": 50,
        "guidance_scale": 3.0,
        "num_images_per_prompt": 1,
        "seed": 0,
    }
    assert info["variants"] == {"unet": "bf16", "vae": "bf16"} and info["conditioning"] == "4 x 32"
    assert "(1024, 1024)" in info["time_ids"] and info["pipeline_class"]


def test_images_have_the_requested_size_and_are_reproducible(adapter, tiny_emu2_gen_dir) -> None:
    from emu2_eval.models.emu2_gen.adapter import Emu2GenAdapter

    first = adapter.generate_images([_request("a red dog")])[0]
    assert len(first) == 2 and all(im.size == (32, 32) and im.mode == "RGB" for im in first)
    fresh = Emu2GenAdapter(str(tiny_emu2_gen_dir), device="cpu")
    again = fresh.generate_images([_request("a red dog")])[0]
    assert [_png(a) for a in first] == [_png(b) for b in again]  # byte-identical PNGs
    assert fresh.fingerprint() == adapter.fingerprint()
    other_doc = adapter.generate_images([_request("a red dog", doc="d1")])[0]
    other_seed = adapter.generate_images([_request("a red dog", options=(*SMALL, ("seed", 1)))])[0]
    assert _png(first[0]) != _png(first[1])  # each image its own seed
    assert _png(other_doc[0]) != _png(first[0]) and _png(other_seed[0]) != _png(first[0])
    wide = adapter.generate_images(
        [_request("x", options=(("height", 16), ("width", 48), ("num_inference_steps", 1)))]
    )
    assert wide[0][0].size == (48, 16)


def test_batching_never_changes_an_image(adapter) -> None:
    requests = [_request(t, doc=str(i)) for i, t in enumerate(["a cat", "a dog on a mat", "sky"])]
    together = adapter.generate_images(requests)
    alone = [adapter.generate_images([r])[0] for r in requests]
    assert [[_png(i) for i in imgs] for imgs in together] == [[_png(i) for i in a] for a in alone]


def _published_regression(model, tokenizer, text: str, pixels=None) -> torch.Tensor:
    """The published ``generate_image`` loop, literally: re-run the whole sequence each step."""
    image_id, boi = tokenizer.token_id("<image>"), tokenizer.token_id("[IMG]")
    prompt_features = None if pixels is None else model.visual_embeddings(pixels, model.n_query)
    target = None
    for step in range(model.n_query):
        text += "[IMG]" if step == 0 else "<image>"
        ids, mask = tokenizer([text])
        embeds = model.lm.get_input_embeddings()(ids).clone()
        slots = ids == image_id
        from_right = slots.flip(1).cumsum(1).flip(1)
        if prompt_features is not None:
            embeds[slots & (from_right > step)] = prompt_features
        if target is not None:
            embeds[slots & (from_right > 0) & (from_right <= step)] = model.project_up(target)
        hidden = model.lm.model(inputs_embeds=embeds, attention_mask=mask).last_hidden_state
        outputs = slots | (ids == boi)
        from_right = outputs.flip(1).cumsum(1).flip(1)
        target = model.project_down(hidden[outputs & (from_right > 0) & (from_right <= step + 1)])
    return target.view(1, model.n_query, -1)


def test_regression_equals_the_published_loop(adapter) -> None:
    from emu2_eval.models.emu2.preprocess import preprocess_images

    with torch.no_grad():
        for parts in (
            (TextPart("a red dog on the beach"),),
            (_photo(), TextPart("in the snow")),
            (TextPart(""),),
        ):
            text, images = adapter._render(Request("generate_images", parts, "t", "d"))
            pixels = preprocess_images([i.load() for i in images], 112) if images else None
            ours = regress_embeddings(adapter.encoder, adapter.tokenizer, [text], pixels)
            theirs = _published_regression(adapter.encoder, adapter.tokenizer, text, pixels)
            assert ours.shape == (1, 4, 32)
            torch.testing.assert_close(ours, theirs, atol=2e-5, rtol=1e-4)
        batch = regress_embeddings(adapter.encoder, adapter.tokenizer, ["a", "a much longer one"])
        single = regress_embeddings(adapter.encoder, adapter.tokenizer, ["a much longer one"])
        torch.testing.assert_close(batch[1:], single, atol=2e-5, rtol=1e-4)  # left padding


class _Spy(torch.nn.Module):
    """Records what the UNet is called with (then runs it)."""

    def __init__(self, unet) -> None:
        super().__init__()
        self.unet, self.calls = unet, []

    def forward(self, sample, t, encoder_hidden_states, added_cond_kwargs):
        self.calls.append((sample.shape, encoder_hidden_states, added_cond_kwargs))
        return self.unet(
            sample,
            t,
            encoder_hidden_states=encoder_hidden_states,
            added_cond_kwargs=added_cond_kwargs,
        )


def test_guidance_uses_the_empty_prompt_and_sdxl_time_ids(adapter) -> None:
    cond, uncond = adapter._conditions([_request("a dog")], adapter.images_or_files(None))
    empty = regress_embeddings(adapter.encoder, adapter.tokenizer, [""])
    torch.testing.assert_close(uncond, empty)
    spy = _Spy(adapter.unet)
    settings = ImageSettings(32, 48, 2, 3.0)
    noise = torch.zeros(1, 4, 4, 6)
    denoise(spy, adapter.scheduler_config, cond, uncond, noise, settings)
    shape, embeds, added = spy.calls[0]
    assert len(spy.calls) == 2 and shape[0] == 2  # conditional and unconditional rows
    torch.testing.assert_close(embeds, torch.cat([cond, uncond]))
    torch.testing.assert_close(added["text_embeds"], embeds.mean(dim=1))
    assert added["time_ids"].tolist() == [[1024, 1024, 0, 0, 32, 48]] * 2
    assert time_ids((32, 48), 32, 48) == [32, 48, 0, 0, 32, 48]


def test_image_only_prompt_is_the_autoencoding_mode(adapter) -> None:
    images = adapter.generate_images([_request("", image=_photo(), options=SMALL)])[0]
    assert len(images) == 2
    from_files = adapter.images_or_files(None)
    cond, uncond = adapter._conditions([_request("", image=_photo())], from_files)
    assert cond.shape == uncond.shape == (1, 4, 32)
    two = Request("generate_images", (_photo(1), _photo(2)), "task", "d", SMALL)
    with pytest.raises(PromptError, match="exactly one image"):
        adapter.generate_images([two])
    with pytest.raises(ValueError, match="multiple of 8"):
        adapter.generate_images([_request("x", options=(("height", 20),))])


def test_layout_errors_name_what_is_missing(tiny_emu2_gen_dir, tmp_path) -> None:
    copy = tmp_path / "gen"
    shutil.copytree(tiny_emu2_gen_dir, copy)
    shutil.rmtree(copy / "unet")
    with pytest.raises(Emu2GenLayoutError, match=r"missing folder.*unet"):
        check_layout(copy)
    assert json.loads((tiny_emu2_gen_dir / "model_index.json").read_text())["unet"]
    assert weights_variant(tiny_emu2_gen_dir / "vae") == "bf16"
    (copy / "vae" / "diffusion_pytorch_model.fp16.safetensors").write_bytes(b"")
    with pytest.raises(Emu2GenLayoutError, match="choose one with variant"):
        weights_variant(copy / "vae")


def test_random_weights_need_only_the_configs(adapter, tiny_emu2_gen_dir, tmp_path) -> None:
    """Emu2-Gen's speed and memory checks without its weights: every weight file removed, the
    pipeline still builds (encoder, UNet, VAE from their configs), the same on every load,
    generates, and never shares a fingerprint with the real weights."""
    from emu2_eval.models.emu2_gen.adapter import Emu2GenAdapter

    configs_only = tmp_path / "emu2_gen_configs"
    shutil.copytree(tiny_emu2_gen_dir, configs_only)
    removed = [
        p
        for p in configs_only.rglob("*")
        if p.suffix in (".safetensors", ".bin") or "index" in p.name
    ]
    for path in removed:
        path.unlink()
    assert len(removed) >= 4  # UNet, VAE, two encoder shards (+ their indexes)
    first = Emu2GenAdapter(str(configs_only), device="cpu", random_weights=True)
    second = Emu2GenAdapter(str(configs_only), device="cpu", random_weights=True)
    for a, b in ((first.unet, second.unet), (first.vae, second.vae)):
        assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))
    assert first.describe()["weights"] == "random (seed 0)"
    assert adapter.describe()["weights"] == "checkpoint"
    assert first.fingerprint() == second.fingerprint() != adapter.fingerprint()
    image = first.generate_images([_request("a red dog")])[0][0]
    assert image.size == (32, 32)
    assert _png(image) == _png(second.generate_images([_request("a red dog")])[0][0])


def test_in_code_configs_equal_the_published_files() -> None:
    """The Emu2-Gen configs written in tests/gen_factories.py (so these tests run without
    ../shared) are the published files, key for key (only the publisher's local path differs)."""
    from tests.gen_factories import GEN_CONFIGS, PUBLISHED_CONFIGS

    if not (GEN_CONFIGS / "unet_config.json").is_file():
        pytest.skip(f"the published Emu2-Gen configs are not at {GEN_CONFIGS} (../shared)")
    for name, ours in PUBLISHED_CONFIGS.items():
        published = json.loads((GEN_CONFIGS / name).read_text(encoding="utf-8"))
        published.pop("_name_or_path", None)
        assert ours == published, name

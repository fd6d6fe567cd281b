"""Emu2 and Emu2-Gen against golden outputs of the published code (transformers 4.31).

``tests/data/emu2_reference_golden.json`` holds what baaivision/Emu's own ``EmuModel.generate``
and ``EmuVisualGeneration`` returned on tiny random checkpoints built from the seeds used here
(``scripts/make_emu2_golden.py`` made it in a scratch environment with the official code). The
decoding cases sweep the ``</s>`` row of ``lm_head`` so that the end token comes first (the
official answer is ``''``), late, or never (beams cut at ``max_new_tokens``, where 4.31 and
later transformers normalise the length differently).

Everything here runs without ``../shared``: ids, pixels and configs come from the golden file
and from closed forms; only the adapter-level check needs the real tokenizer.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from emu2_eval.core.prompts import ImagePart, TextPart
from emu2_eval.core.requests import Request
from emu2_eval.models.base import PreparedImages
from emu2_eval.models.emu2.reference_decoding import SearchSettings, SpecialIds
from tests.emu2_factories import TinyEmu2, requires_emu2_assets, synthetic_pixels

GOLDEN = json.loads(
    (Path(__file__).parent / "data" / "emu2_reference_golden.json").read_text(encoding="utf-8")
)
IDS = SpecialIds(bos=1, eos=2, pad=32000)
EOS_ID = 2


@pytest.fixture(scope="module")
def models() -> dict[str, torch.nn.Module]:
    return {variant: TinyEmu2(variant).build() for variant in ("base", "chat")}


def _images_of(variant: str, prompt_index: list[int]) -> torch.Tensor:
    """The pixels the golden run gave these prompts (all of the variant's images, in order)."""
    prompts = GOLDEN["prompts"][variant]
    counts = [p.count("[<IMG_PLH>]") for p in prompts]
    pixels = synthetic_pixels(sum(counts), TinyEmu2(variant).config().vision_config.image_size)
    starts = [sum(counts[:i]) for i in range(len(counts))]
    return torch.cat([pixels[starts[i] : starts[i] + counts[i]] for i in prompt_index])


def _with_eos_row(model: torch.nn.Module, key: str | None):
    """Context: ``lm_head``'s ``</s>`` row replaced by the golden case's row."""

    class _Swap:
        def __enter__(self) -> None:
            self.saved = model.lm.lm_head.weight[EOS_ID].clone()
            if key is not None:
                with torch.no_grad():
                    model.lm.lm_head.weight[EOS_ID] = torch.tensor(GOLDEN["eos_rows"][key])

        def __exit__(self, *exc: object) -> None:
            with torch.no_grad():
                model.lm.lm_head.weight[EOS_ID] = self.saved

    return _Swap()


def _generate(model, case: dict, decoding: str = "emu2_reference") -> list[list[int]]:
    inputs = GOLDEN["inputs"][case["inputs"]]
    settings = dict(GOLDEN["decodings"][case["decoding"]])
    settings["min_length"] = settings.pop("min_len")
    if settings["num_beams"] == 1:
        settings.pop("length_penalty")
    with _with_eos_row(model, case["eos"]):
        output = model.generate(
            torch.tensor(inputs["input_ids"]),
            torch.tensor(inputs["attention_mask"]),
            pixel_values=_images_of(inputs["variant"], inputs["prompt_index"]),
            decoding=decoding,
            special_ids=IDS,
            **settings,
        )
    return output.tolist()


def _kind(sequence: list[int]) -> str:
    new = sequence[1:]
    if new[:1] == [EOS_ID]:
        return "eos_first"
    return "eos_late" if EOS_ID in new else "cut"


@pytest.mark.parametrize("case", GOLDEN["cases"], ids=[c["name"] for c in GOLDEN["cases"]])
def test_generated_ids_equal_the_published_code(models, case) -> None:
    model = models[GOLDEN["inputs"][case["inputs"]]["variant"]]
    with torch.inference_mode():
        assert _generate(model, case) == case["sequences"]


def test_golden_cases_cover_every_end_token_position() -> None:
    """EOS first / late / never, for greedy and beam, single and batched, base and chat."""
    seen = set()
    for case in GOLDEN["cases"]:
        inputs = GOLDEN["inputs"][case["inputs"]]
        batched = len(inputs["prompt_index"]) > 1
        search = "greedy" if GOLDEN["decodings"][case["decoding"]]["num_beams"] == 1 else "beam"
        for sequence in case["sequences"]:
            seen.add((inputs["variant"], search, batched, _kind(sequence)))
    for variant in ("base", "chat"):
        for search in ("greedy", "beam"):
            for batched in (False, True):
                for kind in ("eos_first", "eos_late", "cut"):
                    assert (variant, search, batched, kind) in seen


def test_eos_first_gives_the_empty_answer_like_the_published_code(models) -> None:
    """min_length=1 counts 4.31's dummy <s>: an immediate </s> is allowed (answer '')."""
    first = [c for c in GOLDEN["cases"] if all(_kind(s) == "eos_first" for s in c["sequences"])]
    assert {GOLDEN["decodings"][c["decoding"]]["num_beams"] for c in first} == {1, 5}
    for case in first:
        assert case["texts"] == [""] * len(case["sequences"])
        model = models[GOLDEN["inputs"][case["inputs"]]["variant"]]
        with torch.inference_mode():
            assert _generate(model, case) == case["sequences"]


@pytest.mark.parametrize("key", sorted(GOLDEN["inputs"]))
def test_last_position_logits_equal_the_published_code(models, key) -> None:
    inputs = GOLDEN["inputs"][key]
    if "last_logits" not in inputs:
        pytest.skip("no logits recorded for these inputs")
    want = inputs["last_logits"]
    model = models[inputs["variant"]]
    with torch.inference_mode():
        logits = model(
            torch.tensor(inputs["input_ids"]),
            torch.tensor(inputs["attention_mask"]),
            pixel_values=_images_of(inputs["variant"], inputs["prompt_index"]),
        )[:, -1, :].float()
    top = logits.topk(10, dim=-1)
    assert top.indices.tolist() == want["top_ids"]
    close = {"atol": 1e-4, "rtol": 0.0}
    torch.testing.assert_close(top.values, torch.tensor(want["top_values"]), **close)
    torch.testing.assert_close(logits[:, EOS_ID], torch.tensor(want["eos"]), **close)
    logsumexp = torch.logsumexp(logits, -1)
    torch.testing.assert_close(logsumexp, torch.tensor(want["logsumexp"]), **close)


def test_search_settings_refuse_what_the_reference_search_lacks() -> None:
    with pytest.raises(ValueError, match=r"repetition_penalty.*decoding=transformers"):
        SearchSettings.from_options({"repetition_penalty": 1.2})
    with pytest.raises(ValueError, match="do_sample"):
        SearchSettings.from_options({"do_sample": True})
    assert SearchSettings.from_options({}).max_length == 11  # 10 new tokens + the dummy <s>


# -- Emu2-Gen ----------------------------------------------------------------------------------
GEN = GOLDEN["generation"]


@pytest.fixture(scope="module")
def gen_parts():
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from gen_factories import seeded

    unet = seeded(UNet2DConditionModel.from_config(GEN["unet_config"]), 1)
    vae = seeded(AutoencoderKL.from_config(GEN["vae_config"]), 2, 0.1)
    return TinyEmu2("base").build(), unet, vae


@pytest.mark.parametrize("case", GEN["cases"], ids=lambda c: repr(c["prompt"]))
def test_emu2_gen_embeddings_latents_and_image_equal_the_published_code(gen_parts, case) -> None:
    from emu2_eval.models.emu2_gen.regression import autoencode_embeddings, regress_from_ids
    from emu2_eval.models.emu2_gen.sampling import decode_to_uint8, denoise
    from emu2_eval.models.image_requests import ImageSettings

    encoder, unet, vae = gen_parts
    images = [x for x in case["prompt"] if isinstance(x, int)]
    pixels = synthetic_pixels(max(images, default=0) + 1, 112)[images] if images else None
    ids = torch.tensor(case["input_ids"])
    if images and len(case["prompt"]) == 1:  # autoencoding: pooled EVA features
        cond = autoencode_embeddings(encoder, pixels)
        uncond = autoencode_embeddings(encoder, torch.zeros_like(pixels))
    else:
        cond = regress_from_ids(encoder, ids, torch.ones_like(ids), pixels)
        empty = torch.tensor(case["empty_input_ids"])
        uncond = regress_from_ids(encoder, empty, torch.ones_like(empty))
    torch.testing.assert_close(cond, torch.tensor(case["cond"]), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(uncond, torch.tensor(case["uncond"]), atol=1e-4, rtol=1e-4)
    settings = ImageSettings(
        height=GEN["settings"]["height"],
        width=GEN["settings"]["width"],
        num_inference_steps=GEN["settings"]["num_inference_steps"],
        guidance_scale=GEN["settings"]["guidance_scale"],
    )
    latents = denoise(
        unet, GEN["scheduler_config"], cond, uncond, torch.tensor(GEN["noise"]), settings
    )
    torch.testing.assert_close(latents, torch.tensor(case["latents"]), atol=1e-4, rtol=1e-4)
    image = torch.from_numpy(decode_to_uint8(vae, latents)).int()
    assert (image - torch.tensor(case["image_uint8"]).int()).abs().max() <= 1


# -- the adapter, end to end (needs the real tokenizer) ----------------------------------------
@requires_emu2_assets
@pytest.mark.parametrize("decoding", ["greedy", "beam5"])
def test_adapter_answers_like_the_published_code(tiny_emu2_llama_adapter, decoding) -> None:
    """Rendering, tokenisation, decoding and detokenisation together, single and batched."""
    adapter = tiny_emu2_llama_adapter
    prompts = GOLDEN["prompts"]["base"]
    counts = [p.count("[<IMG_PLH>]") for p in prompts]
    pixels = synthetic_pixels(sum(counts), adapter.config.vision_config.image_size)
    requests, decoded, image = [], {}, 0
    for index, text in enumerate(prompts):
        parts: list = []
        for piece_index, piece in enumerate(text.split("[<IMG_PLH>]")):
            if piece_index:
                key = f"golden-{image}"
                parts.append(ImagePart(key=key, data=b"unused"))
                decoded[key] = pixels[image]
                image += 1
            if piece:
                parts.append(TextPart(piece))
        settings = dict(GOLDEN["decodings"][decoding])
        settings["min_length"] = settings.pop("min_len")
        requests.append(
            Request("generate", tuple(parts), "t", str(index), tuple(sorted(settings.items())))
        )
    checked = 0
    for eos in sorted({c["eos"] for c in GOLDEN["cases"] if c["eos"] and "base" in c["eos"]}):
        cases = {
            c["inputs"]: c["texts"]
            for c in GOLDEN["cases"]
            if c["eos"] == eos and c["decoding"] == decoding
        }
        if set(cases) != {"base-p0", "base-p1", "base-p2", "base-p012"}:
            continue  # a setting recorded for one prompt only
        checked += 1
        images = PreparedImages(decoded)  # the pixels as the prefetch workers hand them over
        with _with_eos_row(adapter.model, eos):
            single = [adapter.generate([r], images)[0] for r in requests]
            batched = adapter.generate(requests, images)
        assert single == [cases[f"base-p{i}"][0] for i in range(len(prompts))], eos
        assert batched == cases["base-p012"], eos
    assert checked >= 9

"""Emu2 computation on a tiny checkpoint: visual path, batching, generate vs loglikelihood."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from PIL import Image

from emu2_eval.core.prompts import ImagePart, TextPart
from emu2_eval.core.requests import Request
from emu2_eval.models.emu2.config import Emu2VisionConfig
from emu2_eval.models.emu2.constants import CLIP_MEAN, CLIP_STD
from emu2_eval.models.emu2.preprocess import preprocess_image
from emu2_eval.models.emu2.visual import EvaBlock


@pytest.fixture(scope="module")
def images(demo_dir: Path) -> list[ImagePart]:
    files = sorted((demo_dir / "images" / "val2014").glob("*.jpg"))
    return [ImagePart.from_file(f) for f in files[:3]]


def _requests(images: list[ImagePart], options: tuple = ()) -> list[Request]:
    one, two, three = images
    prompts = [
        (one, TextPart("based on the picture, what color is the shape? short answer:")),
        (TextPart("a photo"), one, TextPart(" and "), two, TextPart("how many shapes?")),
        (three, TextPart("is there a circle in the picture? short answer:")),
        (TextPart("no image here, answer:"),),
    ]
    return [Request("generate", p, "t", str(i), options) for i, p in enumerate(prompts)]


@pytest.mark.parametrize("num_beams", [1, 5])
def test_a_batch_answers_like_one_request_at_a_time(tiny_emu2_adapter, images, num_beams) -> None:
    requests = _requests(images, (("num_beams", num_beams), ("max_new_tokens", 6)))
    batched = tiny_emu2_adapter.generate(requests)
    single = [tiny_emu2_adapter.generate([r])[0] for r in requests]
    assert batched == single
    assert len(set(batched)) == len(batched)  # different prompts, different answers


def test_published_defaults_apply_unless_the_task_sets_its_own(
    tiny_emu2_adapter, images, monkeypatch
) -> None:
    seen: list[dict] = []
    real = tiny_emu2_adapter.model.generate

    def spy(*args, **kwargs):
        seen.append(kwargs)
        return real(*args, **{**kwargs, "max_new_tokens": 1, "num_beams": 1})

    monkeypatch.setattr(tiny_emu2_adapter.model, "generate", spy)
    tiny_emu2_adapter.generate(_requests(images)[:1])
    tiny_emu2_adapter.generate(_requests(images, (("num_beams", 1), ("max_new_tokens", 3)))[:1])
    defaults, task = seen
    assert defaults["num_beams"] == 5 and defaults["max_new_tokens"] == 10
    assert defaults["length_penalty"] == -1 and defaults["do_sample"] is False
    # the published min_length=1, kept as min_length: under the reference semantics it counts
    # the dummy <s> and so allows an immediate </s> (see test_emu2_reference_decoding.py)
    assert defaults["min_length"] == 1 and "min_new_tokens" not in defaults
    assert defaults["decoding"] == "emu2_reference"
    assert task["num_beams"] == 1 and task["max_new_tokens"] == 3
    assert task["special_ids"].pad == 32000


def test_loglikelihood_agrees_with_greedy_generation(tiny_emu2_adapter, images) -> None:
    adapter = tiny_emu2_adapter
    prompt = (images[0], TextPart("based on the picture, what color is the shape? short answer:"))
    text, _ = adapter.render(prompt)
    input_ids, mask = adapter.tokenizer([text])
    pixels = adapter._pixels([images[0]], adapter.images_or_files(None))
    with torch.inference_mode():
        out = adapter.model.generate(
            input_ids,
            mask,
            pixel_values=pixels,
            decoding="transformers",  # the installed generate, for its output_scores
            max_new_tokens=1,
            num_beams=1,
            do_sample=False,
            output_scores=True,
            return_dict_in_generate=True,
            pad_token_id=32000,
        )
    first = torch.log_softmax(out.scores[0][0].float(), dim=-1)
    greedy = int(out.sequences[0, 0])
    greedy_text = adapter.tokenizer.sp.id_to_piece(greedy).replace("\u2581", " ")
    words = [greedy_text, " yes", " no", " red", " blue", " two", " cat", " the"]
    ids = [adapter.tokenizer.encode_continuation(text, w) for w in words]
    assert all(len(i) == 1 for i in ids) and ids[0] == [greedy]
    request = Request("loglikelihood", prompt, "t", "d", continuations=tuple(words))
    scores = adapter.loglikelihood([request])[0]
    assert max(range(len(words)), key=scores.__getitem__) == 0  # the greedy token wins
    expected = [float(first[i[0]]) for i in ids]
    assert scores == pytest.approx(expected, abs=1e-4)
    # a multi-token continuation is the sum over its tokens
    two = adapter.loglikelihood([Request("loglikelihood", prompt, "t", "d", (), (" red blue",))])
    assert two[0][0] < scores[3]


def test_images_change_the_answer_and_slots_must_match(tiny_emu2_adapter, images) -> None:
    model, tokenizer = tiny_emu2_adapter.model, tiny_emu2_adapter.tokenizer
    text, _ = tiny_emu2_adapter.render((images[0], TextPart("what is it?")))
    ids, mask = tokenizer([text])
    from_files = tiny_emu2_adapter.images_or_files(None)
    pixels = [tiny_emu2_adapter._pixels([image], from_files) for image in images[:2]]
    with torch.inference_mode():
        first, second = (model(ids, mask, pixel_values=p)[0, -1] for p in pixels)
        assert not torch.allclose(first, second)
        with pytest.raises(ValueError, match="4 <image> slots but 2 image"):
            model(ids, mask, pixel_values=torch.cat(pixels))


def test_eva_block_is_post_norm_with_exact_gelu() -> None:
    config = Emu2VisionConfig(
        image_size=28, patch_size=14, width=16, layers=1, head_width=8, mlp_ratio=2.0, n_query=4
    )
    torch.manual_seed(0)
    block = EvaBlock(config).eval()
    for p in block.parameters():
        torch.nn.init.normal_(p, std=0.3)
    x = torch.randn(2, 5, 16)
    qkv = block.attn.qkv(x).reshape(2, 5, 3, 2, 8).permute(2, 0, 3, 1, 4)
    weights = (qkv[0] @ qkv[1].transpose(-1, -2) / math.sqrt(8)).softmax(-1)
    attn = block.attn.proj((weights @ qkv[2]).transpose(1, 2).reshape(2, 5, 16))
    h = x + block.norm1(attn)
    fc1 = block.mlp.fc1(h)
    gelu = 0.5 * fc1 * (1 + torch.erf(fc1 / math.sqrt(2)))
    expected = h + block.norm2(block.mlp.fc2(gelu))
    assert torch.allclose(block(x), expected, atol=1e-5)


def test_preprocessing_resizes_without_crop_and_normalises() -> None:
    image = Image.new("RGB", (300, 120), (255, 0, 128))
    pixels = preprocess_image(image, 112)
    assert pixels.shape == (3, 112, 112) and pixels.dtype == torch.float32
    expected = [
        (v / 255 - m) / s for v, m, s in zip((255, 0, 128), CLIP_MEAN, CLIP_STD, strict=True)
    ]
    assert pixels.mean(dim=(1, 2)).tolist() == pytest.approx(expected, abs=1e-5)

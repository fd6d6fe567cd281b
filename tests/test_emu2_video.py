"""Video prompts for Emu2-Chat against the published code (``tests/data/emu2_video_golden.json``).

The golden file holds what baaivision/Emu's ``EmuChatGeneration._prepare_chat_inputs`` and
``EmuModel.generate`` made of chat messages with a video on the tiny Emu2-Chat of
``tests/emu2_factories.py`` (``scripts/make_emu2_video_golden.py``): the prompt text, the token
ids, where the frame features land, those features and the generated ids. The text, positions,
features and decoding checks run without ``../shared``; the token ids of the harness's own
rendering need the real tokenizer and skip (visibly) without it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from emu2_factories import TinyEmu2, requires_emu2_assets, synthetic_pixels
from PIL import Image

from emu2_eval.core.prompts import ImagePart, Part, TextPart, VideoPart
from emu2_eval.models.emu2.modeling import VIDEO_TOKEN_ID
from emu2_eval.models.emu2.prompting import (
    chat_prompt,
    expand_placeholders,
    render_parts,
    system_message,
)
from emu2_eval.models.emu2.reference_decoding import SpecialIds

GOLDEN = json.loads(
    (Path(__file__).parent / "data" / "emu2_video_golden.json").read_text(encoding="utf-8")
)
CASES = sorted(GOLDEN["cases"])
SPECIAL = r"\[USER\]|\[ASSISTANT\]|\[VIDEO\]|\[<VID_PLH>\]|\[<IMG_PLH>\]"


def _frame_dir(root: Path, name: str, n: int) -> Path:
    directory = root / name
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new("RGB", (8, 8), (30 * i, 0, 0)).save(directory / f"{i:03d}.png")
    return directory


def _parts(message: list, root: Path) -> tuple[Part, ...]:
    """The golden message as harness parts: a frame run becomes one VideoPart (all frames)."""
    parts: list[Part] = []
    frames = 0
    for item in message:
        if item == "[VIDEO]":
            frames = 0
        elif item == "[/VIDEO]":
            video = _frame_dir(root, f"video{len(parts)}", frames)
            parts.append(VideoPart.from_path(video, key=video.name, frames=frames))
        elif isinstance(item, str):
            parts.append(TextPart(item))
        elif item[0] == "frame":
            frames += 1
        else:
            parts.append(ImagePart.from_bytes(b"image %d" % item[1]))
    return tuple(parts)


def _harness_text(parts: tuple[Part, ...]) -> str:
    text, _, _ = render_parts(parts)
    return chat_prompt(text, system_message("detailed"))


def _pixels(message: list, kind: str) -> torch.Tensor | None:
    size = TinyEmu2("chat").config().vision_config.image_size
    every = synthetic_pixels(1 + max(x[1] for x in message if isinstance(x, list)), size)
    chosen = [x[1] for x in message if isinstance(x, list) and x[0] == kind]
    return every[chosen] if chosen else None


@pytest.fixture(scope="module")
def chat_model() -> torch.nn.Module:
    return TinyEmu2("chat").build()


@pytest.mark.parametrize("name", CASES)
def test_video_prompt_text_is_the_published_one(name: str, tmp_path: Path) -> None:
    """Same special tokens in the same order, same text between them: ``[VIDEO]`` and one frame
    placeholder per frame, ``[/VIDEO]`` not written. Only whitespace next to special tokens
    differs (the HF template vs the native one), which the reference tokenisation drops."""
    case = GOLDEN["cases"][name]
    ours = _harness_text(_parts(case["message"], tmp_path))
    assert "[/VIDEO]" not in ours and "[/VIDEO]" not in case["prompt"]

    def squeeze(text: str) -> str:
        return re.sub(rf"\s*({SPECIAL})\s*", r"\1", text)

    assert squeeze(ours) == squeeze(case["prompt"])
    frames = sum(1 for x in case["message"] if isinstance(x, list) and x[0] == "frame")
    assert ours.count("[<VID_PLH>]") == frames


@pytest.mark.parametrize("name", CASES)
def test_expanded_video_slots_match_the_published_positions(name: str, tmp_path: Path) -> None:
    """Per frame ``[IMG]`` + ``[gIMG]`` x v_query + ``[/IMG]``: the golden ids hold exactly as
    many ``[gIMG]`` slots, grouped v_query at a time, as the harness expansion writes."""
    case = GOLDEN["cases"][name]
    v_query = GOLDEN["vision"]["v_query"]
    text = expand_placeholders(_harness_text(_parts(case["message"], tmp_path)), 16, v_query)
    frames = sum(1 for x in case["message"] if isinstance(x, list) and x[0] == "frame")
    assert text.count("[gIMG]") == len(case["video_positions"]) == frames * v_query
    ids = torch.tensor(case["input_ids"])
    assert (ids == VIDEO_TOKEN_ID).nonzero().flatten().tolist() == case["video_positions"]
    for start in range(0, len(case["video_positions"]), v_query):
        run = case["video_positions"][start : start + v_query]
        assert run == list(range(run[0], run[0] + v_query))
        assert case["input_ids"][run[0] - 1] == 32001 and case["input_ids"][run[-1] + 1] == 32002


@pytest.mark.parametrize("name", CASES)
def test_frame_features_land_where_the_published_code_puts_them(name, chat_model) -> None:
    """Frames encoded with n_query = v_query, projected, written at the ``[gIMG]`` slots."""
    case = GOLDEN["cases"][name]
    ids = torch.tensor([case["input_ids"]])
    with torch.no_grad():
        embeds = chat_model.embed_inputs(
            ids,
            pixel_values=_pixels(case["message"], "image"),
            video_pixel_values=_pixels(case["message"], "frame"),
        )
    got = embeds[0, case["video_positions"]]
    torch.testing.assert_close(got, torch.tensor(case["video_rows"]), atol=2e-4, rtol=1e-4)
    # and they are not the features of an image (n_query tokens pooled differently)
    assert chat_model.n_query != chat_model.v_query


@pytest.mark.parametrize("decoding", sorted(GOLDEN["decodings"]))
@pytest.mark.parametrize("name", CASES)
def test_video_generation_equals_the_published_code(name, decoding, chat_model) -> None:
    case = GOLDEN["cases"][name]
    settings = dict(GOLDEN["decodings"][decoding])
    settings["min_length"] = settings.pop("min_len")
    if settings["num_beams"] == 1:
        settings.pop("length_penalty")
    ids = torch.tensor([case["input_ids"]])
    output = chat_model.generate(
        ids,
        torch.ones_like(ids),
        pixel_values=_pixels(case["message"], "image"),
        video_pixel_values=_pixels(case["message"], "frame"),
        special_ids=SpecialIds(bos=1, eos=2, pad=32000),
        **settings,
    )
    assert output.tolist() == case["decodings"][decoding]["sequences"]


@requires_emu2_assets
@pytest.mark.parametrize("name", CASES)
def test_adapter_token_ids_of_a_video_prompt_equal_the_published_ids(
    name: str, tiny_emu2_chat_llama_dir: Path, tmp_path: Path
) -> None:
    """The must-show: the Emu2-Chat adapter's ids for a video prompt, on the tiny checkpoint."""
    from emu2_eval.models.emu2.adapter import Emu2Adapter

    adapter = Emu2Adapter(
        pretrained=str(tiny_emu2_chat_llama_dir), device="cpu", system_message="detailed"
    )
    case = GOLDEN["cases"][name]
    ids, _ = adapter.encode_prompt(_parts(case["message"], tmp_path))
    assert ids == case["input_ids"]
    positions = [i for i, token in enumerate(ids) if token == adapter.model.video_token_id]
    assert positions == case["video_positions"]


def test_adapter_generates_from_a_video_as_the_model_does_from_its_frames(
    tiny_emu2_chat_dir: Path, tmp_path: Path
) -> None:
    """The adapter's video path: frames preprocessed like images, encoded with v_query tokens
    each and written at the ``[gIMG]`` slots; its answer is the model's on those inputs."""
    from emu2_eval.core.requests import Request
    from emu2_eval.models.emu2.adapter import Emu2Adapter

    adapter = Emu2Adapter(pretrained=str(tiny_emu2_chat_dir), device="cpu")
    video = VideoPart.from_path(_frame_dir(tmp_path, "clip", 6), key="clip", frames=3)
    prompt = (video, TextPart("What happens?"))
    options = (("max_new_tokens", 4), ("num_beams", 1))
    (answer,) = adapter.generate([Request("generate", prompt, "t", "1", options)])
    ids, images = adapter.encode_prompt(prompt)
    assert images == [] and ids.count(adapter.model.video_token_id) == 3 * 4
    from_files = adapter.images_or_files(None)  # what a direct call reads: files, prepared
    frames = torch.stack([from_files.load(f) for f in video.frame_parts()])
    output = adapter.model.generate(
        torch.tensor([ids]), torch.ones(1, len(ids), dtype=torch.long),
        video_pixel_values=frames, max_new_tokens=4, num_beams=1,
        special_ids=SpecialIds(bos=1, eos=2, pad=32000),
    )  # fmt: skip
    assert answer == adapter.tokenizer.decode(output[0].tolist())
    with pytest.raises(ValueError, match=r"0 \[gIMG\] slots but 3 video frame"):
        adapter.model.embed_inputs(torch.tensor([[1, 2]]), video_pixel_values=frames)

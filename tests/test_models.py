"""Model adapters on tiny random checkpoints saved in the real transformers layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from emu2_eval.core.prompts import ImagePart, TextPart
from emu2_eval.core.registry import UnknownNameError
from emu2_eval.core.requests import Request
from emu2_eval.models.base import build_adapter, parse_model_args
from tests.model_factories import build_tiny_idefics3


def _requests(demo_dir: Path, kind: str = "generate") -> list[Request]:
    images = sorted((demo_dir / "images" / "val2014").glob("*.jpg"))
    one, two = ImagePart.from_file(images[0]), ImagePart.from_file(images[1])
    options = (("max_new_tokens", 4),)
    return [
        Request(kind, (one, TextPart("what color is the shape? short answer:")), "t", "a", options),
        Request(
            kind,
            (TextPart("a picture"), one, TextPart("and"), two, TextPart("how many?")),
            "t",
            "b",
            options,
        ),
        Request(
            kind,
            (two, TextPart("is there a circle in the picture? short answer:")),
            "t",
            "c",
            options,
        ),
    ]


def test_tiny_checkpoint_is_a_real_transformers_checkpoint(tiny_model_dir: Path) -> None:
    from transformers import AutoModelForImageTextToText, AutoProcessor

    assert (tiny_model_dir / "config.json").is_file()
    assert (tiny_model_dir / "model.safetensors").is_file()
    model = AutoModelForImageTextToText.from_pretrained(tiny_model_dir)
    processor = AutoProcessor.from_pretrained(tiny_model_dir)
    assert type(model).__name__ == "LlavaForConditionalGeneration"
    assert processor.image_token == "<image>"


def test_tiny_checkpoint_is_reproducible(tmp_path: Path, tiny_model_dir: Path) -> None:
    """Same seed and config give byte-identical weights, so fingerprints agree across machines."""
    from emu2_eval.models.fingerprint import checkpoint_fingerprint
    from emu2_eval.models.tiny_vlm import build_tiny_checkpoint

    build_tiny_checkpoint(tmp_path)
    assert (tmp_path / "model.safetensors").read_bytes() == (
        tiny_model_dir / "model.safetensors"
    ).read_bytes()
    assert checkpoint_fingerprint(tmp_path, {}) == checkpoint_fingerprint(tiny_model_dir, {})


@pytest.mark.parametrize("family", ["llava", "idefics3"])
def test_batched_generation_equals_one_at_a_time(family, demo_dir, tiny_model_dir, tmp_path):
    from emu2_eval.models.hf_vlm import HFVisionLanguageAdapter

    path = tiny_model_dir if family == "llava" else build_tiny_idefics3(tmp_path)
    adapter = HFVisionLanguageAdapter(pretrained=str(path), device="cpu")
    requests = _requests(demo_dir)
    batched = adapter.generate(requests)
    single = [adapter.generate([r])[0] for r in requests]
    assert batched == single
    assert all(isinstance(text, str) for text in batched)
    assert adapter.describe()["model_class"].lower().startswith(family)


def test_render_puts_one_image_token_per_image(tiny_adapter, demo_dir) -> None:
    request = _requests(demo_dir)[1]
    text, images = tiny_adapter.render(request.prompt)
    assert text == "a picture<image>and<image>how many?"
    assert len(images) == 2


def test_loglikelihood_is_consistent_with_greedy_generation(tiny_adapter, demo_dir) -> None:
    """The greedy first token must be the most likely single-token continuation."""
    base = _requests(demo_dir)[0]
    first = tiny_adapter.generate(
        [Request("generate", base.prompt, "t", "x", (("max_new_tokens", 1),))]
    )[0].strip()
    candidates = [first] + [w for w in ("red", "blue", "yes", "no") if w != first]
    scores = tiny_adapter.loglikelihood(
        [Request("loglikelihood", base.prompt, "t", "x", continuations=tuple(candidates))]
    )[0]
    assert len(scores) == len(candidates)
    assert all(s < 0 for s in scores)
    assert max(range(len(scores)), key=scores.__getitem__) == 0


def test_fingerprint_changes_with_settings(tiny_model_dir) -> None:
    from emu2_eval.models.fingerprint import checkpoint_fingerprint

    assert checkpoint_fingerprint(tiny_model_dir, {"dtype": "float32"}) != checkpoint_fingerprint(
        tiny_model_dir, {"dtype": "bfloat16"}
    )


def test_model_args_parsing() -> None:
    assert parse_model_args("pretrained=/x/y,dtype=bfloat16,batch=4,flag=true,t=0.5") == {
        "pretrained": "/x/y",
        "dtype": "bfloat16",
        "batch": 4,
        "flag": True,
        "t": 0.5,
    }
    with pytest.raises(ValueError, match="key=value"):
        parse_model_args("pretrained")


def test_unknown_model_and_arguments_are_named() -> None:
    from emu2_eval.core.registry import MODELS

    with pytest.raises(UnknownNameError) as info:
        build_adapter("tiny-vml", {})
    assert "did you mean tiny-vlm" in str(info.value)
    assert "valid models: " + ", ".join(MODELS.names()) in str(info.value)
    with pytest.raises(ValueError, match="does not accept argument\\(s\\) colour"):
        build_adapter("tiny-vlm", {"colour": "red"})
    with pytest.raises(ValueError, match="needs argument\\(s\\) pretrained"):
        build_adapter("hf-vlm", {})


def test_missing_checkpoint_directory_is_a_clear_error(tmp_path) -> None:
    from emu2_eval.models.hf_vlm import HFVisionLanguageAdapter

    with pytest.raises(OSError):
        HFVisionLanguageAdapter(pretrained=str(tmp_path / "nope"), device="cpu")

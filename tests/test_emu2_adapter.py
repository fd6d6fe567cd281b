"""The ``emu2`` adapter inside the harness: end-to-end run, identity, Emu2-Chat prompting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emu2_eval.prompts import ImagePart, TextPart
from emu2_eval.registry import MODELS
from emu2_eval.requests import Request
from tests.emu2_factories import (  # noqa: F401
    TinyEmu2,
    tiny_emu2_chat_dir_fixture,
    tiny_emu2_dir_fixture,
)


def test_adapters_are_registered() -> None:
    assert MODELS.get("emu2").__name__ == "Emu2Adapter"
    assert MODELS.get("emu2-remote").__name__ == "Emu2RemoteAdapter"


def test_evaluate_demo_vqa_end_to_end(tiny_emu2_dir: Path, tmp_path: Path) -> None:
    from emu2_eval.engine.evaluate import evaluate

    out = tmp_path / "run"
    args = {"pretrained": str(tiny_emu2_dir), "device": "cpu"}
    results = evaluate("emu2", args, ["demo_vqa"], out, limit=4, progress=False)
    block = results["tasks"]["demo_vqa"]
    assert block["n_computed"] == 4 and block["n_cached"] == 0
    info = results["model"]["info"]
    assert info["adapter"] == "emu2" and info["tokenization"] == "reference"
    assert info["variant"] == "base" and info["n_query"] == 4 and info["dtype"] == "float32"
    rows = [json.loads(line) for line in (out / "samples_demo_vqa.jsonl").read_text().splitlines()]
    assert len(rows) == 4
    assert json.loads((out / "results.json").read_text())["model"]["fingerprint"]
    again = evaluate("emu2", args, ["demo_vqa"], out, limit=4, progress=False)  # from the cache
    assert again["tasks"]["demo_vqa"]["n_cached"] == 4


def test_fingerprint_follows_weights_and_settings(tiny_emu2_dir: Path, tmp_path: Path) -> None:
    from emu2_eval.models.emu2.adapter import Emu2Adapter

    reference = Emu2Adapter(str(tiny_emu2_dir), device="cpu")
    fast = Emu2Adapter(str(tiny_emu2_dir), device="cpu", tokenization="fast")
    rebuilt = Emu2Adapter(str(TinyEmu2().save(tmp_path)), device="cpu")
    assert reference.fingerprint() == rebuilt.fingerprint()  # same seed, same bytes
    assert reference.fingerprint() != fast.fingerprint()
    assert fast.describe()["tokenization"] == "fast"


def test_chat_variant_uses_its_template_and_system_message(tiny_emu2_chat_dir: Path) -> None:
    from emu2_eval.models.base import build_adapter

    adapter = build_adapter("emu2", {"pretrained": str(tiny_emu2_chat_dir), "device": "cpu"})
    assert adapter.variant == "chat" and adapter.config.vision_config.n_query == 16
    image = ImagePart.from_bytes(_png())
    text, _ = adapter.render((image, TextPart("what is it?")))
    assert text.startswith("You are a helpful assistant, dedicated to provide concise")
    assert text.endswith("[USER]: [IMG]" + "<image>" * 16 + "[/IMG]what is it?[ASSISTANT]:")
    ids = adapter.tokenizer.encode(text)
    assert 32272 in ids and ids[-2:] == [32273, 584] and ids.count(32003) == 16
    answer = adapter.generate(
        [
            Request(
                "generate",
                (image, TextPart("what is it?")),
                "t",
                "0",
                (("num_beams", 1), ("max_new_tokens", 3)),
            )
        ]
    )
    assert isinstance(answer[0], str)
    detailed = build_adapter(
        "emu2",
        {"pretrained": str(tiny_emu2_chat_dir), "device": "cpu", "system_message": "detailed"},
    )
    assert "comprehensive and meticulous" in detailed.render((TextPart("hi"),))[0]
    assert detailed.fingerprint() != adapter.fingerprint()


def test_bad_arguments_are_named(tiny_emu2_dir: Path) -> None:
    from emu2_eval.models.base import build_adapter

    with pytest.raises(ValueError, match="variant 'large'"):
        build_adapter("emu2", {"pretrained": str(tiny_emu2_dir), "variant": "large"})
    with pytest.raises(ValueError, match="vocab_size 32272"):
        build_adapter("emu2", {"pretrained": str(tiny_emu2_dir), "variant": "chat"})
    with pytest.raises(ValueError, match="dtype 'half'"):
        build_adapter("emu2", {"pretrained": str(tiny_emu2_dir), "dtype": "half", "device": "cpu"})
    with pytest.raises(ValueError, match="device_map=auto needs max_memory"):
        build_adapter("emu2", {"pretrained": str(tiny_emu2_dir), "device_map": "auto"})
    with pytest.raises(FileNotFoundError, match="not a checkpoint directory"):
        build_adapter("emu2", {"pretrained": "./no/such/dir"})


def test_cpu_device_map_from_max_memory(tiny_emu2_dir: Path) -> None:
    from emu2_eval.models.emu2.adapter import Emu2Adapter

    adapter = Emu2Adapter(str(tiny_emu2_dir), max_memory="cpu:1GiB")
    assert adapter.describe()["device_map"] == {"": "cpu"}
    assert adapter.describe()["dtype"] == "float32"  # auto: fp32 when no GPU is in the budget
    assert adapter.generate(
        [
            Request(
                "generate",
                (TextPart("hello"),),
                "t",
                "0",
                (("num_beams", 1), ("max_new_tokens", 2)),
            )
        ]
    )


def _png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 200, 30)).save(buffer, format="PNG")
    return buffer.getvalue()

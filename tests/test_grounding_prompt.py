"""Grounding requests rendered for Emu2-Chat as the published chat.py builds them.

Golden file: tests/data/emu2_grounding_golden.json, made by
scripts/make_emu2_grounding_golden.py from baaivision/Emu's ``_prepare_chat_inputs`` and the
published tokenizer (transformers 4.31). The prompt-text test needs no tokenizer; the token-id
tests skip, visibly, without ../shared/emu2_assets.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emu2_eval.core.prompts import ImagePart, TextPart
from emu2_eval.core.requests import Request
from emu2_eval.engine.preflight import _unsupported
from emu2_eval.models.emu2.prompting import grounding_chat_prompt
from emu2_eval.models.hf_vlm import HFVisionLanguageAdapter
from emu2_eval.models.tiny_vlm import TinyVLMAdapter
from emu2_eval.tasks.profiles import check_profile
from emu2_eval.tasks.registry import get_task
from tests.emu2_factories import TinyEmu2, requires_emu2_assets

GOLDEN = json.loads(
    (Path(__file__).parent / "data" / "emu2_grounding_golden.json").read_text(encoding="utf-8")
)
GROUNDING = [p for p in GOLDEN["prompts"] if p["is_grounding"]]


@pytest.mark.parametrize("case", GROUNDING, ids=lambda c: c["expression"])
def test_grounding_prompt_text_is_the_published_one(case) -> None:
    """Needs no tokenizer: the native layout is chat.py's string exactly; the hf layout is
    the same without the spaces before the role tokens."""
    ours = grounding_chat_prompt(GOLDEN["placeholder"] + case["expression"])
    assert ours == case["text"]
    hf = grounding_chat_prompt(GOLDEN["placeholder"] + case["expression"], "hf")
    assert hf == case["text"].replace(" [USER]", "[USER]").replace(" [ASSISTANT]", "[ASSISTANT]")
    assert ours.startswith("You are a helpful assistant, dedicated to provide concise")
    assert ours.endswith("[ASSISTANT]:<grounding>")


def test_the_profile_mode_reaches_the_request_and_its_hash() -> None:
    task = get_task("demo_refcoco")
    doc = task.load().docs[0]
    request = task.build_request(doc)
    assert request.mode == "grounding" and task.profile.describe()["mode"] == "grounding"
    assert isinstance(request.prompt[0], ImagePart)
    assert request.prompt[1] == TextPart(doc["expression"])
    plain = Request(request.kind, request.prompt, request.task, request.doc_id, request.options)
    # plain requests keep the content (so the cache keys) they had before prompt modes
    assert set(plain.content()) == {"kind", "prompt", "options", "continuations"}
    assert request.content()["mode"] == "grounding"
    assert plain.content_hash() != request.content_hash()


def test_unknown_mode_and_models_without_it_are_refused_before_model_work() -> None:
    assert check_profile({"query": [{"text": "x"}], "mode": "grounded"}) == [
        "unknown mode 'grounded'; valid: grounding"
    ]
    task = get_task("demo_refcoco")
    problems = _unsupported(task, HFVisionLanguageAdapter, "hf-vlm")
    assert problems and "uses the 'grounding' prompt mode" in problems[0]
    assert "plain prompts only" in problems[0]
    assert _unsupported(task, TinyVLMAdapter, "tiny-vlm") == []


def _parts(expression: str) -> tuple:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (40, 24), (200, 30, 30)).save(buffer, format="PNG")
    return (ImagePart.from_bytes(buffer.getvalue()), TextPart(expression))


@requires_emu2_assets
def test_grounding_token_ids_equal_the_published_code(tiny_emu2_chat_llama_dir: Path) -> None:
    from emu2_eval.models.emu2.adapter import Emu2Adapter

    assert TinyEmu2("chat").config().vision_config.n_query == GOLDEN["n_query"]
    adapter = Emu2Adapter(str(tiny_emu2_chat_llama_dir), device="cpu", system_message="detailed")
    for case in GOLDEN["prompts"]:
        mode = "grounding" if case["is_grounding"] else ""
        ids, images = adapter.encode_prompt(_parts(case["expression"]), mode)
        assert ids == case["ids"], case["text"]
        assert len(images) == 1
    assert adapter.describe()["grounding_template"].endswith("[ASSISTANT]:<grounding>")
    for answer in GOLDEN["answers"]:
        assert adapter.tokenizer.decode_with_special_tokens(answer["ids"]) == answer["decoded"]


def test_base_emu2_refuses_the_grounding_mode(tiny_emu2_adapter) -> None:
    assert not tiny_emu2_adapter.supports_prompt_mode("grounding")
    assert tiny_emu2_adapter.supports_prompt_mode("")
    with pytest.raises(ValueError, match="needs Emu2-Chat"):
        tiny_emu2_adapter.encode_prompt(_parts("the dog"), "grounding")


def test_emu2_chat_generates_a_grounding_answer_with_its_special_tokens(
    tiny_emu2_chat_dir: Path,
) -> None:
    """On the tokenizer built in code: no real token ids are compared here."""
    from emu2_eval.models.emu2.adapter import Emu2Adapter

    adapter = Emu2Adapter(str(tiny_emu2_chat_dir), device="cpu")
    request = Request(
        "generate",
        _parts("the dog"),
        "t",
        "d",
        (("max_new_tokens", 4), ("num_beams", 1)),
        mode="grounding",
    )
    answer = adapter.generate([request])[0]
    plain = adapter.generate([Request("generate", _parts("the dog"), "t", "d", request.options)])
    assert isinstance(answer, str) and isinstance(plain[0], str)
    # the decoded grounding answer keeps the start token, as skip_special_tokens=False does
    assert answer.startswith("<s>") and not plain[0].startswith("<s>")

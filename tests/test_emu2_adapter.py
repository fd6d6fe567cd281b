"""The ``emu2`` adapter inside the harness: end-to-end run, identity, Emu2-Chat prompting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emu2_eval.core.prompts import ImagePart, TextPart
from emu2_eval.core.registry import MODELS
from emu2_eval.core.requests import Request
from tests.emu2_factories import TinyEmu2


def test_adapters_are_registered() -> None:
    assert MODELS.get("emu2").__name__ == "Emu2Adapter"
    assert MODELS.get("emu2-remote").__name__ == "Emu2RemoteAdapter"


def test_evaluate_demo_vqa_end_to_end(tiny_emu2_dir: Path, tmp_path: Path) -> None:
    from tests.runs import evaluate_run

    out = tmp_path / "run"
    args = {"pretrained": str(tiny_emu2_dir), "device": "cpu"}
    results = evaluate_run("emu2", args, ["demo_vqa"], out, limit=4, progress=False)
    block = results["tasks"]["demo_vqa"]
    assert block["n_computed"] == 4 and block["n_cached"] == 0
    info = results["model"]["info"]
    assert info["adapter"] == "emu2" and info["tokenization"] == "reference"
    assert info["variant"] == "base" and info["n_query"] == 4 and info["dtype"] == "float32"
    rows = [json.loads(line) for line in (out / "samples_demo_vqa.jsonl").read_text().splitlines()]
    assert len(rows) == 4
    assert json.loads((out / "results.json").read_text())["model"]["fingerprint"]
    again = evaluate_run("emu2", args, ["demo_vqa"], out, limit=4, progress=False)  # from the cache
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
    assert text.endswith(" [USER]: [IMG]" + "<image>" * 16 + "[/IMG]what is it? [ASSISTANT]:")
    ids = adapter.tokenizer.encode(text)
    colon = adapter.tokenizer.sp.encode(":")
    assert 32272 in ids and ids[-1 - len(colon) :] == [32273, *colon] and ids.count(32003) == 16
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


# -- context budget ---------------------------------------------------------------------------


@pytest.mark.parametrize("tokenization", ["reference", "fast"])
def test_prompt_ids_and_token_counts_equal_the_tokenised_prompt(
    tiny_emu2_dir: Path, tiny_emu2_chat_dir: Path, tokenization: str
) -> None:
    """The count (one slot per image, plus the rest) equals tokenising the expanded prompt."""
    from emu2_eval.models.emu2.adapter import Emu2Adapter

    image = ImagePart.from_bytes(_png())
    other = ImagePart.from_bytes(_png()[:-1] + b"\0")
    shots = [image, TextPart(" based on the picture, what is it? short answer: a cup. ")] * 3
    prompts = [
        (image, TextPart("based on the picture, answer in one word. what? short answer:")),
        (*shots, other, TextPart("what is it? short answer:")),
        (TextPart("no image here, "), image, TextPart(" and "), other, TextPart(" end")),
    ]
    for directory in (tiny_emu2_dir, tiny_emu2_chat_dir):
        adapter = Emu2Adapter(str(directory), device="cpu", tokenization=tokenization)
        assert adapter.context_length() == 1024
        for i, prompt in enumerate(prompts):
            # the compact encoding (one slot per image, then repeated) is the full one exactly
            ids, images = adapter.encode_prompt(prompt)
            assert ids == adapter.tokenizer.encode(adapter.render(prompt)[0])
            assert images == adapter.render(prompt)[1]
            greedy = Request("generate", prompt, "t", str(i), (("max_new_tokens", 3),))
            text, _ = adapter.render(prompt)
            assert adapter.count_tokens(greedy) == len(adapter.tokenizer.encode(text)) + 3
            published = Request("generate", prompt, "t", str(i))  # max_new_tokens 10
            assert adapter.count_tokens(published) == len(adapter.tokenizer.encode(text)) + 10
            scored = Request("loglikelihood", prompt, "t", str(i), continuations=("yes", "no no"))
            longest = max(
                len(adapter.tokenizer.encode_continuation(text, c)) for c in ("yes", "no no")
            )
            assert adapter.count_tokens(scored) == len(adapter.tokenizer.encode(text)) + longest


def test_long_fewshot_prompts_are_checked_against_emu2s_context(
    tiny_emu2_chat_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Emu2-Chat's 256 tokens per image overflow 2048 positions at 8+ shots: the run stops before
    any model work (or drops demonstrations when asked), never truncating silently."""
    from emu2_eval.engine.runner import ContextLengthError, FewShotSettings
    from emu2_eval.models.emu2.adapter import Emu2Adapter
    from tests.runs import evaluate_run

    args = {"pretrained": str(tiny_emu2_chat_dir), "device": "cpu"}
    monkeypatch.setattr(Emu2Adapter, "context_length", lambda self: 100)  # ~4 images of 18
    overflow = r"'demo_vqa', doc \w+: the prompt needs \d+ tokens \(8 demonstrations\) but"
    with pytest.raises(ContextLengthError, match=overflow + " the model takes 100"):
        evaluate_run("emu2", args, ["demo_vqa"], tmp_path / "a", limit=2, progress=False,
                 fewshot=FewShotSettings(shots=8))  # fmt: skip
    results = evaluate_run(
        "emu2", args, ["demo_vqa"], tmp_path / "b", limit=2, progress=False,
        fewshot=FewShotSettings(shots=8, context_policy="drop_demonstrations"),
    )  # fmt: skip
    assert results["tasks"]["demo_vqa"]["n_computed"] == 2
    rows = [json.loads(x) for x in (tmp_path / "b" / "samples_demo_vqa.jsonl").open()]
    assert all(0 < len(row["demonstrations"]) < 8 for row in rows)


# -- random weights ---------------------------------------------------------------------------


def test_random_weights_need_only_the_config(tiny_emu2_dir: Path, tmp_path: Path) -> None:
    """Full-size speed and memory checks without a checkpoint: config.json + tokenizer only;
    the same seed gives the same weights, and the fingerprint never matches real weights."""
    import shutil

    import torch

    from emu2_eval.models.emu2.adapter import Emu2Adapter
    from emu2_eval.models.emu2.random_init import random_tensor

    config_only = tmp_path / "config_only"
    config_only.mkdir()
    for file in tiny_emu2_dir.iterdir():
        if not file.name.startswith("pytorch_model"):
            shutil.copy(file, config_only / file.name)
    with pytest.raises(FileNotFoundError):
        Emu2Adapter(str(config_only), device="cpu")  # no weights and none asked to be random
    first = Emu2Adapter(str(config_only), device="cpu", random_weights=True)
    second = Emu2Adapter(str(config_only), device="cpu", random_weights=True)
    real = Emu2Adapter(str(tiny_emu2_dir), device="cpu")
    for (name, a), (_, b) in zip(
        first.model.named_parameters(), second.model.named_parameters(), strict=True
    ):
        assert torch.equal(a, b), name
    lm = first.model.lm
    assert float(lm.model.norm.weight.min()) == float(lm.model.norm.weight.max()) == 1.0
    weight = lm.model.layers[0].self_attn.q_proj.weight
    assert abs(float(weight.std()) - 0.02) < 0.002 and abs(float(weight.mean())) < 0.002
    assert not torch.equal(weight, real.model.lm.model.layers[0].self_attn.q_proj.weight)
    assert first.describe()["weights"] == "random (seed 0)"
    assert real.describe()["weights"] == "checkpoint"
    assert first.fingerprint() == second.fingerprint() != real.fingerprint()
    prompt = (ImagePart.from_bytes(_png()), TextPart("what is it?"))
    answer = Request("generate", prompt, "t", "0", (("num_beams", 1), ("max_new_tokens", 3)))
    assert first.generate([answer]) == second.generate([answer])
    # a tensor's value depends on its name and the seed only, not on the order of creation
    shape = torch.Size([3, 5])
    one = random_tensor("a.weight", shape, torch.float32, "cpu", 0)
    random_tensor("b.weight", shape, torch.float32, "cpu", 0)
    assert torch.equal(one, random_tensor("a.weight", shape, torch.float32, "cpu", 0))
    assert not torch.equal(one, random_tensor("a.weight", shape, torch.float32, "cpu", 1))


def test_seeded_sampling_does_not_depend_on_the_batch(tiny_emu2_dir: Path) -> None:
    """The emu2 adapter seeded once per batch, so an answer followed its batch mates; now each
    sampled request has its own seed of (request, seed), and batches of 3 equal batches of 1."""
    from emu2_eval.models.emu2.adapter import Emu2Adapter

    adapter = Emu2Adapter(str(tiny_emu2_dir), device="cpu", decoding="transformers")  # sampling
    options = (("do_sample", True), ("max_new_tokens", 4), ("num_beams", 1), ("seed", 3))
    requests = [
        Request("generate", (TextPart(f"question {i} is"),), "t", str(i), options=options)
        for i in range(3)
    ]
    batched = adapter.generate(requests)
    alone = [adapter.generate([r])[0] for r in requests]
    assert batched == alone
    assert adapter.generate(requests[::-1]) == batched[::-1]
    assert adapter.is_deterministic(requests[0])

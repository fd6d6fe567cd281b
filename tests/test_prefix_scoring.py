"""Shared-prefix loglikelihood equals the per-request path (one padded row per candidate)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from emu2_eval.core.prompts import ImagePart, TextPart
from emu2_eval.core.requests import Request
from emu2_eval.models.prefix_scoring import shared_prefix_scores
from tests.emu2_factories import TinyEmu2, synthetic_pixels

ATOL = 1e-4


def _full_scores(model, prompt_ids, features, continuations) -> list[float]:
    """The reference: prompt + candidate per row (left-padded), log-probs of the candidate."""
    width = max(len(prompt_ids) + len(c) for c in continuations)
    ids = torch.zeros((len(continuations), width), dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, c in enumerate(continuations):
        seq = prompt_ids + c
        ids[row, width - len(seq) :] = torch.tensor(seq)
        mask[row, width - len(seq) :] = 1
    rows_features = None if features is None else features.repeat(len(continuations), 1)
    with torch.inference_mode():
        logits = model(ids, mask, image_features=rows_features).float()
    out = []
    for row, c in enumerate(continuations):
        lp = torch.log_softmax(logits[row, width - len(c) - 1 : width - 1], dim=-1)
        out.append(float(lp.gather(1, torch.tensor(c).unsqueeze(1)).sum()))
    return out


@pytest.fixture(scope="module", name="tiny_model")
def tiny_model_fixture():
    """A tiny Emu2 built from its config: no tokenizer needed."""
    return TinyEmu2("base").build()


def test_core_matches_full_rows_on_tiny_emu2_without_tokenizer(tiny_model) -> None:
    """Several prompts of different lengths (one with two images) in one prefill; 1- to 4-token
    candidates, 1 to 4 per prompt; scores equal the one-row-per-candidate path."""
    model = tiny_model
    image = model.image_token_id
    slot = [32001, *[image] * model.n_query, 32002]
    prompts = [
        [1, *slot, 450, 2501, 338, 29973],
        [1, 910, 338, 263, 1243],
        [1, *slot, 322, *slot, 1724, 29901],
    ]
    n_images = [1, 0, 2]
    candidates = [
        [[3869], [1939]],
        [[3869, 29892, 372], [1939], [263, 1243, 29871, 29906], [29906]],
        [[11008, 29876], [2]],
    ]
    pixels = synthetic_pixels(3, model.config.vision_config.image_size)
    with torch.inference_mode():
        features = model.visual_embeddings(pixels, model.n_query)
    per_image = model.n_query
    reference, start = [], 0
    for ids, k, cands in zip(prompts, n_images, candidates, strict=True):
        rows = features[start * per_image : (start + k) * per_image] if k else None
        reference.append(_full_scores(model, ids, rows, cands))
        start += k
    width = max(len(p) for p in prompts)
    ids = torch.zeros((3, width), dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, p in enumerate(prompts):
        ids[row, width - len(p) :] = torch.tensor(p)
        mask[row, width - len(p) :] = 1
    stats: dict[str, int] = {}
    with torch.inference_mode():
        embeds = model.embed_inputs(ids, image_features=features)
        shared = shared_prefix_scores(
            model.lm, {"inputs_embeds": embeds, "attention_mask": mask}, candidates, stats=stats
        )
    assert stats["forward_passes"] == 2  # one prefill for 3 prompts, one pass for 8 candidates
    assert stats["positions"] == 3 * width + 8 * 3  # candidates: tokens 1..n-1 (at most 3)
    for got, want in zip(shared, reference, strict=True):
        assert got == pytest.approx(want, abs=ATOL)


def test_single_token_candidates_need_only_the_prefill(tiny_model) -> None:
    ids = torch.tensor([[1, 910, 338, 263, 1243]])
    stats: dict[str, int] = {}
    with torch.inference_mode():
        embeds = tiny_model.embed_inputs(ids)
        got = shared_prefix_scores(
            tiny_model.lm,
            {"inputs_embeds": embeds, "attention_mask": torch.ones_like(ids)},
            [[[3869], [1939], [29906], [2]]],
            stats=stats,
        )
    assert stats == {"forward_passes": 1, "positions": 5}
    want = _full_scores(tiny_model, ids[0].tolist(), None, [[3869], [1939], [29906], [2]])
    assert got[0] == pytest.approx(want, abs=ATOL)


def test_empty_candidate_is_refused(tiny_model) -> None:
    ids = torch.tensor([[1, 910]])
    with pytest.raises(ValueError, match="at least one token"):
        shared_prefix_scores(
            tiny_model.lm,
            {"inputs_embeds": tiny_model.embed_inputs(ids), "attention_mask": torch.ones_like(ids)},
            [[[3869], []]],
        )


def _png(colour: tuple[int, int, int]) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def _scored_requests() -> list[Request]:
    red, blue = ImagePart.from_bytes(_png((200, 0, 0))), ImagePart.from_bytes(_png((0, 0, 200)))
    prompts = [
        (red, TextPart("is this hateful? answer:")),
        (TextPart("a text-only prompt, and then"),),
        (blue, TextPart(" then "), red, TextPart(" which colour comes first? ")),
    ]
    candidates = [("yes", "no"), (" a cat sat", "no", " two words", "x"), ("blue sky", "red")]
    return [
        Request("loglikelihood", p, "t", str(i), continuations=c)
        for i, (p, c) in enumerate(zip(prompts, candidates, strict=True))
    ]


def test_emu2_adapter_shared_prefix_equals_per_request(tiny_emu2_dir: Path) -> None:
    """The adapter's default path (one prefill per prompt) gives the per-request scores, with
    the same candidate token ids (``encode_continuation`` at the prompt boundary), computing
    fewer token positions; and a score never depends on the rest of the batch, bit for bit."""
    from emu2_eval.models.emu2.adapter import Emu2Adapter

    adapter = Emu2Adapter(str(tiny_emu2_dir), device="cpu")
    requests = _scored_requests()
    shared = adapter.loglikelihood(requests)
    new = dict(adapter.scoring_stats)
    adapter.shared_prefix = False
    adapter.scoring_stats.clear()
    reference = adapter.loglikelihood(requests)
    assert adapter.scoring_stats["forward_passes"] == 3  # one padded row per candidate
    assert new["positions"] < adapter.scoring_stats["positions"] / 2
    for got, want in zip(shared, reference, strict=True):
        assert got == pytest.approx(want, abs=ATOL)
    adapter.shared_prefix = True
    assert [adapter.loglikelihood([r])[0] for r in requests] == shared  # batch-invariant


def _vlm_requests() -> list[Request]:
    red, blue = ImagePart.from_bytes(_png((200, 0, 0))), ImagePart.from_bytes(_png((0, 0, 200)))
    prompts = [
        (red, TextPart("question: what colour? short answer:")),
        (TextPart("describe the drawing"),),
        (blue, TextPart(" and "), red, TextPart(" which shape is drawn? answer:")),
    ]
    candidates = [("red", "blue"), ("a red circle", "square", "plain light background", "2"),
                  ("triangle with circles", "circle")]  # fmt: skip
    return [
        Request("loglikelihood", p, "t", str(i), continuations=c)
        for i, (p, c) in enumerate(zip(prompts, candidates, strict=True))
    ]


def test_hf_vlm_shared_prefix_equals_per_request(tiny_adapter) -> None:
    """tiny-vlm (the hf-vlm adapter on a LLaVA checkpoint): one prefill per prompt, then all its
    candidates in one pass, gives the per-candidate forward passes' scores."""
    requests = _vlm_requests()
    tiny_adapter.scoring_stats.clear()
    tiny_adapter.shared_prefix = False
    try:
        reference = tiny_adapter.loglikelihood(requests)
    finally:
        tiny_adapter.shared_prefix = True
    assert tiny_adapter.scoring_stats["forward_passes"] == 8  # one per candidate
    old_positions = tiny_adapter.scoring_stats["positions"]
    tiny_adapter.scoring_stats.clear()
    shared = tiny_adapter.loglikelihood(requests)
    # prefill + candidates per prompt; red/blue are single tokens: the prefill alone scores them
    assert tiny_adapter.scoring_stats["forward_passes"] == 5
    assert tiny_adapter.scoring_stats["positions"] < 0.55 * old_positions
    for got, want in zip(shared, reference, strict=True):
        assert got == pytest.approx(want, abs=ATOL)
    assert [tiny_adapter.loglikelihood([r])[0] for r in requests] == shared  # batch-invariant


def test_a_candidate_that_tokenizes_to_nothing_is_named(tiny_adapter) -> None:
    request = Request("loglikelihood", (TextPart("answer:"),), "t", "7", continuations=("red", ""))
    with pytest.raises(ValueError, match="continuation '' tokenizes to nothing"):
        tiny_adapter.loglikelihood([request])

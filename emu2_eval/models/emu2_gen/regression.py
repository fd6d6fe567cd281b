"""Emu2-Gen's conditioning: visual embeddings regressed by the Emu2 encoder from a prompt.

As in the published ``generate_image`` (baaivision/Emu ``Emu2/emu/emu.py``; the HF remote
``modeling_emu.py`` does the same): the prompt (text with each image expanded to ``[IMG]`` +
``<image>`` x n_query + ``[/IMG]``) is followed by ``[IMG]``; the decoder's last hidden state at
that position, through ``project_down``, is the first embedding; each embedding, back through
``project_up``, fills the next ``<image>`` slot and yields the next one, n_query times (64 for
Emu2-Gen), giving n_query x d_model (64 x 1792) for the UNet's cross-attention.

The published loop re-runs the whole sequence at every step; the decoder is causal, so running
it once over the prompt and then one slot at a time with a key/value cache gives the same
embeddings (checked against a literal re-run in the tests) in n_query short steps.

A prompt with images and no text is the published "autoencoding" mode: the conditioning is the
pooled EVA features of that one image, and the unconditional branch those of an all-zero image.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from transformers import DynamicCache

from emu2_eval.models.emu2.constants import IMG_TOKEN


def _device_of(module: torch.nn.Module) -> torch.device:
    return next(module.parameters()).device


@torch.no_grad()
def regress_embeddings(
    model: Any, tokenizer: Any, texts: Sequence[str], pixel_values: torch.Tensor | None = None
) -> torch.Tensor:
    """(B, n_query, d_model) embeddings for prompts whose placeholders are already expanded.

    ``model`` is an :class:`~emu2_eval.models.emu2.modeling.Emu2ForCausalLM`, ``tokenizer`` an
    :class:`~emu2_eval.models.emu2.tokenization.Emu2Tokenizer` (left padding); ``pixel_values``
    holds the prompts' images in order. Rows are independent: left padding is masked and
    positions count real tokens only.
    """
    input_ids, mask = tokenizer([text + IMG_TOKEN for text in texts])
    return regress_from_ids(model, input_ids, mask, pixel_values)


@torch.no_grad()
def regress_from_ids(
    model: Any,
    input_ids: torch.Tensor,
    mask: torch.Tensor,
    pixel_values: torch.Tensor | None = None,
) -> torch.Tensor:
    """:func:`regress_embeddings` from token ids that already end in ``[IMG]`` (left-padded)."""
    decoder = model.lm.model  # transformers LlamaModel
    embeds = model.embed_inputs(input_ids, pixel_values)
    mask = mask.to(embeds.device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    cache = DynamicCache()  # filled in place by each call (transformers' `cache=` argument)
    output = decoder(inputs_embeds=embeds, attention_mask=mask, position_ids=positions,
                     cache=cache, use_cache=True)  # fmt: skip
    steps = []
    for step in range(model.n_query):
        hidden = output.last_hidden_state[:, -1:, :]
        embedding = model.project_down(hidden.to(_device_of(model.project_down)))
        steps.append(embedding)
        if step == model.n_query - 1:
            break
        slot = model.project_up(embedding.to(_device_of(model.project_up)))
        mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=1)
        positions = positions[:, -1:] + 1
        output = decoder(
            inputs_embeds=slot.to(embeds.device, embeds.dtype),
            attention_mask=mask,
            position_ids=positions,
            cache=cache,
            use_cache=True,
        )
    return torch.cat(steps, dim=1)


@torch.no_grad()
def autoencode_embeddings(model: Any, pixel_values: torch.Tensor) -> torch.Tensor:
    """(N, n_query, d_model) pooled EVA features of images (no ``project_up``), as published."""
    return model.model.encode_image(pixel_values, model.n_query)

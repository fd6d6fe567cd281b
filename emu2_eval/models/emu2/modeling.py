"""Emu2 / Emu2-Chat for understanding: EVA encoder -> pooled visual tokens -> LLaMA decoder.

The module tree reproduces the published parameter names without any renaming:
``model.visual.*`` (EVA), ``model.decoder.lm.*`` (a stock ``transformers.LlamaForCausalLM``),
``project_up.weight`` (EVA width -> LLaMA hidden) and ``project_down.weight`` (LLaMA hidden -> EVA
width; used only by Emu2-Gen's regression head, kept so the checkpoint loads with no leftovers).

Images enter the decoder as embeddings: every ``<image>`` token of the prompt is overwritten, in
batch order and image by image, with the projected, average-pooled patch features; video frames
use ``[gIMG]`` slots the same way. ``[IMG]``/``[/IMG]`` keep their text embeddings.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from emu2_eval.models.emu2.config import NO_SPLIT_MODULES, Emu2Config
from emu2_eval.models.emu2.visual import EvaVisionTransformer

IMAGE_TOKEN_ID = 32003  # <image>, fixed by the published special-token order
VIDEO_TOKEN_ID = 32004  # [gIMG], borrowed as the video-frame slot


class Emu2Decoder(nn.Module):
    """Holds the LLaMA decoder under the published attribute name ``lm``."""

    def __init__(self, config: Emu2Config, attn_implementation: str | None = None) -> None:
        super().__init__()
        from transformers import LlamaForCausalLM

        self.lm = LlamaForCausalLM(config.llama_config(attn_implementation))
        self.lm.model.embed_tokens.padding_idx = config.pad_token_id


class Emu2Model(nn.Module):
    """Vision tower and decoder, under the published prefix ``model.``."""

    def __init__(self, config: Emu2Config, attn_implementation: str | None = None) -> None:
        super().__init__()
        self.config = config
        self.visual = EvaVisionTransformer(config.vision_config)
        self.decoder = Emu2Decoder(config, attn_implementation)

    def encode_image(self, pixel_values: torch.Tensor, n_query: int) -> torch.Tensor:
        """(N, 3, H, W) -> (N, n_query, width): drop CLS, average-pool the patch grid."""
        weight = self.visual.patch_embed.proj.weight
        tokens = self.visual(pixel_values.to(weight.device, weight.dtype))[:, 1:, :]
        batch, length, width = tokens.shape
        grid = self.config.vision_config.grid
        if length != grid * grid:
            raise ValueError(f"expected {grid * grid} patch tokens, got {length}")
        stride = self.config.vision_config.pool_stride(n_query)
        grid_map = tokens.transpose(1, 2).reshape(batch, width, grid, grid)
        pooled = F.avg_pool2d(grid_map, kernel_size=stride, stride=stride)
        return pooled.flatten(2).transpose(1, 2)


class Emu2ForCausalLM(nn.Module):
    """The published ``EmuForCausalLM`` layout on current transformers (inference only)."""

    _no_split_modules = NO_SPLIT_MODULES

    def __init__(
        self,
        config: Emu2Config,
        attn_implementation: str | None = None,
        image_token_id: int = IMAGE_TOKEN_ID,
        video_token_id: int = VIDEO_TOKEN_ID,
    ) -> None:
        super().__init__()
        self.config = config
        self.image_token_id = image_token_id
        self.video_token_id = video_token_id
        self.model = Emu2Model(config, attn_implementation)
        self.project_down = nn.Linear(config.hidden_size, config.d_model, bias=False)
        self.project_up = nn.Linear(config.d_model, config.hidden_size, bias=False)

    @property
    def lm(self) -> Any:
        """The ``transformers.LlamaForCausalLM`` decoder."""
        return self.model.decoder.lm

    @property
    def n_query(self) -> int:
        return self.config.vision_config.n_query

    @property
    def v_query(self) -> int:
        return self.config.vision_config.v_query

    # -- inputs ------------------------------------------------------------------------------
    def visual_embeddings(self, pixel_values: torch.Tensor, n_query: int) -> torch.Tensor:
        """Projected visual tokens, flattened image by image: (N * n_query, hidden)."""
        features = self.model.encode_image(pixel_values, n_query)
        weight = self.project_up.weight
        return self.project_up(features.to(weight.device, weight.dtype)).flatten(0, 1)

    def embed_inputs(
        self,
        input_ids: torch.Tensor,
        pixel_values: torch.Tensor | None = None,
        video_pixel_values: torch.Tensor | None = None,
        image_features: torch.Tensor | None = None,
        video_features: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Token embeddings with image (and video-frame) slots overwritten by visual features.

        ``image_features`` (from :meth:`visual_embeddings`) replaces ``pixel_values`` when the
        same images serve several rows, e.g. one prompt scored with several continuations;
        ``video_features`` (frames encoded with ``v_query``) likewise ``video_pixel_values``.
        """
        embed = self.lm.get_input_embeddings()
        input_ids = input_ids.to(embed.weight.device)
        embeds = embed(input_ids)
        image_mask = input_ids == self.image_token_id
        if image_features is None and pixel_values is not None:
            image_features = self.visual_embeddings(pixel_values, self.n_query)
        if video_features is None and video_pixel_values is not None:
            video_features = self.visual_embeddings(video_pixel_values, self.v_query)
        video_mask = input_ids == self.video_token_id
        slots = (
            (image_mask, image_features, self.n_query, "image", "<image>"),
            (video_mask, video_features, self.v_query, "video frame", "[gIMG]"),
        )
        for mask, features, n_query, what, token in slots:
            n_slots = int(mask.sum())
            n_rows = 0 if features is None else features.shape[0]
            if n_slots != n_rows:
                raise ValueError(
                    f"the prompt has {n_slots} {token} slots but {n_rows // n_query} {what}(s) x "
                    f"{n_query} tokens were given: each placeholder must match one {what}"
                )
            if n_rows:
                embeds = embeds.masked_scatter(
                    mask.unsqueeze(-1), features.to(embeds.device, embeds.dtype)
                )
        return embeds

    # -- computation -------------------------------------------------------------------------
    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        pixel_values: torch.Tensor | None = None,
        video_pixel_values: torch.Tensor | None = None,
        image_features: torch.Tensor | None = None,
        video_features: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Next-token logits (B, L, vocab). Positions count real tokens only (left padding)."""
        embeds = self.embed_inputs(
            input_ids, pixel_values, video_pixel_values, image_features, video_features
        )
        if attention_mask is None:
            attention_mask = torch.ones(input_ids.shape, dtype=torch.long)
        attention_mask = attention_mask.to(embeds.device)
        position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
        output = self.lm(
            inputs_embeds=embeds,
            attention_mask=attention_mask,
            position_ids=position_ids,
            use_cache=False,
        )
        return output.logits

    @torch.no_grad()
    def generate(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        pixel_values: torch.Tensor | None = None,
        video_pixel_values: torch.Tensor | None = None,
        image_features: torch.Tensor | None = None,
        decoding: str = "emu2_reference",
        video_features: torch.Tensor | None = None,
        special_ids: Any = None,
        **generate_kwargs: Any,
    ) -> Any:
        """Generated ids from the multimodal embeddings.

        ``decoding="emu2_reference"`` (default) searches as the published code does on
        transformers 4.31 (:mod:`~emu2_eval.models.emu2.reference_decoding`) and returns 4.31's
        sequences (dummy ``<s>`` first); ``"transformers"`` calls the installed
        ``LlamaForCausalLM.generate`` and returns its new tokens. ``image_features`` (from
        :meth:`visual_embeddings`, e.g. out of a feature cache) stands in for ``pixel_values``."""
        from emu2_eval.models.emu2.reference_decoding import (
            SearchSettings,
            SpecialIds,
            check_decoding,
            reference_generate,
        )

        check_decoding(decoding)
        embeds = self.embed_inputs(
            input_ids, pixel_values, video_pixel_values, image_features, video_features
        )
        attention_mask = attention_mask.to(embeds.device)
        if decoding == "transformers":
            return self.lm.generate(
                inputs_embeds=embeds, attention_mask=attention_mask, **generate_kwargs
            )
        ids = special_ids or SpecialIds(bos=1, eos=2, pad=self.config.pad_token_id)
        settings = SearchSettings.from_options(generate_kwargs)
        return reference_generate(self.lm, embeds, attention_mask, settings, ids)

"""The built-in tiny model: a LLaVA-architecture VLM with random weights, for the demo and tests.

It is created from a config with a fixed seed, saved to a local directory in the standard
transformers layout on first use, and then loaded back through ``from_pretrained`` like any real
checkpoint, so the demo exercises the real loading path. Its answers are meaningless (random
weights): it exists to run the whole pipeline offline in seconds.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from emu2_eval.core.prompts import videos_as_frames
from emu2_eval.core.requests import Request
from emu2_eval.core.staging import staging_dir
from emu2_eval.data.roots import cache_home
from emu2_eval.models.base import PreparedImages
from emu2_eval.models.hf_vlm import HFVisionLanguageAdapter

TINY_VERSION = "v1"
SEED = 0
SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<pad>", "<image>"]
WORDS = (
    "a an the is are there in on of this that it picture image photo shape shapes what which "
    "color colour how many yes no one two three four zero red green blue yellow black white "
    "circle circles square squares triangle triangles based answer word or phrase short question "
    "describe drawing simple plain light background showing drawn coloured with and to output "
    "caption for its"
).split() + list(".,?!:;'\"-0123456789")
# The sizes of the tiny towers (random weights): a 32-pixel vision encoder of 8-pixel patches and
# a 2-layer LLaMA; shared with the tests' tiny checkpoints of other VLM layouts.
TINY_VISION = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "image_size": 32,
    "patch_size": 8,
}
TINY_TEXT = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
}


def word_tokenizer(special_tokens: list[str], add_bos: bool = True, **kwargs: Any):
    """A word-level tokenizer over ``special_tokens + WORDS`` (ids in that order), no training.

    Fixed ids make tiny test checkpoints byte-identical on every machine; the first four
    special tokens must be <unk>, <s>, </s>, <pad>; ``kwargs`` go to PreTrainedTokenizerFast.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate(special_tokens + WORDS)}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.decoder = decoders.WordPiece(prefix="##")  # joins words with spaces
    if add_bos:
        backend.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", vocab["<s>"])]
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        **kwargs,
    )


def build_tiny_checkpoint(directory: Path) -> None:
    """Create the tiny tokenizer, processor and model and save them in ``directory``."""
    import torch
    from transformers import (
        CLIPImageProcessorPil,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    tokenizer = word_tokenizer(
        SPECIAL_TOKENS, add_bos=True, extra_special_tokens={"image_token": "<image>"}
    )
    vocab = tokenizer.get_vocab()
    vision = CLIPVisionConfig(**TINY_VISION, projection_dim=32)
    text = LlamaConfig(
        **TINY_TEXT,
        vocab_size=len(vocab),
        max_position_embeddings=2048,
        bos_token_id=vocab["<s>"],
        eos_token_id=vocab["</s>"],
        pad_token_id=vocab["<pad>"],
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=vocab["<image>"],
        image_seq_length=16,
        vision_feature_layer=-1,
        pad_token_id=vocab["<pad>"],
    )
    torch.manual_seed(SEED)
    model = LlavaForConditionalGeneration(config)
    image_processor = CLIPImageProcessorPil(  # PIL backend: torchvision is not required
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    )
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=8,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
    )
    model.save_pretrained(directory)
    processor.save_pretrained(directory)


def tiny_checkpoint() -> Path:
    """Path of the built-in checkpoint, built once (atomically) under the cache directory."""
    target = cache_home() / "models" / f"tiny-vlm-{TINY_VERSION}"
    if (target / "config.json").exists():
        return target
    with staging_dir(target.parent, "tiny-vlm") as staging:  # sweeps killed set-ups
        build_tiny_checkpoint(staging)
        try:
            os.replace(staging, target)
        except OSError:
            if not (target / "config.json").exists():
                raise
    return target


class TinyVLMAdapter(HFVisionLanguageAdapter):
    """``--model tiny-vlm``: the generic HF adapter on the built-in checkpoint (CPU by default).

    It accepts the ``grounding`` prompt mode so that grounding tasks run end to end in the demo
    and tests: having no grounding vocabulary, it gets the prompt text as is. It takes video
    parts as the run of their sampled frames, each an image (LLaVA has no video input of its
    own), so the video demo tasks run end to end on it.
    """

    name = "tiny-vlm"
    prompt_modes = frozenset({"grounding"})
    input_kinds = frozenset({"image", "video"})

    def __init__(
        self,
        pretrained: str | None = None,
        device: str = "cpu",
        dtype: str = "float32",
        prompt_format: str = "raw",
        max_context: int | None = None,
    ) -> None:
        super().__init__(
            pretrained=pretrained or str(tiny_checkpoint()),
            device=device,
            dtype=dtype,
            prompt_format=prompt_format,
            max_context=max_context,
        )

    @staticmethod
    def _as_frames(requests: Sequence[Request]) -> list[Request]:
        return [dataclasses.replace(r, prompt=videos_as_frames(r.prompt)) for r in requests]

    def count_tokens(self, request: Request) -> int | None:
        return super().count_tokens(self._as_frames([request])[0])

    def generate(
        self, requests: Sequence[Request], images: PreparedImages | None = None
    ) -> list[str]:
        return super().generate(self._as_frames(requests), images)

    def loglikelihood(
        self, requests: Sequence[Request], images: PreparedImages | None = None
    ) -> list[list[float]]:
        return super().loglikelihood(self._as_frames(requests), images)

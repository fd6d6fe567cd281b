"""``tiny-t2i``: a Stable Diffusion pipeline of tiny random parts, run by ``diffusers-t2i``.

Like ``tiny-vlm``, it is created from configs with fixed seeds, saved with ``save_pretrained``
under the cache directory on first use, and loaded back with ``from_pretrained`` like a real
checkpoint, so the generation demos (``demo_dreambench_t2i``, ``demo_coco_t2i``...) run offline
end to end. Its images are meaningless. The metric backbones it is scored with (``tiny-clip``,
``tiny-dino``) and the seeding, tokenizer and cached build it shares with them are in
:mod:`emu2_eval.core.tiny_backbones`.
"""

from __future__ import annotations

from pathlib import Path

from emu2_eval.core.tiny_backbones import built_once, seeded, tiny_clip_tokenizer
from emu2_eval.models.diffusers_t2i import DiffusersT2IAdapter

DEFAULT_SCHEDULER = {
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "steps_offset": 1,
}


def save_tiny_sd(directory: Path, seed: int = 0, scheduler_config: dict | None = None) -> Path:
    """A Stable Diffusion pipeline of tiny random parts, via ``save_pretrained``.

    ``scheduler_config`` defaults to SD's scaled-linear betas (tests pass the published one).
    """
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel

    tokenizer = tiny_clip_tokenizer(directory / "tokenizer")
    vocab = len(tokenizer)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=vocab,
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            max_position_embeddings=32,
            bos_token_id=vocab - 2,
            eos_token_id=vocab - 1,
            pad_token_id=vocab - 1,
        )
    )
    unet = UNet2DConditionModel(
        sample_size=8,
        block_out_channels=(16, 32),
        layers_per_block=1,
        norm_num_groups=8,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=16,
        attention_head_dim=4,
    )
    vae = AutoencoderKL(
        block_out_channels=(8, 16),
        layers_per_block=1,
        norm_num_groups=8,
        latent_channels=4,
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        sample_size=16,
    )
    scheduler = EulerDiscreteScheduler.from_config(scheduler_config or DEFAULT_SCHEDULER)
    pipe = StableDiffusionPipeline(
        vae=seeded(vae, seed + 2, 0.1),
        text_encoder=seeded(text_encoder, seed + 3, 0.3),
        tokenizer=tokenizer,
        unet=seeded(unet, seed + 1),
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(directory)
    return directory


def tiny_t2i_checkpoint() -> Path:
    """Path of the built-in tiny text-to-image pipeline, built once under the cache directory."""
    return built_once("tiny-t2i", save_tiny_sd, "model_index.json")


class TinyT2IAdapter(DiffusersT2IAdapter):
    """``--model tiny-t2i``: the diffusers adapter on the built-in pipeline (CPU, float32)."""

    name = "tiny-t2i"

    def __init__(
        self,
        pretrained: str | None = None,
        dtype: str = "float32",
        device: str = "cpu",
        batch_invariant: bool = True,
    ) -> None:
        super().__init__(
            pretrained=pretrained or str(tiny_t2i_checkpoint()),
            dtype=dtype,
            device=device,
            batch_invariant=batch_invariant,
        )

"""Emu2-Gen's sampler: SDXL-style UNet, Euler, classifier-free guidance, VAE decode to uint8.

Follows the published ``EmuVisualGeneration.forward`` (baaivision/Emu ``Emu2/emu/diffusion.py``):
the conditional and unconditional embeddings are stacked (conditional first); the UNet's
``text_time`` added condition gets ``text_embeds`` = the mean of the conditioning tokens and
``time_ids`` = original size + crop (0, 0) + target (H, W), with the published original size
(1024, 1024) whatever the target; latents start as N(0, 1) x ``init_noise_sigma``; guidance is
``uncond + scale * (cond - uncond)`` when scale > 1; decoding is ``vae.decode(latents /
scaling_factor)``, then ``(x / 2 + 0.5).clamp(0, 1)``, x255, rounded, uint8 (quantised once).

One deliberate difference: the initial noise is drawn per image from its own CPU generator
(:mod:`emu2_eval.models.image_requests`) rather than from the global RNG on the GPU, so each
image is reproducible on its own and the same on any device or batch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from emu2_eval.models.image_requests import ImageSettings

PUBLISHED_DEFAULTS = ImageSettings(
    height=1024, width=1024, num_inference_steps=50, guidance_scale=3.0
)
PUBLISHED_ORIGINAL_SIZE = (1024, 1024)
CROP_TOP_LEFT = (0, 0)


def time_ids(original_size: tuple[int, int], height: int, width: int) -> list[int]:
    """SDXL micro-conditioning: original (H, W) + crop (top, left) + target (H, W)."""
    return [*original_size, *CROP_TOP_LEFT, height, width]


def latent_shape(unet: Any, vae_scale_factor: int, settings: ImageSettings) -> tuple[int, ...]:
    """(channels, H / f, W / f); sizes must be multiples of the VAE factor."""
    for name in ("height", "width"):
        if getattr(settings, name) % vae_scale_factor:
            raise ValueError(
                f"generation setting {name}={getattr(settings, name)} must be a multiple of "
                f"{vae_scale_factor} (the VAE's downsampling factor)"
            )
    channels = unet.config.in_channels
    return (channels, settings.height // vae_scale_factor, settings.width // vae_scale_factor)


@torch.no_grad()
def denoise(
    unet: Any,
    scheduler_config: Any,
    cond: torch.Tensor,
    uncond: torch.Tensor,
    noise: torch.Tensor,
    settings: ImageSettings,
    original_size: tuple[int, int] = PUBLISHED_ORIGINAL_SIZE,
) -> torch.Tensor:
    """Final latents for ``noise`` (B, C, h, w) under conditioning ``cond`` (B, n, d).

    ``uncond`` is (1, n, d) and is broadcast to the batch. A fresh scheduler is built from
    ``scheduler_config`` on every call (schedulers keep a step counter).
    """
    from diffusers import EulerDiscreteScheduler

    weight = next(unet.parameters())
    device, dtype = weight.device, weight.dtype
    scheduler = EulerDiscreteScheduler.from_config(scheduler_config)
    scheduler.set_timesteps(settings.num_inference_steps, device=device)
    latents = noise.to(device, dtype) * scheduler.init_noise_sigma
    batch = latents.shape[0]
    guided = settings.guidance_scale > 1.0
    embeds = cond.to(device, dtype)
    if guided:
        embeds = torch.cat([embeds, uncond.to(device, dtype).expand(batch, -1, -1)])
    ids = time_ids(original_size, settings.height, settings.width)
    added = {
        "text_embeds": embeds.mean(dim=1),
        "time_ids": torch.tensor([ids] * embeds.shape[0], device=device, dtype=torch.long),
    }
    for t in scheduler.timesteps:
        model_input = torch.cat([latents] * 2) if guided else latents
        model_input = scheduler.scale_model_input(model_input, t)
        prediction = unet(
            model_input, t, encoder_hidden_states=embeds, added_cond_kwargs=added
        ).sample
        if guided:
            conditional, unconditional = prediction.chunk(2)
            prediction = unconditional + settings.guidance_scale * (conditional - unconditional)
        latents = scheduler.step(prediction, t, latents).prev_sample
    return latents


@torch.no_grad()
def decode_to_uint8(vae: Any, latents: torch.Tensor) -> np.ndarray:
    """(B, H, W, 3) uint8 pictures from latents, quantised once."""
    weight = next(vae.parameters())
    latents = latents.to(weight.device, weight.dtype) / vae.config.scaling_factor
    image = vae.decode(latents).sample
    image = (image / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).float().cpu().numpy()
    return (image * 255).round().astype(np.uint8)

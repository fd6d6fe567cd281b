"""Tiny random text-to-image pipeline and CLIP / DINO metric backbones, built from configs.

Like ``tiny-vlm``, each is created from a config with fixed seeds, saved in its standard layout
(``save_pretrained``) under the cache directory on first use, and loaded back with
``from_pretrained`` like a real checkpoint, so the generation demos (``demo_dreambench_t2i``,
``demo_coco_t2i``...) run offline end to end. Their images and scores are meaningless.

* ``tiny-t2i`` (a model): a Stable Diffusion pipeline of tiny parts, run by ``diffusers-t2i``;
* ``tiny-clip`` / ``tiny-dino`` (metric ``backbone:`` names): a CLIPModel and a DINO-ViT for
  32 px crops (DINO metrics on it need ``resize: 36, crop: 32``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import torch

from emu2_eval.core.staging import staging_dir
from emu2_eval.data.roots import cache_home
from emu2_eval.models.diffusers_t2i import DiffusersT2IAdapter

TINY_GEN_VERSION = "v1"
DEFAULT_SCHEDULER = {
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "steps_offset": 1,
}


def _seeded(model: torch.nn.Module, seed: int, scale: float = 0.2) -> torch.nn.Module:
    """Deterministic random weights (diffusers zero-initialises some output convs)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.randn(param.shape, generator=generator)
            if "norm" in name and name.endswith("weight"):
                param.copy_(1.0 + 0.1 * noise)
            else:
                param.copy_(scale * noise)
    return model.eval()


# -- CLIP tokenizer with a tiny vocabulary ----------------------------------------------------
def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2 / CLIP byte -> printable unicode map (the BPE alphabet)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    bs += list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs), strict=True))


TINY_MERGES = [("t", "h"), ("th", "e</w>"), ("a", "n"), ("i", "n"), ("o", "n</w>"), ("e", "r")]


def write_clip_tokenizer(directory: Path) -> None:
    """vocab.json + merges.txt of a CLIP BPE tokenizer: every byte, the byte + ``</w>``, a few
    merges and the two special tokens (~520 entries)."""
    alphabet = list(_bytes_to_unicode().values())
    vocab_list = alphabet + [c + "</w>" for c in alphabet] + ["".join(m) for m in TINY_MERGES]
    vocab_list += ["<|startoftext|>", "<|endoftext|>"]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.json").write_text(
        json.dumps({tok: i for i, tok in enumerate(vocab_list)}), encoding="utf-8"
    )
    merges = "#version: 0.2\n" + "\n".join(f"{a} {b}" for a, b in TINY_MERGES) + "\n"
    (directory / "merges.txt").write_text(merges, encoding="utf-8")


def tiny_clip_tokenizer(directory: Path):
    from transformers import CLIPTokenizer

    write_clip_tokenizer(directory)
    return CLIPTokenizer.from_pretrained(directory, model_max_length=32)


# -- metric backbones ---------------------------------------------------------------------------
CLIP_IMAGE = 32


def save_tiny_clip(directory: Path, seed: int = 0) -> Path:
    """A CLIPModel (tiny), its tokenizer and a CLIP image processor (shortest edge 36, crop 32)."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    tokenizer = tiny_clip_tokenizer(directory)
    vocab = len(tokenizer)
    config = CLIPConfig(
        text_config={
            "vocab_size": vocab,
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "max_position_embeddings": 32,
            "bos_token_id": vocab - 2,
            "eos_token_id": vocab - 1,
            "pad_token_id": vocab - 1,
        },
        vision_config={
            "image_size": CLIP_IMAGE,
            "patch_size": 8,
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
        },
        projection_dim=8,
    )
    torch.manual_seed(seed)
    model = _seeded(CLIPModel(config), seed, 0.3)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    processor = CLIPImageProcessor(
        size={"shortest_edge": 36}, crop_size={"height": CLIP_IMAGE, "width": CLIP_IMAGE}
    )
    processor.save_pretrained(directory)
    return directory


def save_tiny_dino(directory: Path, seed: int = 0) -> Path:
    """A ViTModel (DINO's architecture, no pooler) for 32 px crops."""
    from transformers import ViTConfig, ViTModel

    config = ViTConfig(
        image_size=CLIP_IMAGE,
        patch_size=8,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
    )
    torch.manual_seed(seed)
    model = _seeded(ViTModel(config, add_pooling_layer=False), seed, 0.3)
    model.save_pretrained(directory)
    return directory


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
        vae=_seeded(vae, seed + 2, 0.1),
        text_encoder=_seeded(text_encoder, seed + 3, 0.3),
        tokenizer=tokenizer,
        unet=_seeded(unet, seed + 1),
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(directory)
    return directory


#: Built-in backbone names (metric ``backbone:`` values) -> their builders.
BUILTIN_BACKBONES: dict[str, Callable[[Path], Path]] = {
    "tiny-clip": save_tiny_clip,
    "tiny-dino": save_tiny_dino,
}


def _built(name: str, build: Callable[[Path], Path], marker: str) -> Path:
    """``<cache>/models/<name>-<version>``, built once (atomically: staging folder, rename)."""
    target = cache_home() / "models" / f"{name}-{TINY_GEN_VERSION}"
    if (target / marker).exists():
        return target
    with staging_dir(target.parent, name) as staging:
        build(staging / "out")
        try:
            os.replace(staging / "out", target)
        except OSError:
            if not (target / marker).exists():
                raise
    return target


def resolve_backbone(backbone: str) -> str:
    """The directory of a built-in backbone name (built on first use); other names unchanged."""
    build = BUILTIN_BACKBONES.get(backbone)
    return str(_built(backbone, build, "config.json")) if build else backbone


def tiny_t2i_checkpoint() -> Path:
    """Path of the built-in tiny text-to-image pipeline, built once under the cache directory."""
    return _built("tiny-t2i", save_tiny_sd, "model_index.json")


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

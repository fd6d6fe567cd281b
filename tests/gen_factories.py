"""Tiny random image-generation models and metric backbones, saved in their real layouts.

* ``TinyEmu2Gen``: BAAI/Emu2-Gen's folders (``multimodal_encoder/`` with ``model.bf16-*`` shards
  and both index files, ``tokenizer/``, ``unet/`` and ``vae/`` with ``.bf16`` weights,
  ``scheduler/``, ``feature_extractor/``, ``model_index.json``). UNet, VAE, scheduler and image
  processor configs are the published ones from ``../shared/emu2_assets/gen_configs`` with only
  the sizes shrunk (same classes, same keys); the encoder is :class:`tests.emu2_factories.TinyEmu2`.
* ``save_tiny_sd``: a Stable Diffusion pipeline (tiny UNet, VAE, CLIP text encoder, a CLIP BPE
  tokenizer with a tiny vocabulary written here) saved with ``save_pretrained``.
* ``save_tiny_clip`` / ``save_tiny_dino``: CLIP and DINO-ViT stand-ins for the metric backbones.

All weights come from fixed seeds. Test modules import the ``*_fixture`` functions.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from emu2_eval.models import tiny_gen
from emu2_eval.models.tiny_gen import (  # noqa: F401  (re-exported for test modules)
    CLIP_IMAGE,
    _seeded,
    save_tiny_clip,
    save_tiny_dino,
    tiny_clip_tokenizer,
    write_clip_tokenizer,
)
from tests.emu2_factories import EMU2_ASSETS, TinyEmu2, copy_tokenizer

GEN_CONFIGS = EMU2_ASSETS / "gen_configs"
TINY_WIDTH = 32  # TinyEmu2's d_model: the UNet's cross-attention width
TIME_EMBED = 8

requires_gen_assets = pytest.mark.skipif(
    not (GEN_CONFIGS / "unet_config.json").is_file(),
    reason=f"the published Emu2-Gen configs are not at {GEN_CONFIGS} (../shared/emu2_assets)",
)


def _published(name: str) -> dict:
    return json.loads((GEN_CONFIGS / name).read_text(encoding="utf-8"))


def tiny_unet_config() -> dict:
    """The published Emu2-Gen UNet config with tiny sizes (every key kept)."""
    config = _published("unet_config.json")
    config.pop("_name_or_path", None)
    config.update(
        block_out_channels=[16, 32, 32],
        attention_head_dim=[2, 2, 4],
        transformer_layers_per_block=[1, 1, 1],
        layers_per_block=1,
        norm_num_groups=8,
        cross_attention_dim=TINY_WIDTH,
        addition_time_embed_dim=TIME_EMBED,
        projection_class_embeddings_input_dim=TINY_WIDTH + 6 * TIME_EMBED,
        addition_embed_type_num_heads=2,
        sample_size=4,
    )
    return config


def tiny_vae_config() -> dict:
    """The published Emu2-Gen VAE config (4 blocks: factor 8) with tiny widths."""
    config = _published("vae_config.json")
    config.pop("_name_or_path", None)
    config.update(
        block_out_channels=[8, 8, 16, 16], layers_per_block=1, norm_num_groups=8, sample_size=32
    )
    return config


class TinyEmu2Gen:
    """Write a tiny Emu2-Gen pipeline directory in the published layout."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def save(self, root: Path) -> Path:
        from diffusers import AutoencoderKL, UNet2DConditionModel

        root.mkdir(parents=True, exist_ok=True)
        self._encoder(root / "multimodal_encoder")
        copy_tokenizer(root / "tokenizer", "base")
        unet = _seeded(UNet2DConditionModel.from_config(tiny_unet_config()), self.seed + 1)
        unet.to(torch.bfloat16).save_pretrained(root / "unet", variant="bf16")
        vae = _seeded(AutoencoderKL.from_config(tiny_vae_config()), self.seed + 2, 0.1)
        vae.to(torch.bfloat16).save_pretrained(root / "vae", variant="bf16")
        for folder, name, target in (
            ("scheduler", "scheduler_scheduler_config.json", "scheduler_config.json"),
            (
                "feature_extractor",
                "feature_extractor_preprocessor_config.json",
                "preprocessor_config.json",
            ),
        ):
            (root / folder).mkdir(exist_ok=True)
            (root / folder / target).write_text(json.dumps(_published(name), indent=2))
        index = {
            "_class_name": "EmuVisualGenerationPipeline",
            "_diffusers_version": "0.21.2",
            "feature_extractor": ["transformers", "CLIPImageProcessor"],
            "multimodal_encoder": ["transformers", "AutoModelForCausalLM"],
            "safety_checker": [None, None],
            "scheduler": ["diffusers", "EulerDiscreteScheduler"],
            "tokenizer": ["transformers", "AutoTokenizer"],
            "unet": ["diffusers", "UNet2DConditionModel"],
            "vae": ["diffusers", "AutoencoderKL"],
        }
        (root / "model_index.json").write_text(json.dumps(index, indent=2))
        return root

    def _encoder(self, directory: Path) -> None:
        """Two ``model.bf16-0000i-of-00002.safetensors`` shards and both published indexes."""
        from safetensors.torch import save_file

        tiny = TinyEmu2("base", self.seed)
        state = {k: v.to(torch.bfloat16) for k, v in tiny.build().state_dict().items()}
        names = list(state)
        half = len(names) // 2
        directory.mkdir(parents=True, exist_ok=True)
        weight_map = {}
        for number, chunk in enumerate((names[:half], names[half:]), 1):
            shard = f"model.bf16-{number:05d}-of-00002.safetensors"
            save_file(
                {n: state[n].contiguous() for n in chunk},
                str(directory / shard),
                metadata={"format": "pt"},
            )
            weight_map.update(dict.fromkeys(chunk, shard))
        index = {"metadata": {"total_size": 0}, "weight_map": dict(sorted(weight_map.items()))}
        for name in ("model.safetensors.index.json", "model.safetensors.index.bf16.json"):
            (directory / name).write_text(json.dumps(index, indent=2))
        tiny.config().save_pretrained(directory)


def save_tiny_sd(directory: Path, seed: int = 0) -> Path:
    """The library's tiny SD pipeline, with the published Emu2-Gen scheduler when present."""
    return tiny_gen.save_tiny_sd(directory, seed, _scheduler_config())


def _scheduler_config() -> dict:
    if (GEN_CONFIGS / "scheduler_scheduler_config.json").is_file():
        return _published("scheduler_scheduler_config.json")
    return dict(tiny_gen.DEFAULT_SCHEDULER)

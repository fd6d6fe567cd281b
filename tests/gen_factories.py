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

import torch

from emu2_eval.core.tiny_backbones import (  # noqa: F401  (re-exported for test modules)
    save_tiny_clip,
    save_tiny_dino,
    seeded,
)
from emu2_eval.models import tiny_gen
from tests.emu2_factories import EMU2_ASSETS, TinyEmu2, copy_tokenizer

GEN_CONFIGS = EMU2_ASSETS / "gen_configs"
TINY_WIDTH = 32  # TinyEmu2's d_model: the UNet's cross-attention width
TIME_EMBED = 8

# The published Emu2-Gen component configs (BAAI/Emu2-Gen, diffusers 0.21.2), written out so the
# Emu2-Gen tests run on a clone without ../shared; with ../shared present,
# tests/test_gen_emu2_gen.py::test_in_code_configs_equal_the_published_files checks them.
PUBLISHED_CONFIGS: dict[str, dict] = {
    "unet_config.json": {
        "_class_name": "UNet2DConditionModel", "_diffusers_version": "0.21.2", "act_fn": "silu",
        "addition_embed_type": "text_time", "addition_embed_type_num_heads": 64,
        "addition_time_embed_dim": 256, "attention_head_dim": [5, 10, 20],
        "attention_type": "default", "block_out_channels": [320, 640, 1280],
        "center_input_sample": False, "class_embed_type": None,
        "class_embeddings_concat": False, "conv_in_kernel": 3, "conv_out_kernel": 3,
        "cross_attention_dim": 1792, "cross_attention_norm": None,
        "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
        "downsample_padding": 1, "dropout": 0.0, "dual_cross_attention": False,
        "encoder_hid_dim": None, "encoder_hid_dim_type": None, "flip_sin_to_cos": True,
        "freq_shift": 0, "in_channels": 4, "layers_per_block": 2,
        "mid_block_only_cross_attention": None, "mid_block_scale_factor": 1,
        "mid_block_type": "UNetMidBlock2DCrossAttn", "norm_eps": 1e-05, "norm_num_groups": 32,
        "num_attention_heads": None, "num_class_embeds": None, "only_cross_attention": False,
        "out_channels": 4, "projection_class_embeddings_input_dim": 3328,
        "resnet_out_scale_factor": 1.0, "resnet_skip_time_act": False,
        "resnet_time_scale_shift": "default", "sample_size": 128, "time_cond_proj_dim": None,
        "time_embedding_act_fn": None, "time_embedding_dim": None,
        "time_embedding_type": "positional", "timestep_post_act": None,
        "transformer_layers_per_block": [1, 2, 10],
        "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
        "upcast_attention": None, "use_linear_projection": True,
    },
    "vae_config.json": {
        "_class_name": "AutoencoderKL", "_diffusers_version": "0.21.2", "act_fn": "silu",
        "block_out_channels": [128, 256, 512, 512],
        "down_block_types": ["DownEncoderBlock2D"] * 4, "force_upcast": True, "in_channels": 3,
        "latent_channels": 4, "layers_per_block": 2, "norm_num_groups": 32, "out_channels": 3,
        "sample_size": 1024, "scaling_factor": 0.13025, "up_block_types": ["UpDecoderBlock2D"] * 4,
    },
    "scheduler_scheduler_config.json": {
        "_class_name": "EulerDiscreteScheduler", "_diffusers_version": "0.21.2",
        "beta_end": 0.012, "beta_schedule": "scaled_linear", "beta_start": 0.00085,
        "clip_sample": False, "interpolation_type": "linear", "num_train_timesteps": 1000,
        "prediction_type": "epsilon", "sample_max_value": 1.0, "set_alpha_to_one": False,
        "skip_prk_steps": True, "steps_offset": 1, "timestep_spacing": "leading",
        "trained_betas": None, "use_karras_sigmas": False,
    },
    "feature_extractor_preprocessor_config.json": {
        "crop_size": {"height": 224, "width": 224}, "do_center_crop": True,
        "do_convert_rgb": True, "do_normalize": True, "do_rescale": True, "do_resize": True,
        "feature_extractor_type": "CLIPFeatureExtractor",
        "image_mean": [0.48145466, 0.4578275, 0.40821073],
        "image_processor_type": "CLIPImageProcessor",
        "image_std": [0.26862954, 0.26130258, 0.27577711], "resample": 3,
        "rescale_factor": 0.00392156862745098, "size": {"shortest_edge": 224},
    },
}  # fmt: skip


def _published(name: str) -> dict:
    """A published Emu2-Gen config: the file in ../shared when present, else the in-code copy."""
    path = GEN_CONFIGS / name
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    return json.loads(json.dumps(PUBLISHED_CONFIGS[name]))


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
        unet = seeded(UNet2DConditionModel.from_config(tiny_unet_config()), self.seed + 1)
        unet.to(torch.bfloat16).save_pretrained(root / "unet", variant="bf16")
        vae = seeded(AutoencoderKL.from_config(tiny_vae_config()), self.seed + 2, 0.1)
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
    return _published("scheduler_scheduler_config.json")

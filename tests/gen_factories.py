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

from tests.emu2_factories import EMU2_ASSETS, TOKENIZER_DIR, TinyEmu2, copy_tokenizer

GEN_CONFIGS = EMU2_ASSETS / "gen_configs"
TINY_WIDTH = 32  # TinyEmu2's d_model: the UNet's cross-attention width
TIME_EMBED = 8

requires_gen_assets = pytest.mark.skipif(
    not (GEN_CONFIGS / "unet_config.json").is_file()
    or not (TOKENIZER_DIR / "tokenizer.model").is_file(),
    reason=f"Emu2-Gen configs or tokenizer not found under {EMU2_ASSETS} (../shared/emu2_assets)",
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


def save_tiny_sd(directory: Path, seed: int = 0) -> Path:
    """A Stable Diffusion pipeline of tiny random parts, via ``save_pretrained``."""
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
    scheduler = EulerDiscreteScheduler.from_config(_scheduler_config())
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


def _scheduler_config() -> dict:
    if (GEN_CONFIGS / "scheduler_scheduler_config.json").is_file():
        return _published("scheduler_scheduler_config.json")
    return {"beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012}


# -- fixtures -------------------------------------------------------------------------------------
@pytest.fixture(scope="session", name="tiny_emu2_gen_dir")
def tiny_emu2_gen_dir_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (GEN_CONFIGS / "unet_config.json").is_file():
        pytest.skip(f"Emu2-Gen configs not found at {GEN_CONFIGS} (../shared/emu2_assets)")
    if not (TOKENIZER_DIR / "tokenizer.model").is_file():
        pytest.skip(f"Emu2 tokenizer assets not found at {TOKENIZER_DIR}")
    return TinyEmu2Gen().save(tmp_path_factory.mktemp("tiny_emu2_gen"))


@pytest.fixture(scope="session", name="tiny_sd_dir")
def tiny_sd_dir_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_sd(tmp_path_factory.mktemp("tiny_sd"))


@pytest.fixture(scope="session", name="tiny_clip_dir")
def tiny_clip_dir_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_clip(tmp_path_factory.mktemp("tiny_clip"))


@pytest.fixture(scope="session", name="tiny_dino_dir")
def tiny_dino_dir_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_dino(tmp_path_factory.mktemp("tiny_dino"))

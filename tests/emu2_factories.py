"""TinyEmu2: a tiny random Emu2 / Emu2-Chat saved in the published checkpoint layout.

The architecture is the real one (EVA post-norm blocks, pooled visual tokens, LLaMA decoder, full
32k LLaMA vocabulary plus Emu2's special tokens), only narrow and shallow. Weights come from a
fixed seed, so two builds are byte-identical. The real Emu2/LLaMA tokenizer files are read from
the shared assets (``../shared`` beside the repository); tests skip when they are absent.

Test modules import the ``*_fixture`` functions; pytest knows them by their ``name=``.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from emu2_eval.models.emu2.config import Emu2Config, Emu2VisionConfig
from emu2_eval.models.emu2.constants import PAD_TOKEN, special_tokens
from emu2_eval.models.emu2.loading import save_checkpoint
from emu2_eval.models.emu2.modeling import Emu2ForCausalLM

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
EMU2_ASSETS = SHARED / "emu2_assets"
TOKENIZER_DIR = EMU2_ASSETS / "tokenizer"
TOKENIZER_FILES = ("tokenizer.model", "tokenizer_config.json", "special_tokens_map.json")

requires_emu2_assets = pytest.mark.skipif(
    not (TOKENIZER_DIR / "tokenizer.model").is_file(),
    reason=f"Emu2 tokenizer assets not found at {TOKENIZER_DIR} (shared/emu2_assets)",
)


@dataclass(frozen=True)
class TinyEmu2:
    """A tiny Emu2 configuration; ``variant`` chat adds the two role tokens and 4x the tokens."""

    variant: str = "base"
    seed: int = 0

    def config(self) -> Emu2Config:
        chat = self.variant == "chat"
        vision = Emu2VisionConfig(
            image_size=112,  # 8x8 patch grid
            patch_size=14,
            width=32,
            layers=2,
            head_width=8,
            mlp_ratio=2.0,
            n_query=16 if chat else 4,  # 4x4 or 2x2 pooled grid (Emu2-Chat: 4x the tokens)
            v_query=4,
        )
        return Emu2Config(
            vocab_size=32274 if chat else 32272,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=1024,
            d_model=32,
            model_version=self.variant,
            vision_config=vision,
        )

    def build(self) -> Emu2ForCausalLM:
        """Random weights, large enough that answers do not hinge on near-ties."""
        torch.manual_seed(self.seed)
        model = Emu2ForCausalLM(self.config()).eval()
        generator = torch.Generator().manual_seed(self.seed)
        with torch.no_grad():
            for name, param in model.named_parameters():
                noise = torch.randn(param.shape, generator=generator)
                if "norm" in name and name.endswith("weight"):
                    param.copy_(1.0 + 0.1 * noise)
                elif name.endswith("qkv.bias"):  # the published k slot is zero
                    noise[param.shape[0] // 3 : 2 * param.shape[0] // 3] = 0
                    param.copy_(0.1 * noise)
                else:
                    param.copy_(0.15 * noise)
        return model

    def published_state_dict(
        self, model: Emu2ForCausalLM, split_qkv_bias: bool = False, inv_freq: bool = True
    ) -> dict[str, torch.Tensor]:
        """Tensors as the published files hold them (optionally the native split bias)."""
        state: dict[str, torch.Tensor] = {}
        config = self.config()
        for name, tensor in model.state_dict().items():
            if split_qkv_bias and name.endswith("attn.qkv.bias"):
                q_bias, _, v_bias = tensor.chunk(3)
                state[name.replace("qkv.bias", "q_bias")] = q_bias.clone()
                state[name.replace("qkv.bias", "v_bias")] = v_bias.clone()
                continue
            state[name] = tensor
        if inv_freq:  # transformers 4.31 saved the rotary frequencies with each layer
            head_dim = config.hidden_size // config.num_attention_heads
            freq = 1.0 / (config.rope_theta ** (torch.arange(0, head_dim, 2).float() / head_dim))
            for layer in range(config.num_hidden_layers):
                state[f"model.decoder.lm.model.layers.{layer}.self_attn.rotary_emb.inv_freq"] = (
                    freq.clone()
                )
        return state

    def save(
        self,
        directory: Path,
        safe_serialization: bool = False,
        split_qkv_bias: bool = False,
        max_shard_bytes: int = 6 * 1024**2,
    ) -> Path:
        """Sharded weights + index, config.json, tokenizer files and added_tokens.json."""
        model = self.build()
        state = self.published_state_dict(model, split_qkv_bias=split_qkv_bias)
        save_checkpoint(state, directory, max_shard_bytes, safe_serialization)
        self.config().save_pretrained(directory)
        copy_tokenizer(directory, self.variant)
        return directory


def copy_tokenizer(directory: Path, variant: str) -> None:
    """The LLaMA tokenizer files plus the published-style added_tokens.json of the variant."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        shutil.copyfile(TOKENIZER_DIR / name, directory / name)
    added = {token: 32000 + i for i, token in enumerate([PAD_TOKEN, *special_tokens(variant)])}
    (directory / "added_tokens.json").write_text(json.dumps(added, indent=2), encoding="utf-8")


@pytest.fixture(scope="session", name="tiny_emu2_dir")
def tiny_emu2_dir_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny base Emu2, sharded ``pytorch_model-*.bin`` with index (the published layout)."""
    if not (TOKENIZER_DIR / "tokenizer.model").is_file():
        pytest.skip(f"Emu2 tokenizer assets not found at {TOKENIZER_DIR}")
    return TinyEmu2("base").save(tmp_path_factory.mktemp("tiny_emu2"))


@pytest.fixture(scope="session", name="tiny_emu2_chat_dir")
def tiny_emu2_chat_dir_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny Emu2-Chat, safetensors shards with the native split q/v bias."""
    if not (TOKENIZER_DIR / "tokenizer.model").is_file():
        pytest.skip(f"Emu2 tokenizer assets not found at {TOKENIZER_DIR}")
    return TinyEmu2("chat").save(
        tmp_path_factory.mktemp("tiny_emu2_chat"), safe_serialization=True, split_qkv_bias=True
    )


@pytest.fixture(scope="session", name="tiny_emu2_adapter")
def tiny_emu2_adapter_fixture(tiny_emu2_dir: Path):
    from emu2_eval.models.emu2.adapter import Emu2Adapter

    return Emu2Adapter(pretrained=str(tiny_emu2_dir), device="cpu")


def synthetic_pixels(n_images: int, size: int) -> torch.Tensor:
    """(n, 3, size, size) normalised pixels from a closed form: the same in every environment.

    No random generator is involved, so golden files made with another torch/transformers stack
    (``scripts/make_emu2_golden.py``) see exactly these inputs."""
    k = torch.arange(n_images, dtype=torch.float64).view(-1, 1, 1, 1) + 1
    c = torch.arange(3, dtype=torch.float64).view(1, -1, 1, 1) + 1
    i = torch.arange(size, dtype=torch.float64).view(1, 1, -1, 1) + 1
    j = torch.arange(size, dtype=torch.float64).view(1, 1, 1, -1) + 1
    return (1.6 * torch.sin(0.37 * i * k + 0.23 * j * c) + 0.1 * c).float()


def eos_row(model: Emu2ForCausalLM, scale: float, direction: int) -> list[float]:
    """An ``lm_head`` row for ``</s>`` (id 2): ``scale`` x a seeded unit vector.

    Used to probe decoding where ``</s>`` is likely (first, late, or beams cut at the budget);
    returned as floats so a golden file can carry the exact row."""
    generator = torch.Generator().manual_seed(1000 + direction)
    vector = torch.randn(model.config.hidden_size, generator=generator)
    return (scale * vector / vector.norm()).tolist()

"""Emu2 configuration read from (and written to) the checkpoint's own ``config.json``.

The published BAAI/Emu2 and BAAI/Emu2-Chat ``config.json`` files hold the LLaMA fields at the top
level, ``d_model`` (the EVA width that ``project_up``/``project_down`` connect to),
``model_version`` (``base`` or ``chat``) and a ``vision_config`` mapping for the EVA-02-CLIP-E
encoder. We read the same fields, so a downloaded checkpoint needs no conversion and a tiny test
checkpoint written by :meth:`Emu2Config.to_dict` has the published layout.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

CONFIG_NAME = "config.json"
VARIANTS = ("base", "chat")
# Modules a device map keeps whole (one EVA block, one LLaMA decoder layer).
NO_SPLIT_MODULES = ["EvaBlock", "LlamaDecoderLayer"]


class Emu2ConfigError(ValueError):
    """A config.json that cannot describe an Emu2 model; the message names the file and field."""


@dataclass
class Emu2VisionConfig:
    """EVA-02-CLIP-E-plus as configured by Emu2 (defaults: the published values)."""

    image_size: int = 448
    patch_size: int = 14
    width: int = 1792
    layers: int = 64
    head_width: int = 112
    mlp_ratio: float = 8.571428571428571
    qkv_bias: bool = True
    postnorm: bool = True
    layer_norm_eps: float = 1e-6
    drop_path_rate: float = 0.0
    xattn: bool = False  # xformers in the published code; same math as plain attention
    n_query: int = 64  # visual tokens per image (8x8 pooled grid; Emu2-Chat: 256)
    v_query: int = 64  # visual tokens per video frame
    eva_model_name: str = "eva-clip-E-14-plus"
    intermediate_size: int | None = None  # published alongside mlp_ratio; must agree with it

    @property
    def num_heads(self) -> int:
        return self.width // self.head_width

    @property
    def mlp_hidden(self) -> int:
        # The published code sizes the MLP as int(width * mlp_ratio): 1792 * 8.5714... = 15360.
        return int(self.width * self.mlp_ratio)

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size

    def pool_stride(self, n_query: int) -> int:
        """Average-pool stride that turns the patch grid into ``n_query`` tokens."""
        side = math.isqrt(n_query)
        if side * side != n_query or self.grid % side:
            raise Emu2ConfigError(
                f"n_query={n_query} must be a square whose side divides the {self.grid}x"
                f"{self.grid} patch grid (image_size {self.image_size} / patch {self.patch_size})"
            )
        return self.grid // side


@dataclass
class Emu2Config:
    """The whole model: LLaMA decoder fields, projection width, variant and the vision tower."""

    vocab_size: int = 32272
    hidden_size: int = 6656
    intermediate_size: int = 17920
    num_hidden_layers: int = 60
    num_attention_heads: int = 52
    num_key_value_heads: int | None = None
    max_position_embeddings: int = 2048
    rms_norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    hidden_act: str = "silu"
    pad_token_id: int = 32000
    bos_token_id: int = 1
    eos_token_id: int = 2
    tie_word_embeddings: bool = False
    attention_bias: bool = False
    d_model: int = 1792
    model_version: str = "base"
    vision_config: Emu2VisionConfig = field(default_factory=Emu2VisionConfig)
    torch_dtype: str = "float32"
    # Unused by the model, kept so that a round trip preserves the published file.
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.num_key_value_heads is None:
            self.num_key_value_heads = self.num_attention_heads
        if isinstance(self.vision_config, dict):
            self.vision_config = _vision_from_dict(self.vision_config, "vision_config")
        self.validate()

    # -- checks ------------------------------------------------------------------------------
    def validate(self, source: str = "config") -> None:
        """Reject combinations the architecture cannot build, naming the field at fault."""
        vision = self.vision_config
        problems = []
        if self.model_version not in VARIANTS:
            problems.append(f"model_version {self.model_version!r} is not one of {VARIANTS}")
        if self.d_model != vision.width:
            problems.append(
                f"d_model ({self.d_model}) must equal vision_config.width ({vision.width})"
            )
        if vision.width % vision.head_width:
            problems.append(
                f"vision_config.width ({vision.width}) is not a multiple of head_width "
                f"({vision.head_width})"
            )
        if vision.image_size % vision.patch_size:
            problems.append(
                f"vision_config.image_size ({vision.image_size}) is not a multiple of "
                f"patch_size ({vision.patch_size})"
            )
        if vision.intermediate_size is not None and vision.intermediate_size != vision.mlp_hidden:
            problems.append(
                f"vision_config.intermediate_size ({vision.intermediate_size}) disagrees with "
                f"int(width * mlp_ratio) = {vision.mlp_hidden}"
            )
        if self.hidden_size % self.num_attention_heads:
            problems.append(
                f"hidden_size ({self.hidden_size}) is not a multiple of num_attention_heads "
                f"({self.num_attention_heads})"
            )
        if problems:
            raise Emu2ConfigError(f"{source}: " + "; ".join(problems))
        for name, n_query in (("n_query", vision.n_query), ("v_query", vision.v_query)):
            try:
                vision.pool_stride(n_query)
            except Emu2ConfigError as exc:
                raise Emu2ConfigError(f"{source}: vision_config.{name}: {exc}") from None

    # -- I/O ---------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, raw: dict[str, Any], source: str = "config") -> Emu2Config:
        if not isinstance(raw, dict):
            raise Emu2ConfigError(f"{source}: expected a JSON object")
        if "vision_config" not in raw:
            raise Emu2ConfigError(
                f"{source}: no 'vision_config': not an Emu2 checkpoint config (BAAI/Emu2 layout)"
            )
        known = {f.name for f in fields(cls)} - {"extra", "vision_config"}
        kwargs = {k: v for k, v in raw.items() if k in known}
        extra = {k: v for k, v in raw.items() if k not in known and k != "vision_config"}
        try:
            vision = _vision_from_dict(raw["vision_config"], f"{source}: vision_config")
            config = cls(**kwargs, vision_config=vision, extra=extra)
        except Emu2ConfigError as exc:
            raise Emu2ConfigError(f"{source}: {exc}") from None
        except TypeError as exc:
            raise Emu2ConfigError(f"{source}: {exc}") from None
        return config

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> Emu2Config:
        path = Path(directory) / CONFIG_NAME
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} not found: is {directory} an Emu2 checkpoint directory?"
            )
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise Emu2ConfigError(f"{path}: invalid JSON ({exc})") from None
        return cls.from_dict(raw, str(path))

    def to_dict(self) -> dict[str, Any]:
        """The published config.json layout (``EmuForCausalLM``, ``vision_config`` nested)."""
        out: dict[str, Any] = {"architectures": ["EmuForCausalLM"], **self.extra}
        for f in fields(self):
            if f.name in ("extra", "vision_config"):
                continue
            out[f.name] = getattr(self, f.name)
        vision = asdict(self.vision_config)
        if vision["intermediate_size"] is None:
            vision["intermediate_size"] = self.vision_config.mlp_hidden
        out["vision_config"] = vision
        return dict(sorted(out.items()))

    def save_pretrained(self, directory: str | Path) -> Path:
        path = Path(directory) / CONFIG_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path

    # -- derived -----------------------------------------------------------------------------
    def llama_config(self, attn_implementation: str | None = None) -> Any:
        """The decoder's ``transformers.LlamaConfig`` (LLaMA-33B for the published weights)."""
        from transformers import LlamaConfig

        config = LlamaConfig(
            vocab_size=self.vocab_size,
            hidden_size=self.hidden_size,
            intermediate_size=self.intermediate_size,
            num_hidden_layers=self.num_hidden_layers,
            num_attention_heads=self.num_attention_heads,
            num_key_value_heads=self.num_key_value_heads,
            max_position_embeddings=self.max_position_embeddings,
            rms_norm_eps=self.rms_norm_eps,
            rope_parameters={"rope_type": "default", "rope_theta": float(self.rope_theta)},
            hidden_act=self.hidden_act,
            pad_token_id=self.pad_token_id,
            bos_token_id=self.bos_token_id,
            eos_token_id=self.eos_token_id,
            tie_word_embeddings=self.tie_word_embeddings,
            attention_bias=self.attention_bias,
        )
        if attn_implementation is not None:
            config._attn_implementation = attn_implementation
        return config


def _vision_from_dict(raw: Any, source: str) -> Emu2VisionConfig:
    if not isinstance(raw, dict):
        raise Emu2ConfigError(f"{source}: expected a JSON object")
    known = {f.name for f in fields(Emu2VisionConfig)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise Emu2ConfigError(f"{source}: unknown field(s) {', '.join(unknown)}")
    return Emu2VisionConfig(**raw)

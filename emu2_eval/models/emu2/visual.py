"""EVA-02-CLIP-E-plus vision tower as Emu2 uses it (448 px, patch 14, 64 post-norm blocks).

Module and parameter names follow the published checkpoint (``patch_embed.proj``, ``cls_token``,
``pos_embed``, ``blocks.N.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}``), so the published
tensors load unchanged. The published files store the attention bias fused as ``attn.qkv.bias`` =
cat(q_bias, 0, v_bias); we keep that layout (one ``nn.Linear`` with bias) and the loader turns the
native code's separate ``q_bias``/``v_bias`` into it. Emu2 uses every block and no final norm, so
there is none here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from emu2_eval.models.emu2.config import Emu2VisionConfig


class EvaPatchEmbed(nn.Module):
    """Non-overlapping patches by a strided convolution, flattened row-major."""

    def __init__(self, config: Emu2VisionConfig) -> None:
        super().__init__()
        self.image_size = config.image_size
        self.proj = nn.Conv2d(
            3, config.width, kernel_size=config.patch_size, stride=config.patch_size
        )

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        height, width = pixel_values.shape[-2:]
        if (height, width) != (self.image_size, self.image_size):
            raise ValueError(
                f"images must be {self.image_size}x{self.image_size} (the learned position "
                f"embeddings are not interpolated); got {height}x{width}"
            )
        return self.proj(pixel_values).flatten(2).transpose(1, 2)


class EvaAttention(nn.Module):
    """Multi-head self-attention; q/k/v from one fused projection (k has no learned bias)."""

    def __init__(self, config: Emu2VisionConfig) -> None:
        super().__init__()
        self.num_heads = config.num_heads
        self.head_dim = config.width // config.num_heads
        self.qkv = nn.Linear(config.width, 3 * config.width, bias=config.qkv_bias)
        self.proj = nn.Linear(config.width, config.width)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        batch, length, width = hidden.shape
        qkv = self.qkv(hidden).reshape(batch, length, 3, self.num_heads, self.head_dim)
        query, key, value = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        out = F.scaled_dot_product_attention(query, key, value, scale=self.head_dim**-0.5)
        return self.proj(out.transpose(1, 2).reshape(batch, length, width))


class EvaMlp(nn.Module):
    """fc1 -> exact GELU -> fc2 (EVA-CLIP-E has no sub-LN and no SwiGLU)."""

    def __init__(self, config: Emu2VisionConfig) -> None:
        super().__init__()
        self.fc1 = nn.Linear(config.width, config.mlp_hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(config.mlp_hidden, config.width)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(hidden)))


class EvaBlock(nn.Module):
    """Transformer block; Emu2's encoder is post-norm: ``x + LN(attn(x))``, ``x + LN(mlp(x))``.

    Kept whole on one device by accelerate device maps (``no_split_module_classes``).
    """

    def __init__(self, config: Emu2VisionConfig) -> None:
        super().__init__()
        self.postnorm = config.postnorm
        self.norm1 = nn.LayerNorm(config.width, eps=config.layer_norm_eps)
        self.attn = EvaAttention(config)
        self.norm2 = nn.LayerNorm(config.width, eps=config.layer_norm_eps)
        self.mlp = EvaMlp(config)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        if self.postnorm:
            hidden = hidden + self.norm1(self.attn(hidden))
            return hidden + self.norm2(self.mlp(hidden))
        hidden = hidden + self.attn(self.norm1(hidden))
        return hidden + self.mlp(self.norm2(hidden))


class EvaVisionTransformer(nn.Module):
    """Patch embedding + CLS token + learned absolute positions + blocks; returns all tokens."""

    def __init__(self, config: Emu2VisionConfig) -> None:
        super().__init__()
        self.config = config
        num_patches = config.grid * config.grid
        self.patch_embed = EvaPatchEmbed(config)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, config.width))
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, config.width))
        self.blocks = nn.ModuleList(EvaBlock(config) for _ in range(config.layers))

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, 1 + grid*grid, width), CLS first, patches row-major."""
        hidden = self.patch_embed(pixel_values)
        cls = self.cls_token.expand(hidden.shape[0], -1, -1)
        hidden = torch.cat([cls, hidden], dim=1) + self.pos_embed
        for block in self.blocks:
            hidden = block(hidden)
        return hidden

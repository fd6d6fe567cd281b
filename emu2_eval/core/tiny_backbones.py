"""Built-in tiny CLIP and DINO backbones (metric ``backbone: tiny-clip`` / ``tiny-dino``) and
the pieces every tiny random model shares: seeded weights, a CLIP BPE tokenizer, a cached build.

Like ``tiny-vlm``, each is created from a config with fixed seeds, saved in its standard layout
(``save_pretrained``) under the cache directory on first use, and loaded back with
``from_pretrained`` like a real checkpoint, so the generation demos run offline end to end. Their
scores are meaningless. The CLIP is for 32 px crops; DINO metrics on ``tiny-dino`` need
``resize: 36, crop: 32``.

Here in ``core`` because every layer that resolves a backbone name can import it: the metrics
(``scoring``), RICES retrieval (``fewshot``), the preflight (``engine``) and the tiny
text-to-image pipeline (``models.tiny_gen``, which reuses the seeding, tokenizer and cache).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from emu2_eval.core.environment import cache_home
from emu2_eval.core.staging import staging_dir

if TYPE_CHECKING:
    import torch

#: Version of every built-in tiny model's folder name (``<cache>/models/<name>-<version>``).
TINY_GEN_VERSION = "v1"


def seeded(model: torch.nn.Module, seed: int, scale: float = 0.2) -> torch.nn.Module:
    """Deterministic random weights (diffusers zero-initialises some output convs)."""
    import torch

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
    import torch
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
    model = seeded(CLIPModel(config), seed, 0.3)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    processor = CLIPImageProcessor(
        size={"shortest_edge": 36}, crop_size={"height": CLIP_IMAGE, "width": CLIP_IMAGE}
    )
    processor.save_pretrained(directory)
    return directory


def save_tiny_dino(directory: Path, seed: int = 0) -> Path:
    """A ViTModel (DINO's architecture, no pooler) for 32 px crops."""
    import torch
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
    model = seeded(ViTModel(config, add_pooling_layer=False), seed, 0.3)
    model.save_pretrained(directory)
    return directory


#: Built-in backbone names (metric ``backbone:`` values) -> their builders.
BUILTIN_BACKBONES: dict[str, Callable[[Path], Path]] = {
    "tiny-clip": save_tiny_clip,
    "tiny-dino": save_tiny_dino,
}


def built_once(name: str, build: Callable[[Path], Path], marker: str) -> Path:
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
    return str(built_once(backbone, build, "config.json")) if build else backbone

"""Where the weights go: one device, or several GPUs through an accelerate device map.

The per-device memory budget always comes from the user (``max_memory=0:70GiB;1:70GiB``), never
from constants here. Device maps keep each EVA block and each LLaMA decoder layer whole, and put
the LM head on the device of the input embeddings (the published model card's recipe).
"""

from __future__ import annotations

from typing import Any

import torch

from emu2_eval.models.emu2.config import NO_SPLIT_MODULES

EMBED = "model.decoder.lm.model.embed_tokens"
LM_HEAD = "model.decoder.lm.lm_head"


def device_of(device_map: dict[str, Any], name: str) -> Any:
    """The device a device map assigns to a parameter or module (longest matching prefix)."""
    best, best_len = None, -1
    for prefix, device in device_map.items():
        if prefix == "" or name == prefix or name.startswith(prefix + "."):
            if len(prefix) > best_len:
                best, best_len = device, len(prefix)
    if best is None:
        raise KeyError(f"device map has no entry covering {name!r}")
    return best


def infer_device_map(
    model: torch.nn.Module, max_memory: dict[Any, str], dtype: torch.dtype
) -> dict[str, Any]:
    """accelerate's balanced-by-budget map, with whole blocks and LM head beside the embeddings."""
    from accelerate import infer_auto_device_map

    device_map = infer_auto_device_map(
        model, max_memory=max_memory, no_split_module_classes=NO_SPLIT_MODULES, dtype=dtype
    )
    if any(device == "disk" for device in device_map.values()):
        raise ValueError(
            f"max_memory={max_memory} is too small for this model: part of it would go to disk, "
            "which Emu2 loading does not support; raise the budget or add GPUs"
        )
    embed_device = device_of(device_map, EMBED)
    if device_of(device_map, LM_HEAD) != embed_device:
        # Their common parent spans both devices, so the head already has its own entry.
        device_map = {**device_map, LM_HEAD: embed_device}
    return device_map


def main_device(device_map: dict[str, Any]) -> Any:
    """Device of the input embeddings: where input ids and attention masks must go."""
    return device_of(device_map, EMBED)

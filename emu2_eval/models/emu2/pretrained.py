"""``from_pretrained`` for Emu2: a local directory or a hub id, placed on one or several devices.

Steps: read config.json -> build the model with empty (meta) weights -> decide placement (one
device, or an accelerate device map from ``max_memory``) -> stream the shards straight to their
devices in the compute dtype (optionally quantising the decoder) -> attach accelerate hooks when
the model spans several devices.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from emu2_eval.core.devices import parse_model_max_memory, resolve_device
from emu2_eval.models.emu2.config import Emu2Config
from emu2_eval.models.emu2.loading import load_weights
from emu2_eval.models.emu2.modeling import Emu2ForCausalLM
from emu2_eval.models.emu2.placement import device_of, infer_device_map, main_device
from emu2_eval.models.hub import local_or_hub, snapshot_fetch

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
HUB_PATTERNS = ["*.json", "*.model", "*.bin", "*.safetensors", "*.py"]


@dataclass
class LoadReport:
    """What was loaded, from where, onto which devices (recorded in the run manifest)."""

    path: str
    dtype: str
    device: str
    device_map: dict[str, Any] | None = None
    quantization: str | None = None
    files: list[str] = field(default_factory=list)
    tensors: int = 0
    dropped: int = 0
    seconds: float = 0.0
    weights: str = "checkpoint"  # or "random (seed N)": see random_init.py


def resolve_checkpoint(path_or_hub_id: str | Path, revision: str | None = None) -> Path:
    """A local directory as is; otherwise a Hugging Face hub id fetched into the local cache."""
    return local_or_hub(
        path_or_hub_id,
        snapshot_fetch(revision, HUB_PATTERNS),
        "checkpoint directory",
        "a downloadable hub repository",
    )


def resolve_dtype(dtype: str | torch.dtype, device: str) -> torch.dtype:
    """``auto``: bf16 on GPUs (how Emu2 is run), fp32 on CPU (where bf16 matmuls are slow)."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype == "auto":
        return torch.bfloat16 if not str(device).startswith("cpu") else torch.float32
    if dtype not in DTYPES:
        raise ValueError(f"dtype {dtype!r} is not one of auto, {', '.join(DTYPES)}")
    return DTYPES[dtype]


def build_empty(config: Emu2Config, attn_implementation: str | None = None) -> Emu2ForCausalLM:
    """The full architecture with parameters on the meta device (buffers stay real)."""
    from accelerate import init_empty_weights

    with init_empty_weights():
        return Emu2ForCausalLM(config, attn_implementation=attn_implementation)


def from_pretrained(
    path_or_hub_id: str | Path,
    dtype: str | torch.dtype = "auto",
    device: str = "auto",
    device_map: str | dict[str, Any] | None = None,
    max_memory: str | dict[Any, str] | None = None,
    load_in_8bit: bool = False,
    load_in_4bit: bool = False,
    attn_implementation: str | None = None,
    revision: str | None = None,
    config: Emu2Config | None = None,
    random_weights: bool = False,
    seed: int = 0,
) -> tuple[Emu2ForCausalLM, LoadReport]:
    """Load published Emu2/Emu2-Chat weights unchanged.

    ``device_map``: None (everything on ``device``), ``"auto"`` (accelerate map over the GPUs in
    ``max_memory``), or an explicit {module: device} mapping. ``random_weights``: read only
    config.json and draw the weights (``seed``) on their devices, for speed and memory checks.
    """
    start = time.perf_counter()
    if load_in_8bit and load_in_4bit:
        raise ValueError("choose one of load_in_8bit and load_in_4bit")
    path = resolve_checkpoint(path_or_hub_id, revision)
    config = config or Emu2Config.from_pretrained(path)
    budget = parse_model_max_memory(max_memory)
    if budget is not None and device_map is None:
        device_map = "auto"
    target = resolve_device(device)
    gpus = [d for d in (budget or {}) if isinstance(d, int)]
    torch_dtype = resolve_dtype(dtype, "cuda" if device_map and (gpus or not budget) else target)
    model = build_empty(config, attn_implementation)
    bits = 8 if load_in_8bit else 4 if load_in_4bit else None
    setter = None
    if bits is not None:
        from emu2_eval.models.emu2.quantization import quantized_setter, replace_decoder_linears

        replace_decoder_linears(model, bits, torch_dtype)
        setter = quantized_setter(bits)
    if device_map == "auto":
        if budget is None:
            raise ValueError(
                "device_map=auto needs max_memory (e.g. max_memory=0:70GiB;1:70GiB): the "
                "per-device budget is never guessed"
            )
        device_map = infer_device_map(model, budget, torch_dtype)
    elif device_map is not None and not isinstance(device_map, dict):
        raise ValueError(f"device_map must be 'auto' or a mapping, got {device_map!r}")

    def place(name: str) -> Any:
        return device_of(device_map, name) if device_map else target

    if random_weights:
        from emu2_eval.models.emu2.random_init import init_random_weights

        info = init_random_weights(model, torch_dtype, place, seed=seed, setter=setter)
    else:
        info = load_weights(model, path, dtype=torch_dtype, device_for=place, setter=setter)
    if device_map:
        from accelerate import dispatch_model

        main = main_device(device_map)
        if set(device_map.values()) != {main}:
            model = dispatch_model(model, device_map=device_map, main_device=main)
        else:
            model.to(main)
    else:
        model.to(target)  # buffers (rotary frequencies) were built on the CPU
    model.eval()
    report = LoadReport(
        path=str(path),
        dtype=str(torch_dtype).removeprefix("torch."),
        device=str(main_device(device_map)) if device_map else target,
        device_map=dict(device_map) if device_map else None,
        quantization=f"bitsandbytes-{bits}bit" if bits else None,
        files=info["files"],
        tensors=info["tensors"],
        dropped=len(info["dropped"]),
        seconds=round(time.perf_counter() - start, 2),
        weights=f"random (seed {seed})" if random_weights else "checkpoint",
    )
    return model, report

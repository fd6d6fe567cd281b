"""Random weights instead of a checkpoint: the full-size architecture for speed and memory checks.

Batching, device maps, memory and throughput depend on shapes, not on values, and a 74 GB
checkpoint is not at hand everywhere (CI, a GPU box without hub access). ``random_weights=true``
gives every tensor a checkpoint would provide, built directly on the device it is placed on, in
the compute dtype: matrices and embeddings from N(0, 0.02) (LLaMA's initializer range), norm
scales 1, biases 0. Each tensor has its own generator seeded from (seed, name), so the weights are
the same whatever the device map. Answers are meaningless; never report them as scores.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from emu2_eval.core.hashing import digest_seed

INIT_STD = 0.02


def tensor_seed(seed: int, name: str) -> int:
    """A 63-bit seed of (seed, tensor name), independent of creation order and placement."""
    return digest_seed(f"{seed}:{name}".encode()) & (2**63 - 1)


def random_tensor(
    name: str, shape: torch.Size, dtype: torch.dtype, device: Any, seed: int
) -> torch.Tensor:
    """The value of one named tensor (see the module docstring for the rule)."""
    device = torch.device(device)
    leaf = name.rsplit(".", 1)[-1]
    if len(shape) <= 1:
        is_scale = leaf == "weight" or "norm" in name.lower()
        fill = torch.ones if is_scale and not leaf.endswith("bias") else torch.zeros
        return fill(shape, dtype=dtype, device=device)
    generator = torch.Generator(device=device).manual_seed(tensor_seed(seed, name))
    value = torch.empty(shape, dtype=dtype, device=device)
    return value.normal_(0.0, INIT_STD, generator=generator)


def init_random_weights(
    model: torch.nn.Module,
    dtype: torch.dtype,
    device_for: Callable[[str], Any],
    seed: int = 0,
    setter: Callable[[torch.nn.Module, str, torch.Tensor, Any], bool] | None = None,
) -> dict[str, Any]:
    """Materialise every parameter and persistent buffer of a meta-device ``model`` at random.

    Returns what :func:`emu2_eval.models.emu2.loading.load_weights` returns for a checkpoint
    (no files), so the load report reads the same.
    """
    from accelerate.utils import set_module_tensor_to_device

    from emu2_eval.models.emu2.loading import expected_tensors

    expected = expected_tensors(model)
    for name, shape in expected.items():
        device = device_for(name)
        value = random_tensor(name, shape, dtype, device, seed)
        if setter is None or not setter(model, name, value, device):
            # dtype: without it accelerate casts back to the empty model's float32
            set_module_tensor_to_device(model, name, device, value=value, dtype=value.dtype)
    return {"files": [], "tensors": len(expected), "dropped": []}

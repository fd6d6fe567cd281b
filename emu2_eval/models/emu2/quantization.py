"""Optional 8-bit / 4-bit decoder weights through bitsandbytes (CUDA only).

Only the LLaMA decoder layers' linear projections are quantised (the bulk of the 37B weights); the
EVA encoder, embeddings, LM head and projections keep the compute dtype. Layers are swapped for
bitsandbytes modules while the model is still empty, and each weight is quantised as it is moved
to its GPU during loading, so the full-precision model never has to fit anywhere at once.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

DECODER_LAYERS = "model.decoder.lm.model.layers"


def require_bitsandbytes(bits: int) -> Any:
    """Import bitsandbytes or explain exactly what is missing."""
    try:
        import bitsandbytes
    except ImportError:
        raise ImportError(
            f"load_in_{bits}bit needs bitsandbytes and a CUDA GPU: pip install bitsandbytes "
            "(or load without load_in_8bit/load_in_4bit)"
        ) from None
    if not torch.cuda.is_available():
        raise RuntimeError(f"load_in_{bits}bit needs a CUDA GPU; none is visible")
    return bitsandbytes


def replace_decoder_linears(model: nn.Module, bits: int, compute_dtype: torch.dtype) -> int:
    """Swap every ``nn.Linear`` inside the decoder layers for a bitsandbytes one (empty weights)."""
    bnb = require_bitsandbytes(bits)
    from accelerate import init_empty_weights

    layers = model.get_submodule(DECODER_LAYERS)
    count = 0
    for parent in list(layers.modules()):
        for child_name, child in list(parent.named_children()):
            if type(child) is not nn.Linear:
                continue
            with init_empty_weights():
                if bits == 8:
                    new = bnb.nn.Linear8bitLt(
                        child.in_features,
                        child.out_features,
                        bias=child.bias is not None,
                        has_fp16_weights=False,
                    )
                else:
                    new = bnb.nn.Linear4bit(
                        child.in_features,
                        child.out_features,
                        bias=child.bias is not None,
                        compute_dtype=compute_dtype,
                        quant_type="nf4",
                    )
            setattr(parent, child_name, new)
            count += 1
    return count


def quantized_setter(bits: int) -> Any:
    """A ``load_weights`` hook that quantises decoder-layer weights on their way to the GPU."""
    bnb = require_bitsandbytes(bits)

    def setter(model: nn.Module, name: str, tensor: torch.Tensor, device: Any) -> bool:
        if not (name.startswith(DECODER_LAYERS) and name.endswith(".weight")):
            return False
        module = model.get_submodule(name.rsplit(".", 1)[0])
        if bits == 8 and isinstance(module, bnb.nn.Linear8bitLt):
            param = bnb.nn.Int8Params(tensor, requires_grad=False, has_fp16_weights=False)
        elif bits == 4 and isinstance(module, bnb.nn.Linear4bit):
            try:  # recent bitsandbytes hands the quantisation state to the module itself
                param = bnb.nn.Params4bit(
                    tensor, requires_grad=False, quant_type="nf4", module=module
                )
            except TypeError:
                param = bnb.nn.Params4bit(tensor, requires_grad=False, quant_type="nf4")
        else:
            return False
        if str(device) == "cpu":
            raise RuntimeError(f"{name}: quantised layers must be placed on a GPU, not the CPU")
        module.weight = param.to(device)
        return True

    return setter

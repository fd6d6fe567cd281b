"""emu2_eval: an evaluation harness for Emu2 and other multimodal models.

``emu2_eval.evaluate(model=..., tasks=[...])`` (alias ``simple_evaluate``) is the Python API
(:mod:`emu2_eval.api`); it is imported on first use, so ``import emu2_eval`` stays light.
"""

from typing import Any

__version__ = "0.1.0"
__all__ = ["evaluate", "simple_evaluate"]


def __getattr__(name: str) -> Any:
    if name in ("evaluate", "simple_evaluate"):
        from emu2_eval import api

        return getattr(api, name)
    raise AttributeError(f"module 'emu2_eval' has no attribute {name!r}")

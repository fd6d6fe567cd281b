"""The published BAAI/Emu2-Gen layout: one folder per pipeline component.

``multimodal_encoder/`` (Emu2 ``config.json`` + ``model.bf16-*.safetensors`` with its index),
``tokenizer/`` (LLaMA ``tokenizer.model`` + Emu2's added tokens), ``unet/`` and ``vae/``
(diffusers configs + ``diffusion_pytorch_model[.bf16].safetensors``), ``scheduler/``
(``EulerDiscreteScheduler``), ``feature_extractor/`` and ``safety_checker/`` (unused here), plus
``model_index.json`` and the remote ``pipeline_emu2_gen.py``. A hub id is fetched into the local
hub cache (offline unless ``--online``); a local directory is used as is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from emu2_eval.models.hub import local_or_hub, snapshot_fetch

REQUIRED = ("multimodal_encoder", "tokenizer", "unet", "vae", "scheduler")
HUB_PATTERNS = [
    "model_index.json",
    "multimodal_encoder/*.json",
    "multimodal_encoder/*.safetensors",
    "tokenizer/*",
    "unet/*",
    "vae/*",
    "scheduler/*",
    "feature_extractor/*",
]
WEIGHT_STEM = "diffusion_pytorch_model"


class Emu2GenLayoutError(FileNotFoundError):
    """A directory that is not in the BAAI/Emu2-Gen layout; the message lists what is missing."""


def resolve_pipeline_dir(path_or_hub_id: str | Path, revision: str | None = None) -> Path:
    """A local pipeline directory, or the hub snapshot of ``path_or_hub_id``."""
    return local_or_hub(
        path_or_hub_id,
        snapshot_fetch(revision, HUB_PATTERNS),
        "Emu2-Gen pipeline directory",
        "a hub repository in the local cache",
        error=Emu2GenLayoutError,
        hint="; download it first or run with --online",
    )


def check_layout(root: Path) -> dict[str, Any]:
    """Raise naming every missing component; return ``model_index.json`` (empty if absent)."""
    missing = [name for name in REQUIRED if not (root / name).is_dir()]
    if missing:
        present = sorted(p.name for p in root.iterdir()) if root.is_dir() else []
        raise Emu2GenLayoutError(
            f"{root} is not in the BAAI/Emu2-Gen layout: missing folder(s) {', '.join(missing)} "
            f"(found: {', '.join(present) or 'nothing'})"
        )
    index = root / "model_index.json"
    if not index.is_file():
        return {}
    try:
        return json.loads(index.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise Emu2GenLayoutError(f"{index}: invalid JSON ({exc})") from None


def weights_variant(component: Path, requested: str | None = None) -> str | None:
    """The diffusers weight variant to load from ``component`` (``bf16`` for the published files).

    ``requested`` wins when given; otherwise plain weights are preferred and a single variant
    is taken when only that exists. Several variants and no choice is an error, not a guess.
    """
    if requested is not None:
        return requested or None
    names = [p.name for p in component.glob(f"{WEIGHT_STEM}*")]
    if any(n in (f"{WEIGHT_STEM}.safetensors", f"{WEIGHT_STEM}.bin") for n in names):
        return None
    variants = sorted({n.split(".")[1] for n in names if n.count(".") == 2})
    if len(variants) == 1:
        return variants[0]
    if not variants:
        raise Emu2GenLayoutError(f"no {WEIGHT_STEM}*.safetensors/bin weights in {component}")
    raise Emu2GenLayoutError(
        f"{component} holds weight variants {', '.join(variants)}: choose one with variant=..."
    )

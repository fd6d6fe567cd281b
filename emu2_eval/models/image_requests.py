"""What every image-generation adapter reads from a ``generate_images`` request.

Settings come from the task's ``generation:`` block (height, width, num_inference_steps,
guidance_scale, num_images_per_prompt, seed) over the adapter's published defaults. Every image
has its own seed, a pure function of (task, doc id, image index, seed), drawn into a private
``torch.Generator``: the same images come out whatever the batch size, process count or order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from emu2_eval.core.hashing import hash_seed
from emu2_eval.core.prompts import ImagePart, Part, TextPart
from emu2_eval.core.requests import Request


@dataclass(frozen=True)
class ImageSettings:
    """Sampler settings of one request (the adapter's defaults, overridden by the task)."""

    height: int
    width: int
    num_inference_steps: int
    guidance_scale: float
    num_images_per_prompt: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("height", "width", "num_inference_steps", "num_images_per_prompt"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"generation setting {name} must be a positive integer: {value!r}")
        if not isinstance(self.guidance_scale, (int, float)) or isinstance(
            self.guidance_scale, bool
        ):
            raise ValueError(
                f"generation setting guidance_scale must be a number: {self.guidance_scale!r}"
            )

    def override(self, options: Mapping[str, Any]) -> ImageSettings:
        """These settings with the request's options on top; other option keys are ignored."""
        return replace(self, **{k: options[k] for k in SETTING_KEYS if k in options})

    def describe(self) -> dict[str, Any]:
        return asdict(self)


# The ``generation:`` keys an image request reads: the fields above (listed once).
SETTING_KEYS = tuple(f.name for f in fields(ImageSettings))


def image_seed(task: str, doc_id: str, index: int, seed: int) -> int:
    """A 63-bit seed that depends only on (task, doc id, image index, seed).

    Hashing (not ``seed + index``) keeps each image's noise fixed when the dataset is sharded,
    batched differently, limited or reordered.
    """
    return hash_seed("image", task, doc_id, index, seed) >> 1


def image_generators(request: Request, settings: ImageSettings) -> list[Any]:
    """One CPU ``torch.Generator`` per image of the request (CPU: device-independent noise)."""
    import torch

    return [
        torch.Generator("cpu").manual_seed(
            image_seed(request.task, request.doc_id, index, settings.seed)
        )
        for index in range(settings.num_images_per_prompt)
    ]


def initial_noise(generators: list[Any], shape: tuple[int, ...]) -> Any:
    """Standard normal latents, one row per generator, drawn on the CPU in float32."""
    import torch

    return torch.stack([torch.randn(shape, generator=g, dtype=torch.float32) for g in generators])


def prompt_text_only(parts: tuple[Part, ...], adapter: str) -> str:
    """The text of a prompt for text-only generators; an image part is a clear error."""
    if any(isinstance(p, ImagePart) for p in parts):
        raise ValueError(
            f"model {adapter!r} generates from text only, but the prompt holds an image: use a "
            "text prompt profile (e.g. emu2_gen_dreambench_text) for this task"
        )
    return "".join(p.text for p in parts if isinstance(p, TextPart))

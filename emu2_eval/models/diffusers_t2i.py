"""``diffusers-t2i`` adapter: any diffusers text-to-image pipeline (Stable Diffusion, SDXL...).

So that Emu2-Gen can be compared with other checkpoints on the same tasks and metrics. The
pipeline comes from ``AutoPipelineForText2Image.from_pretrained`` (``pipeline=auto``) or
``DiffusionPipeline.from_pretrained`` (``pipeline=generic``), from a hub id or a local directory.
Defaults (size, steps, guidance) are the pipeline's own ``__call__`` defaults, recorded in the
manifest; the task's generation settings override them. Each image gets its own generator
(:mod:`emu2_eval.models.image_requests`), and diffusers draws each image's latents from its
generator, so images do not depend on batching. The safety checker is off unless asked for
(a blacked-out image would be scored as a generation).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from emu2_eval.core.requests import Request
from emu2_eval.models.base import ModelAdapter
from emu2_eval.models.fingerprint import checkpoint_fingerprint
from emu2_eval.models.hub import local_or_hub

PIPELINE_LOADERS = ("auto", "generic")
FALLBACK_STEPS, FALLBACK_GUIDANCE = 50, 7.5


def _resolve(pretrained: str, revision: str | None, variant: str | None) -> Path:
    def fetch(hub_id: str) -> str:
        from diffusers import DiffusionPipeline

        return DiffusionPipeline.download(hub_id, revision=revision, variant=variant)

    return local_or_hub(
        pretrained,
        fetch,
        "diffusers pipeline directory",
        "a pipeline in the local hub cache",
        hint="; download it first or run with --online",
    )


class DiffusersT2IAdapter(ModelAdapter):
    """A diffusers text-to-image pipeline; prompts must be text only."""

    name = "diffusers-t2i"
    supported_kinds = frozenset({"generate_images"})

    def __init__(
        self,
        pretrained: str,
        dtype: str = "auto",
        device: str = "auto",
        variant: str | None = None,
        revision: str | None = None,
        pipeline: str = "auto",
        safety_checker: bool = False,
        batch_invariant: bool = True,
    ) -> None:
        from diffusers import AutoPipelineForText2Image, DiffusionPipeline

        from emu2_eval.core.devices import resolve_device
        from emu2_eval.models.emu2.pretrained import resolve_dtype

        if pipeline not in PIPELINE_LOADERS:
            raise ValueError(f"pipeline {pipeline!r} is not one of {', '.join(PIPELINE_LOADERS)}")
        self.pretrained = str(pretrained)
        self.path = _resolve(pretrained, revision, variant)
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.variant = variant
        self.safety_checker = bool(safety_checker)
        self.batch_invariant = bool(batch_invariant)
        self.loader = pipeline
        components = json.loads((self.path / "model_index.json").read_text(encoding="utf-8"))
        extra: dict[str, Any] = {}
        if "safety_checker" in components and not safety_checker:
            extra["safety_checker"] = None
        cls = AutoPipelineForText2Image if pipeline == "auto" else DiffusionPipeline
        self.pipe = cls.from_pretrained(
            self.path, torch_dtype=self.dtype, variant=variant, **extra
        ).to(self.device)
        self.pipe.set_progress_bar_config(disable=True)
        self.defaults = self._pipeline_defaults()

    @classmethod
    def from_loaded(cls, pipe: Any, batch_invariant: bool = True) -> DiffusersT2IAdapter:
        """Wrap a pipeline the caller already loaded (``emu2_eval.evaluate(model=pipe)``).

        Its fingerprint comes from the directory it was loaded from (``name_or_path``), as for
        ``pretrained=``: components swapped in memory are not seen, so give it its own output.
        """
        name = getattr(pipe, "name_or_path", None) or pipe.config.get("_name_or_path")
        if not name:
            raise ValueError(
                "the pipeline has no name_or_path (it was not loaded with from_pretrained): "
                "save it with save_pretrained and load it from that directory"
            )
        self = cls.__new__(cls)
        self.pretrained = str(name)
        self.path = _resolve(self.pretrained, None, None)
        self.device = str(pipe.device)
        self.dtype = pipe.dtype
        self.variant = None
        self.safety_checker = getattr(pipe, "safety_checker", None) is not None
        self.batch_invariant = bool(batch_invariant)
        self.loader = "loaded"
        self.pipe = pipe
        self.pipe.set_progress_bar_config(disable=True)
        self.defaults = self._pipeline_defaults()
        return self

    def _pipeline_defaults(self) -> Any:
        """The pipeline's own defaults (size from the UNet, steps and guidance from __call__)."""
        from emu2_eval.models.image_requests import ImageSettings

        params = inspect.signature(self.pipe.__call__).parameters

        def default(name: str, fallback: Any) -> Any:
            value = params[name].default if name in params else inspect.Parameter.empty
            return fallback if value in (inspect.Parameter.empty, None) else value

        size = self.pipe.unet.config.sample_size * self.pipe.vae_scale_factor
        return ImageSettings(
            height=size,
            width=size,
            num_inference_steps=default("num_inference_steps", FALLBACK_STEPS),
            guidance_scale=float(default("guidance_scale", FALLBACK_GUIDANCE)),
        )

    # -- identity ----------------------------------------------------------------------------
    def _settings(self) -> dict[str, Any]:
        return {
            "adapter": self.name,
            "pipeline_class": type(self.pipe).__name__,
            "dtype": str(self.dtype).removeprefix("torch."),
            "variant": self.variant,
            "safety_checker": self.safety_checker,
            "batch_invariant": self.batch_invariant,
        }

    def fingerprint(self) -> str:
        return checkpoint_fingerprint(self.path, self._settings())

    def describe(self) -> dict[str, Any]:
        return {
            **self._settings(),
            "pretrained": self.pretrained,
            "path": str(self.path),
            "loader": self.loader,
            "device": self.device,
            "scheduler": type(self.pipe.scheduler).__name__,
            "generation_defaults": self.defaults.describe(),
            "noise": "per image: torch.Generator seeded by (task, doc id, index, seed)",
        }

    def is_deterministic(self, request: Request) -> bool:
        return True

    # -- requests ----------------------------------------------------------------------------
    def generate_images(self, requests: Sequence[Request]) -> list[list[Any]]:
        """Per request, ``num_images_per_prompt`` PIL images (the pipeline's uint8 output)."""
        groups: dict[Any, list[int]] = {}
        for index, request in enumerate(requests):
            groups.setdefault(index if self.batch_invariant else request.options, []).append(index)
        results: list[list[Any]] = [[] for _ in requests]
        for indices in groups.values():
            batch = [requests[i] for i in indices]
            for index, images in zip(indices, self._generate(batch), strict=True):
                results[index] = images
        return results

    def _generate(self, requests: Sequence[Request]) -> list[list[Any]]:
        from emu2_eval.models.image_requests import image_generators, prompt_text_only

        settings = self.defaults.override(requests[0].options_dict)
        prompts = [prompt_text_only(r.prompt, self.name) for r in requests]
        generators = [g for r in requests for g in image_generators(r, settings)]
        output = self.pipe(
            prompt=prompts,
            height=settings.height,
            width=settings.width,
            num_inference_steps=settings.num_inference_steps,
            guidance_scale=settings.guidance_scale,
            num_images_per_prompt=settings.num_images_per_prompt,
            generator=generators,
            output_type="pil",
        )
        images = list(output.images)
        n = settings.num_images_per_prompt
        return [images[i * n : (i + 1) * n] for i in range(len(requests))]

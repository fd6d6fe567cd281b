"""``emu2-gen`` adapter: BAAI/Emu2-Gen (interleaved prompt -> images) for the harness.

Loads the published layout (:mod:`.layout`): the Emu2 encoder with the native loader of
:mod:`emu2_eval.models.emu2` (same names, same tokenisation options), the UNet, VAE and Euler
scheduler with diffusers. Each request's text and images become Emu2 text with ``[<IMG_PLH>]``
per image; the encoder regresses the conditioning (:mod:`.regression`); the sampler
(:mod:`.sampling`) draws ``num_images_per_prompt`` images, each from its own seed.

``batch_invariant`` (default on) runs each request on its own, so a picture never depends on
which other requests shared its batch (floating-point kernels differ with batch shape); off,
requests with the same settings share the encoder and UNet passes (faster, last-bit differences).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from emu2_eval.core.prompts import ImagePart, TextPart
from emu2_eval.core.requests import Request
from emu2_eval.models.base import ModelAdapter, PreparedImages
from emu2_eval.models.emu2.pixels import Emu2Pixels
from emu2_eval.models.fingerprint import checkpoint_fingerprint
from emu2_eval.tasks.profiles import PromptError

logger = logging.getLogger(__name__)
ORIGINAL_SIZE_CHOICES = ("published", "target")


class Emu2GenAdapter(Emu2Pixels, ModelAdapter):
    """BAAI/Emu2-Gen from a hub id or a local directory in the published layout."""

    name = "emu2-gen"
    supported_kinds = frozenset({"generate_images"})

    def __init__(
        self,
        pretrained: str = "BAAI/Emu2-Gen",
        dtype: str = "auto",
        device: str = "auto",
        device_map: str | None = None,
        max_memory: str | None = None,
        tokenization: str = "reference",
        original_size: str = "published",
        batch_invariant: bool = True,
        variant: str | None = None,
        revision: str | None = None,
        random_weights: bool = False,
        safety_checker: bool = False,
    ) -> None:
        from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel

        from emu2_eval.core.devices import resolve_device
        from emu2_eval.models.emu2.config import Emu2Config
        from emu2_eval.models.emu2.pretrained import from_pretrained, resolve_dtype
        from emu2_eval.models.emu2.tokenization import Emu2Tokenizer
        from emu2_eval.models.emu2_gen.layout import (
            check_layout,
            resolve_pipeline_dir,
            weights_variant,
        )
        from emu2_eval.models.emu2_gen.sampling import PUBLISHED_DEFAULTS

        if original_size not in ORIGINAL_SIZE_CHOICES:
            raise ValueError(
                f"original_size {original_size!r} is not one of {', '.join(ORIGINAL_SIZE_CHOICES)}"
            )
        self.pretrained = str(pretrained)
        self.root = resolve_pipeline_dir(pretrained, revision)
        self.model_index = check_layout(self.root)
        self.original_size = original_size
        self.batch_invariant = bool(batch_invariant)
        encoder_dir = self.root / "multimodal_encoder"
        self.config = Emu2Config.from_pretrained(encoder_dir)
        self.tokenizer = Emu2Tokenizer.from_pretrained(
            self.root, self.config.model_version, tokenization
        )
        self.encoder, self.load_report = from_pretrained(
            encoder_dir,
            dtype=dtype,
            device=device,
            device_map=device_map,
            max_memory=max_memory,
            config=self.config,
            random_weights=random_weights,
        )
        self.encoder.image_token_id = self.tokenizer.token_id("<image>")
        self.encoder.video_token_id = self.tokenizer.token_id("[gIMG]")
        target = self.load_report.device if device_map else resolve_device(device)
        torch_dtype = resolve_dtype(dtype, target)
        self.variants = {}
        if random_weights:  # speed and memory checks: configs only (see emu2/random_init.py)
            self.variants = {"unet": None, "vae": None}
            self.unet = _random_component(UNet2DConditionModel, self.root / "unet")
            self.vae = _random_component(AutoencoderKL, self.root / "vae")
            self.unet.to(device=target, dtype=torch_dtype)
            self.vae.to(device=target, dtype=torch_dtype)
        else:
            for name in ("unet", "vae"):
                self.variants[name] = weights_variant(self.root / name, variant)
            self.unet = UNet2DConditionModel.from_pretrained(
                self.root / "unet", torch_dtype=torch_dtype, variant=self.variants["unet"]
            ).to(target)
            self.vae = AutoencoderKL.from_pretrained(
                self.root / "vae", torch_dtype=torch_dtype, variant=self.variants["vae"]
            ).to(target)
        self.unet.eval()
        self.vae.eval()
        self.scheduler_config = EulerDiscreteScheduler.load_config(self.root / "scheduler")
        self.vae_scale_factor = 2 ** (len(self.vae.config.block_out_channels) - 1)
        self.defaults = PUBLISHED_DEFAULTS
        self._check_dimensions()
        self.safety = None
        if safety_checker:  # the official pipeline's checker: off unless asked for, recorded
            from emu2_eval.models.safety_checker import SafetyChecker

            self.safety = SafetyChecker(self.root, device=target, dtype=torch_dtype)
        self._negatives: dict[str, Any] = {}
        logger.info("Emu2-Gen from %s (%s on %s)", self.root, torch_dtype, target)

    def _check_dimensions(self) -> None:
        """The UNet must take what the encoder regresses (the published 64 x 1792)."""
        width = self.config.d_model
        unet = self.unet.config
        if unet.cross_attention_dim != width:
            raise ValueError(
                f"{self.root}/unet/config.json: cross_attention_dim {unet.cross_attention_dim} "
                f"!= the encoder's d_model {width} ({self.root}/multimodal_encoder/config.json)"
            )
        if unet.addition_embed_type == "text_time":
            expected = width + 6 * unet.addition_time_embed_dim
            if unet.projection_class_embeddings_input_dim != expected:
                raise ValueError(
                    f"{self.root}/unet/config.json: projection_class_embeddings_input_dim "
                    f"{unet.projection_class_embeddings_input_dim} != d_model + 6 x "
                    f"addition_time_embed_dim = {expected}"
                )

    # -- identity ----------------------------------------------------------------------------
    def _settings(self) -> dict[str, Any]:
        weights = self.load_report.weights
        return {
            **({"weights": weights} if weights != "checkpoint" else {}),
            "adapter": self.name,
            "tokenization": self.tokenizer.tokenization,
            "dtype": self.load_report.dtype,
            "n_query": self.config.vision_config.n_query,
            "original_size": self.original_size,
            "batch_invariant": self.batch_invariant,
            "variants": self.variants,
            # only when on, so fingerprints of runs without it stay as they were
            **({"safety_checker": True} if self.safety is not None else {}),
        }

    def fingerprint(self) -> str:
        return checkpoint_fingerprint(self.root, self._settings())

    def describe(self) -> dict[str, Any]:
        from emu2_eval.models.emu2_gen.sampling import PUBLISHED_ORIGINAL_SIZE

        return {
            **self._settings(),
            "pretrained": self.pretrained,
            "path": str(self.root),
            "pipeline_class": self.model_index.get("_class_name"),
            "weights": self.load_report.weights,
            "device": str(next(self.unet.parameters()).device),
            "encoder_device_map": self.load_report.device_map,
            "generation_defaults": self.defaults.describe(),
            "sampler": "EulerDiscreteScheduler (scheduler/scheduler_config.json)",
            "guidance": "uncond + scale * (cond - uncond); uncond = empty-prompt embedding",
            "time_ids": (
                f"original {PUBLISHED_ORIGINAL_SIZE} (published)"
                if self.original_size == "published"
                else "original (H, W) = target"
            )
            + " + crop (0, 0) + target (H, W)",
            "noise": "per image: CPU torch.Generator seeded by (task, doc id, index, seed)",
            "safety_checker": (
                self.safety.describe()
                if self.safety is not None
                else "off (default): evaluation sees the raw samples"
            ),
            "conditioning": f"{self.config.vision_config.n_query} x {self.config.d_model}",
            **self.tokenizer.describe(),
        }

    # -- conditioning ------------------------------------------------------------------------
    def _render(self, request: Request) -> tuple[str, list[Any]]:
        """Emu2 text (placeholders expanded) and the images in order."""
        from emu2_eval.models.emu2.prompting import expand_placeholders, parts_to_text

        text, images = parts_to_text(request.prompt)
        vision = self.config.vision_config
        return expand_placeholders(text, vision.n_query, vision.v_query), images

    def _conditions(self, requests: Sequence[Request], images: PreparedImages) -> tuple[Any, Any]:
        """(B, n, d) conditional embeddings and the (1, n, d) unconditional one."""
        import torch

        from emu2_eval.models.emu2_gen.regression import (
            autoencode_embeddings,
            regress_embeddings,
        )

        rendered = [self._render(r) for r in requests]
        modes = {_autoencoding(r) for r in requests}
        if len(modes) > 1:
            raise ValueError("a batch mixes image-only (autoencoding) and text prompts")
        if modes == {False}:
            pixels = self._pixels([p for _, parts in rendered for p in parts], images)
            cond = regress_embeddings(
                self.encoder, self.tokenizer, [text for text, _ in rendered], pixels
            )
            return cond, self._negative("", lambda: self._empty_prompt())
        if any(len(parts) != 1 for _, parts in rendered):
            raise PromptError("an image-only (autoencoding) prompt takes exactly one image")
        pixels = self._pixels([parts[0] for _, parts in rendered], images)
        cond = autoencode_embeddings(self.encoder, pixels)
        zero = torch.zeros_like(pixels[:1])
        return cond, self._negative(
            "[NULL_IMAGE]", lambda: autoencode_embeddings(self.encoder, zero)
        )

    def _empty_prompt(self) -> Any:
        from emu2_eval.models.emu2_gen.regression import regress_embeddings

        return regress_embeddings(self.encoder, self.tokenizer, [""])

    def _negative(self, key: str, compute: Any) -> Any:
        """Unconditional embeddings, computed once per adapter (as the published pipeline)."""
        if key not in self._negatives:
            self._negatives[key] = compute()
        return self._negatives[key]

    # -- requests ----------------------------------------------------------------------------
    def generate_images(
        self, requests: Sequence[Request], images: PreparedImages | None = None
    ) -> list[list[Any]]:
        """Per request, ``num_images_per_prompt`` PIL images (uint8 RGB)."""
        images = self.images_or_files(images)
        groups: dict[Any, list[int]] = {}
        for index, request in enumerate(requests):
            key = index if self.batch_invariant else (request.options, _autoencoding(request))
            groups.setdefault(key, []).append(index)
        results: list[list[Any]] = [[] for _ in requests]
        for indices in groups.values():
            generated = self._generate_group([requests[i] for i in indices], images)
            for index, pictures in zip(indices, generated, strict=True):
                results[index] = pictures
        return results

    def _generate_group(
        self, requests: Sequence[Request], images: PreparedImages
    ) -> list[list[Any]]:
        import torch
        from PIL import Image

        from emu2_eval.models.emu2_gen.sampling import (
            PUBLISHED_ORIGINAL_SIZE,
            decode_to_uint8,
            denoise,
            latent_shape,
        )
        from emu2_eval.models.image_requests import image_generators, initial_noise

        settings = self.defaults.override(requests[0].options_dict)
        shape = latent_shape(self.unet, self.vae_scale_factor, settings)
        cond, uncond = self._conditions(requests, images)
        per_prompt = settings.num_images_per_prompt
        noise = torch.cat([initial_noise(image_generators(r, settings), shape) for r in requests])
        cond = cond.repeat_interleave(per_prompt, dim=0)
        original = (
            PUBLISHED_ORIGINAL_SIZE
            if self.original_size == "published"
            else (settings.height, settings.width)
        )
        latents = denoise(self.unet, self.scheduler_config, cond, uncond, noise, settings, original)
        pixels = decode_to_uint8(self.vae, latents)
        if self.safety is not None:
            pixels, _ = self.safety(pixels)
        pictures = [Image.fromarray(array) for array in pixels]
        return [pictures[i * per_prompt : (i + 1) * per_prompt] for i in range(len(requests))]

    def is_deterministic(self, request: Request) -> bool:
        """Every image has a fixed seed, so image responses are always reproducible."""
        return True


def _autoencoding(request: Request) -> bool:
    """Images and no text: the published pipeline's autoencoding mode."""
    parts = request.prompt
    return any(isinstance(p, ImagePart) for p in parts) and not any(
        isinstance(p, TextPart) for p in parts
    )


def _random_component(cls: Any, directory: Path) -> Any:
    """A diffusers model from its config.json with the library's own initialisation, seeded
    (the same weights on every load), in float32 on the CPU until the caller moves it."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return cls.from_config(cls.load_config(directory)).eval()

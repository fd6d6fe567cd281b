"""Generic adapter for transformers-native vision-language models.

Works with models loadable by ``AutoModelForImageTextToText`` and ``AutoProcessor`` whose
processor expands an image token in the text: LLaVA-style (one image token per image, expanded
to the patch sequence) and IDEFICS-style (Idefics2/3, SmolVLM: interleaved images in the text).
``prompt_format=raw`` writes the interleaved parts straight into the text (base models, few-shot);
``prompt_format=chat`` goes through the processor's chat template (instruction-tuned models).

Placement: ``device`` (one device), or ``device_map=auto`` with ``max_memory``
(``"0:70GiB;1:70GiB"``) for a device map from accelerate's ``infer_auto_device_map`` over exactly
those devices, keeping the model's no-split modules whole (the engine's topology passes both per
replica).
``feature_cache=N`` keeps the vision tower's output for the N most recently used images and
passes it to the model through transformers' ``mm_encoder_outputs`` instead of pixels, for models
that take it and whose processor gives plain per-image ``pixel_values`` (the LLaVA family); others
run as usual.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from emu2_eval.core.devices import resolve_device
from emu2_eval.core.prompts import ImagePart, Part, TextPart, images_of
from emu2_eval.core.requests import Request
from emu2_eval.models.base import ModelAdapter, PreparedImages
from emu2_eval.models.feature_cache import FeatureCache, image_content_key
from emu2_eval.models.fingerprint import checkpoint_fingerprint

logger = logging.getLogger(__name__)
DTYPES = ("auto", "float32", "bfloat16", "float16")
PROMPT_FORMATS = ("raw", "chat")


class HFVisionLanguageAdapter(ModelAdapter):
    """Any ``AutoModelForImageTextToText`` checkpoint, from a hub id or a local directory."""

    name = "hf-vlm"
    supported_kinds = frozenset({"generate", "loglikelihood"})
    seeds_sampling = True
    #: loglikelihood from one prefill per prompt (False: the per-candidate reference path)
    shared_prefix = True

    def __init__(
        self,
        pretrained: str,
        dtype: str = "auto",
        device: str = "auto",
        device_map: str | None = None,
        prompt_format: str = "raw",
        image_token: str | None = None,
        revision: str | None = None,
        trust_remote_code: bool = False,
        max_context: int | None = None,
        max_memory: str | None = None,
        feature_cache: int = 0,
    ) -> None:
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        if dtype not in DTYPES:
            raise ValueError(f"dtype {dtype!r} is not one of {', '.join(DTYPES)}")
        if prompt_format not in PROMPT_FORMATS:
            raise ValueError(
                f"prompt_format {prompt_format!r} is not one of {', '.join(PROMPT_FORMATS)}"
            )
        self.pretrained = str(pretrained)
        self.device = resolve_device(device)
        if dtype == "auto":
            dtype = "bfloat16" if self.device.startswith("cuda") else "float32"
        self.dtype = dtype
        self.prompt_format = prompt_format
        self.revision = revision
        self.processor = AutoProcessor.from_pretrained(
            self.pretrained, revision=revision, trust_remote_code=trust_remote_code
        )
        load_kwargs: dict[str, Any] = {
            "dtype": getattr(torch, dtype),
            "revision": revision,
            "trust_remote_code": trust_remote_code,
        }
        if max_memory and device_map in (None, "auto"):
            device_map = self._device_map(max_memory, load_kwargs)
        elif max_memory:  # another transformers strategy ("balanced"...) within this budget
            from emu2_eval.core.devices import parse_model_max_memory

            load_kwargs["max_memory"] = parse_model_max_memory(max_memory)
        if device_map:
            load_kwargs["device_map"] = device_map
        self.model = AutoModelForImageTextToText.from_pretrained(self.pretrained, **load_kwargs)
        if not device_map:
            self.model.to(self.device)
        self._finish_setup(image_token, max_context, feature_cache)

    @classmethod
    def from_loaded(
        cls,
        model: Any,
        processor: Any,
        prompt_format: str = "raw",
        image_token: str | None = None,
        max_context: int | None = None,
        feature_cache: int = 0,
    ) -> HFVisionLanguageAdapter:
        """Wrap a model and processor the caller already loaded (the Python API's
        ``emu2_eval.evaluate(model=model_object, processor=...)``), placed where they are.

        The fingerprint comes from the model's ``name_or_path`` (its checkpoint directory's
        files when local), as for a checkpoint loaded by name: weights changed in memory are
        not seen, so give such a model its own output directory.
        """
        if prompt_format not in PROMPT_FORMATS:
            raise ValueError(
                f"prompt_format {prompt_format!r} is not one of {', '.join(PROMPT_FORMATS)}"
            )
        self = cls.__new__(cls)
        self.pretrained = str(getattr(model, "name_or_path", "") or "in-memory-model")
        self.device = str(next(model.parameters()).device)
        self.dtype = str(model.dtype).removeprefix("torch.")
        self.prompt_format = prompt_format
        self.revision = None
        self.processor = processor
        self.model = model
        self._finish_setup(image_token, max_context, feature_cache)
        return self

    def _finish_setup(
        self, image_token: str | None, max_context: int | None, feature_cache: int
    ) -> None:
        """What follows loading the model and processor, however they were obtained."""
        self.model.eval()
        self.tokenizer = getattr(self.processor, "tokenizer", self.processor)
        self.tokenizer.padding_side = "left"  # generation reads the last position of each row
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.image_token = image_token or getattr(self.processor, "image_token", None) or "<image>"
        self.max_context = max_context
        self._image_tokens: int | None = None
        self._fingerprint: str | None = None
        self.scoring_stats: dict[str, int] = {}  # forward passes spent on loglikelihood
        if feature_cache < 0:
            raise ValueError("feature_cache must be >= 0 (0: off)")
        self.features = FeatureCache(feature_cache) if feature_cache else None
        self._takes_features = (
            "mm_encoder_outputs" in inspect.signature(self.model.forward).parameters
        )

    def _device_map(self, max_memory: str, load_kwargs: dict[str, Any]) -> dict[str, Any]:
        """A device map over the devices in ``max_memory`` (no weights are loaded for it)."""
        from accelerate import init_empty_weights
        from transformers import AutoConfig, AutoModelForImageTextToText

        from emu2_eval.core.devices import parse_model_max_memory
        from emu2_eval.models.topology import build_device_map

        config = AutoConfig.from_pretrained(
            self.pretrained,
            revision=load_kwargs["revision"],
            trust_remote_code=load_kwargs["trust_remote_code"],
        )
        with init_empty_weights():
            empty = AutoModelForImageTextToText.from_config(
                config, trust_remote_code=load_kwargs["trust_remote_code"]
            )
        budget = parse_model_max_memory(max_memory)
        assert budget is not None
        return build_device_map(empty, budget, dtype=load_kwargs["dtype"])

    # -- identity -------------------------------------------------------------------------
    def fingerprint(self) -> str:
        if self._fingerprint is None:  # weights do not change while the process runs
            self._fingerprint = self._compute_fingerprint()
        return self._fingerprint

    def _compute_fingerprint(self) -> str:
        settings = {
            "adapter": self.name,
            "dtype": self.dtype,
            "prompt_format": self.prompt_format,
            "image_token": self.image_token,
        }
        local = Path(self.pretrained)
        if local.is_dir():
            return checkpoint_fingerprint(local, settings)
        commit = getattr(self.model.config, "_commit_hash", None) or self.revision or "unknown"
        return checkpoint_fingerprint_remote(self.pretrained, commit, settings)

    def describe(self) -> dict[str, Any]:
        info = {
            "adapter": self.name,
            "pretrained": self.pretrained,
            "dtype": self.dtype,
            "device": str(self.model.device),
            "prompt_format": self.prompt_format,
            "model_class": type(self.model).__name__,
            "parameters": sum(p.numel() for p in self.model.parameters()),
        }
        device_map = getattr(self.model, "hf_device_map", None)
        if device_map and len(set(device_map.values())) > 1:
            info["devices"] = sorted({str(d) for d in device_map.values()})
        return info

    # -- rendering ------------------------------------------------------------------------
    def render(
        self, parts: Sequence[Part], images: PreparedImages | None = None
    ) -> tuple[str, list[Any]]:
        """Text with this model's image token at each image, and the decoded images in order
        (from ``images``, else read from their files)."""
        images = self.images_or_files(images)
        pictures = [images.load(p) for p in parts if isinstance(p, ImagePart)]
        if self.prompt_format == "chat":
            content = [
                {"type": "text", "text": p.text} if isinstance(p, TextPart) else {"type": "image"}
                for p in parts
            ]
            messages = [{"role": "user", "content": content}]
            text = self.processor.apply_chat_template(messages, add_generation_prompt=True)
            return text, pictures
        text = "".join(p.text if isinstance(p, TextPart) else self.image_token for p in parts)
        return text, pictures

    def _encode(self, texts: list[str], images: list[list[Any]]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"text": texts, "return_tensors": "pt", "padding": True}
        if any(images):
            kwargs["images"] = images
        return self.processor(**kwargs).to(self.model.device)

    # -- context budget -------------------------------------------------------------------
    def context_length(self) -> int | None:
        if self.max_context is not None:
            return self.max_context
        config = getattr(self.model.config, "text_config", self.model.config)
        return getattr(config, "max_position_embeddings", None)

    def _tokens_per_image(self) -> int:
        """Tokens one image becomes, measured once by running the processor on a blank image.

        Exact for fixed-size encoders (LLaVA); processors that tile large images (IDEFICS with
        splitting) may use more for big images, so the check is a lower bound for them.
        """
        if self._image_tokens is None:
            from PIL import Image

            blank = Image.new("RGB", (64, 64))
            with_image = self._encode([self.image_token], [[blank]])["input_ids"].shape[1]
            without = len(self.tokenizer(self.image_token).input_ids)
            self._image_tokens = with_image - without + 1
        return self._image_tokens

    def count_tokens(self, request: Request) -> int | None:
        text = "".join(
            p.text if isinstance(p, TextPart) else self.image_token for p in request.prompt
        )
        if self.prompt_format == "chat":
            return None  # the chat template adds tokens we do not model here
        n_images = sum(isinstance(p, ImagePart) for p in request.prompt)
        n_text = len(self.tokenizer(text).input_ids)
        continuation = max(
            (len(self.tokenizer(c).input_ids) for c in request.continuations), default=0
        )
        new_tokens = int(request.options_dict.get("max_new_tokens", 0))
        return n_text + n_images * (self._tokens_per_image() - 1) + continuation + new_tokens

    # -- requests -------------------------------------------------------------------------
    def generate(
        self, requests: Sequence[Request], images: PreparedImages | None = None
    ) -> list[str]:
        """Batched greedy/beam search; seeded sampling runs each request alone under its own
        seed (:mod:`emu2_eval.models.sampling_seed`), so its answer never depends on the batch."""
        from emu2_eval.models.sampling_seed import is_seeded_sampling, request_seed, seeded_rng

        options = requests[0].options_dict
        if any(r.options_dict != options for r in requests):
            raise ValueError("a batch must share generation options")
        if not is_seeded_sampling(options):
            return self._generate_batch(requests, options, images)
        answers = []
        for request in requests:
            with seeded_rng(request_seed(request)):
                answers += self._generate_batch([request], options, images)
        return answers

    def _generate_batch(
        self, requests: Sequence[Request], options: dict[str, Any], images: PreparedImages | None
    ) -> list[str]:
        import torch

        rendered = [self.render(r.prompt, images) for r in requests]
        inputs = self._encode([t for t, _ in rendered], [i for _, i in rendered])
        gen_kwargs = {"max_new_tokens": 10, "do_sample": False, **options}
        gen_kwargs.pop("seed", None)
        gen_kwargs.setdefault("pad_token_id", self.tokenizer.pad_token_id)
        with torch.inference_mode():
            vision = self._vision_inputs(inputs, [images_of(r.prompt) for r in requests])
            output = self.model.generate(**inputs, **vision, **gen_kwargs)
        new_tokens = output[:, inputs["input_ids"].shape[1] :]
        return self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)

    def loglikelihood(
        self, requests: Sequence[Request], images: PreparedImages | None = None
    ) -> list[list[float]]:
        """Sum of log-probabilities of each continuation given the prompt.

        With ``shared_prefix`` (default) each prompt is prefilled once and every candidate is
        scored from its key/value cache
        (:mod:`~emu2_eval.models.prefix_scoring`); otherwise one forward pass per candidate."""
        if not self.shared_prefix:
            return [self._score(request, images) for request in requests]
        import torch

        from emu2_eval.models.prefix_scoring import shared_prefix_scores

        scores = []
        for request in requests:  # alone: a score never depends on the rest of the batch
            text, pictures = self.render(request.prompt, images)
            prompt = self._encode([text], [pictures])
            with torch.inference_mode():
                prompt.update(self._vision_inputs(prompt, [images_of(request.prompt)]))
                scores += shared_prefix_scores(
                    self.model,
                    dict(prompt),
                    [self._continuation_ids(request)],
                    pad_id=self.tokenizer.pad_token_id,
                    stats=self.scoring_stats,
                )
        return scores

    def _continuation_ids(self, request: Request) -> list[list[int]]:
        """Each candidate's ids, tokenised alone without special tokens (both paths use these)."""
        out = []
        for continuation in request.continuations:
            ids = self.tokenizer(continuation, add_special_tokens=False).input_ids
            if not ids:
                raise ValueError(f"continuation {continuation!r} tokenizes to nothing")
            out.append(list(ids))
        return out

    def _score(self, request: Request, images: PreparedImages | None) -> list[float]:
        """The per-request reference path: prompt + candidate, one forward pass per candidate."""
        import torch

        from emu2_eval.models.prefix_scoring import count_pass

        text, pictures = self.render(request.prompt, images)
        prompt = self._encode([text], [pictures])
        with torch.inference_mode():
            prompt.update(self._vision_inputs(prompt, [images_of(request.prompt)]))
        prompt_ids = prompt.pop("input_ids")
        prompt.pop("attention_mask", None)
        scores = []
        for ids in self._continuation_ids(request):
            cont_ids = torch.tensor([ids], device=prompt_ids.device)
            full = torch.cat([prompt_ids, cont_ids], dim=1)
            with torch.inference_mode():
                logits = self.model(input_ids=full, **prompt).logits.float()
            count_pass(self.scoring_stats, full.numel())
            n = cont_ids.shape[1]
            logprobs = torch.log_softmax(logits[0, -n - 1 : -1], dim=-1)
            scores.append(float(logprobs.gather(1, cont_ids[0].unsqueeze(1)).sum()))
        return scores

    # -- visual features ------------------------------------------------------------------
    def _vision_inputs(self, inputs: Any, parts: list[list[ImagePart]]) -> dict[str, Any]:
        """Swap ``pixel_values`` in ``inputs`` for cached encoder outputs (``mm_encoder_outputs``)
        when the feature cache is on and the model and processor allow it; returns what to add.

        Images are encoded only when missing from the cache, each as its own batch of one, so an
        image's features never depend on which other images shared its batch.
        """
        flat = [part for row in parts for part in row]
        pixels = inputs.get("pixel_values") if hasattr(inputs, "get") else None
        usable = (
            self.features is not None
            and self._takes_features
            and pixels is not None
            and set(inputs.keys()) <= {"input_ids", "attention_mask", "pixel_values"}
            and pixels.shape[0] == len(flat)
        )
        if not usable:
            return {}
        keys = [image_content_key(part) for part in flat]
        from transformers.modeling_outputs import BaseModelOutputWithPooling

        assert self.features is not None
        encoder = self.fingerprint()
        features = []
        for position, key in enumerate(keys):
            cached = self.features.get(encoder, key)
            if cached is None:
                output = self.model.get_image_features(pixel_values=pixels[position : position + 1])
                cached = output.pooler_output[0]
                self.features.put(encoder, key, cached)
            features.append(cached)
        del inputs["pixel_values"]
        return {"mm_encoder_outputs": {"image": BaseModelOutputWithPooling(pooler_output=features)}}


def checkpoint_fingerprint_remote(repo_id: str, commit: str, settings: dict[str, Any]) -> str:
    """A hub checkpoint is identified by its id and commit hash."""
    from emu2_eval.core.requests import stable_hash

    return stable_hash({"repo": repo_id, "commit": commit, **settings})

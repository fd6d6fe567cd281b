"""``emu2`` adapter: native Emu2 / Emu2-Chat on current transformers for the harness.

Renders the harness's interleaved parts as Emu2 text (``[<IMG_PLH>]`` per image; Emu2-Chat's
template and system message on top), tokenises with the reference ids by default, and serves
``generate`` (published short-answer defaults unless the task sets its own) and
``loglikelihood`` (sum of continuation-token log-probabilities after the prompt).

``decoding`` names the search semantics, recorded in the fingerprint and ``describe()``:
``emu2_reference`` (default: greedy/beam search exactly as the published code runs them on
transformers 4.31, checked against golden outputs of that code) or ``transformers`` (the
installed ``generate``; needed for sampling and settings the reference search does not have).

``feature_cache=N`` keeps the projected visual tokens of the N most recently used images (keyed
by image content and the model fingerprint) on the model's device, so a few-shot demonstration
that recurs across prompts goes through the 1B-parameter EVA encoder once. With the cache on,
every image is encoded alone, so its tokens do not depend on the rest of the batch; each entry
costs n_query x hidden values (64 x 6656 in bf16: 0.85 MB for Emu2).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from emu2_eval.core.prompts import ImagePart, Part, VideoPart, videos_of
from emu2_eval.core.requests import Request
from emu2_eval.models.base import ModelAdapter, PreparedImages
from emu2_eval.models.emu2.pixels import Emu2Pixels
from emu2_eval.models.emu2.prompting import (
    CHAT_LAYOUTS,
    chat_prompt,
    check_chat_layout,
    expand_placeholders,
    grounding_chat_prompt,
    render_parts,
    system_message,
)
from emu2_eval.models.feature_cache import FeatureCache, image_content_key
from emu2_eval.models.fingerprint import checkpoint_fingerprint

logger = logging.getLogger(__name__)


class Emu2Adapter(Emu2Pixels, ModelAdapter):
    """BAAI/Emu2 or BAAI/Emu2-Chat from a hub id or a local directory in the published layout."""

    name = "emu2"
    supported_kinds = frozenset({"generate", "loglikelihood"})
    # grounding: Emu2-Chat only (supports_prompt_mode checks the loaded variant)
    prompt_modes = frozenset({"grounding"})
    input_kinds = frozenset({"image", "video"})  # video: [VIDEO] + v_query tokens per frame
    seeds_sampling = True
    #: loglikelihood from one prefill per prompt (False: the per-request reference path)
    shared_prefix = True

    def __init__(
        self,
        pretrained: str,
        dtype: str = "auto",
        device: str = "auto",
        device_map: str | None = None,
        max_memory: str | None = None,
        variant: str | None = None,
        tokenization: str = "reference",
        system_message: str = "short",
        chat_layout: str = "native",
        load_in_8bit: bool = False,
        load_in_4bit: bool = False,
        attn_implementation: str | None = None,
        revision: str | None = None,
        feature_cache: int = 0,
        random_weights: bool = False,
        decoding: str = "emu2_reference",
    ) -> None:
        from emu2_eval.models.emu2.config import VARIANTS, Emu2Config
        from emu2_eval.models.emu2.constants import special_tokens
        from emu2_eval.models.emu2.pretrained import from_pretrained, resolve_checkpoint
        from emu2_eval.models.emu2.reference_decoding import check_decoding
        from emu2_eval.models.emu2.tokenization import FIRST_ADDED_ID, Emu2Tokenizer

        if feature_cache < 0:
            raise ValueError("feature_cache must be >= 0 (0: off)")
        self.decoding = check_decoding(decoding)
        self.chat_layout = check_chat_layout(chat_layout)
        path = resolve_checkpoint(pretrained, revision)
        config = Emu2Config.from_pretrained(path)
        variant = variant or config.model_version
        if variant not in VARIANTS:
            raise ValueError(f"variant {variant!r} is not one of {', '.join(VARIANTS)}")
        self.pretrained = str(pretrained)
        self.path = path
        self.variant = variant
        self.system_message = system_message
        needed = FIRST_ADDED_ID + 1 + len(special_tokens(variant))  # LLaMA + [PAD] + specials
        if needed > config.vocab_size:
            raise ValueError(
                f"variant {variant!r} needs {needed} tokens but {path}/config.json has "
                f"vocab_size {config.vocab_size} (model_version {config.model_version!r})"
            )
        self.tokenizer = Emu2Tokenizer.from_pretrained(path, variant, tokenization)
        self.model, self.load_report = from_pretrained(
            path,
            dtype=dtype,
            device=device,
            device_map=device_map,
            max_memory=max_memory,
            load_in_8bit=load_in_8bit,
            load_in_4bit=load_in_4bit,
            attn_implementation=attn_implementation,
            config=config,
            random_weights=random_weights,
        )
        logger.info(
            "Emu2 %s: %d tensors from %s in %.1fs (%s on %s, tokenization %s)",
            variant,
            self.load_report.tensors,
            path,
            self.load_report.seconds,
            self.load_report.dtype,
            self.load_report.device,
            tokenization,
        )
        self.model.image_token_id = self.tokenizer.token_id("<image>")
        self.model.video_token_id = self.tokenizer.token_id("[gIMG]")
        self.config = config
        self.features = FeatureCache(feature_cache) if feature_cache else None
        self._fingerprint: str | None = None
        self.scoring_stats: dict[str, int] = {}  # forward passes spent on loglikelihood

    # -- identity ----------------------------------------------------------------------------
    def _settings(self) -> dict[str, Any]:
        weights = self.load_report.weights
        return {
            **({"weights": weights} if weights != "checkpoint" else {}),
            "adapter": self.name,
            "variant": self.variant,
            "tokenization": self.tokenizer.tokenization,
            "dtype": self.load_report.dtype,
            "quantization": self.load_report.quantization,
            "system_message": self.system_message if self.variant == "chat" else None,
            # only Emu2-Chat has a layout: base fingerprints stay as they were
            **({"chat_layout": self.chat_layout} if self.variant == "chat" else {}),
            "n_query": self.config.vision_config.n_query,
            "decoding": self.decoding,
        }

    def fingerprint(self) -> str:
        if self._fingerprint is None:  # weights do not change while the process runs
            self._fingerprint = checkpoint_fingerprint(Path(self.path), self._settings())
        return self._fingerprint

    def describe(self) -> dict[str, Any]:
        from emu2_eval.models.emu2.generation import PUBLISHED_DEFAULTS

        report = self.load_report
        return {
            **self._settings(),
            "pretrained": self.pretrained,
            "path": report.path,
            "device": report.device,
            "device_map": report.device_map,
            "weights": report.weights,
            "weight_files": len(report.files),
            "tensors_loaded": report.tensors,
            "load_seconds": report.seconds,
            "parameters": sum(p.numel() for p in self.model.parameters()),
            "image_size": self.config.vision_config.image_size,
            "preprocess": "resize bicubic (no crop), CLIP mean/std",
            "chat_template": CHAT_LAYOUTS[self.chat_layout] if self.variant == "chat" else None,
            # prompt mode "grounding" (published chat.py is_grounding=True); answers keep
            # special tokens
            "grounding_template": (
                grounding_chat_prompt("{prompt}", self.chat_layout)
                if self.variant == "chat"
                else None
            ),
            "generation_defaults": PUBLISHED_DEFAULTS,
            "attn_implementation": self.model.lm.config._attn_implementation,
            "feature_cache": self.features.max_entries if self.features else 0,
            **self.tokenizer.describe(),
        }

    def supports_prompt_mode(self, mode: str) -> bool:
        """Grounding is Emu2-Chat's (the published base model has no grounding request)."""
        return not mode or (mode == "grounding" and self.variant == "chat")

    # -- context budget ----------------------------------------------------------------------
    def context_length(self) -> int | None:
        return self.config.max_position_embeddings

    def count_tokens(self, request: Request) -> int | None:
        """Prompt tokens (visual tokens included) + the longest continuation or new tokens."""
        from emu2_eval.models.emu2.generation import PUBLISHED_DEFAULTS

        compact, _ = self._compact(request.prompt, request.mode)
        prompt = len(self._expand_slots(self.tokenizer.encode(compact)))
        continuation = max(
            (len(self.tokenizer.encode_continuation(compact, c)) for c in request.continuations),
            default=0,
        )
        options = {**PUBLISHED_DEFAULTS, **request.options_dict}
        new_tokens = int(options["max_new_tokens"]) if request.kind == "generate" else 0
        return prompt + continuation + new_tokens

    # -- rendering ---------------------------------------------------------------------------
    def _text(self, parts: Sequence[Part], mode: str = "") -> tuple[str, list[ImagePart]]:
        """Emu2 prompt text with ``[<IMG_PLH>]`` / ``[VIDEO][<VID_PLH>]...`` placeholders (chat
        template applied) and the images; videos are read with :func:`videos_of`."""
        if not self.supports_prompt_mode(mode):
            raise ValueError(
                f"prompt mode {mode!r} needs Emu2-Chat (the published grounding request is "
                f"chat.py's); this checkpoint is variant {self.variant!r}"
            )
        text, images, _ = render_parts(parts)
        if mode == "grounding":
            text = grounding_chat_prompt(text, self.chat_layout)
        elif self.variant == "chat":
            text = chat_prompt(text, system_message(self.system_message), self.chat_layout)
        return text, images

    def render(self, parts: Sequence[Part], mode: str = "") -> tuple[str, list[Any]]:
        """Emu2 prompt text (placeholders expanded) and the image parts, in order."""
        text, images = self._text(parts, mode)
        vision = self.config.vision_config
        return expand_placeholders(text, vision.n_query, vision.v_query), images

    def _compact(self, parts: Sequence[Part], mode: str = "") -> tuple[str, list[ImagePart]]:
        """The rendered text with one slot per image (``[IMG]<image>[/IMG]``)."""
        text, images = self._text(parts, mode)
        return expand_placeholders(text, 1, 1), images

    def _expand_slots(self, ids: list[int]) -> list[int]:
        """Ids of the compact text -> ids of the full rendering: each slot token repeated.

        Slots are special tokens, cut out of the text before sentencepiece runs, so this is
        exactly ``tokenizer.encode(render(...))`` (tested, both tokenisations) while tokenising
        17 slots instead of 17 x 64 for a 16-shot prompt.
        """
        vision = self.config.vision_config
        repeats = {
            self.model.image_token_id: vision.n_query,
            self.model.video_token_id: vision.v_query,
        }
        out: list[int] = []
        for token in ids:
            out.extend([token] * repeats.get(token, 1))
        return out

    def encode_prompt(
        self, parts: Sequence[Part], mode: str = ""
    ) -> tuple[list[int], list[ImagePart]]:
        """Token ids of the rendered prompt and its images, in order."""
        compact, images = self._compact(parts, mode)
        return self._expand_slots(self.tokenizer.encode(compact)), images

    def needs_image(self, part: ImagePart) -> bool:
        """Pixels are read only for images whose visual tokens are not in the feature cache."""
        if self.features is None:
            return True
        return (self.fingerprint(), image_content_key(part)) not in self.features

    def _video_features(self, videos: Sequence[VideoPart], images: PreparedImages) -> Any:
        """Projected tokens of every sampled frame of ``videos`` in order, each frame encoded
        with ``v_query`` tokens as the published code does ((frames * v_query, hidden)), or
        None when there are no videos."""
        if not videos:
            return None
        frames = [frame for video in videos for frame in video.frame_parts()]
        pixels = self._pixels(frames, images)
        return self.model.visual_embeddings(pixels, self.config.vision_config.v_query)

    def _image_features(self, parts: Sequence[ImagePart], images: PreparedImages) -> Any:
        """Projected visual tokens of ``parts`` in order, (N * n_query, hidden), or None.

        Without the feature cache all images go through the encoder as one batch; with it,
        only images not seen before do, one at a time.
        """
        if not parts:
            return None
        n_query = self.config.vision_config.n_query
        if self.features is None:
            return self.model.visual_embeddings(self._pixels(parts, images), n_query)
        import torch

        encoder = self.fingerprint()
        rows = []
        for part in parts:
            key = image_content_key(part)
            features = self.features.get(encoder, key)
            if features is None:
                features = self.model.visual_embeddings(self._pixels([part], images), n_query)
                self.features.put(encoder, key, features)
            rows.append(features)
        return torch.cat(rows)

    # -- requests ----------------------------------------------------------------------------
    def generate(
        self, requests: Sequence[Request], images: PreparedImages | None = None
    ) -> list[str]:
        """Batched by shared options (left padding); the batch order of images is kept."""
        images = self.images_or_files(images)
        groups: dict[Any, list[int]] = {}
        for index, request in enumerate(requests):
            groups.setdefault(request.options, []).append(index)
        answers: list[str] = [""] * len(requests)
        for options, indices in groups.items():
            batch = [requests[i] for i in indices]
            texts = self._generate_seeded(batch, dict(options), images)
            for index, text in zip(indices, texts, strict=True):
                answers[index] = text
        return answers

    def _generate_seeded(
        self, requests: Sequence[Request], options: dict[str, Any], images: PreparedImages
    ) -> list[str]:
        """Seeded sampling: each request alone under its own seed (``sampling_seed``), so its
        answer is the same in any batch, process or resumed run; otherwise one batch."""
        from emu2_eval.models.sampling_seed import is_seeded_sampling, request_seed, seeded_rng

        if not is_seeded_sampling(options):
            return self._generate_group(requests, options, images)
        answers = []
        for request in requests:
            with seeded_rng(request_seed(request)):
                answers += self._generate_group([request], options, images)
        return answers

    def _generate_group(
        self, requests: Sequence[Request], options: dict[str, Any], images: PreparedImages
    ) -> list[str]:
        import torch

        from emu2_eval.models.emu2.generation import generation_kwargs, search_options
        from emu2_eval.models.emu2.reference_decoding import SearchSettings, SpecialIds

        rendered = [self.encode_prompt(r.prompt, r.mode) for r in requests]
        input_ids, attention_mask = self.tokenizer.pad([ids for ids, _ in rendered])
        if self.decoding == "emu2_reference":
            kwargs = search_options(options)
            SearchSettings.from_options(kwargs)  # refuse unsupported settings before any work
            kwargs["special_ids"] = SpecialIds(
                bos=self.tokenizer.bos_token_id,
                eos=self.tokenizer.eos_token_id,
                pad=self.tokenizer.pad_token_id,
            )
        else:
            kwargs = generation_kwargs(
                options,
                self.tokenizer.pad_token_id,
                self.tokenizer.bos_token_id,
                self.tokenizer.eos_token_id,
            )
        with torch.inference_mode():
            features = self._image_features([p for _, parts in rendered for p in parts], images)
            videos = [v for r in requests for v in videos_of(r.prompt)]
            video = self._video_features(videos, images)
            output = self.model.generate(
                input_ids,
                attention_mask,
                image_features=features,
                video_features=video,
                decoding=self.decoding,
                **kwargs,
            )
        sequences = output.sequences if hasattr(output, "sequences") else output
        # grounding answers keep their special tokens (<phrase>, <object>...), decoded as the
        # published code does with skip_special_tokens=False
        return [
            self.tokenizer.decode_with_special_tokens(row.tolist())
            if request.mode == "grounding"
            else self.tokenizer.decode(row.tolist())
            for row, request in zip(sequences, requests, strict=True)
        ]

    def loglikelihood(
        self, requests: Sequence[Request], images: PreparedImages | None = None
    ) -> list[list[float]]:
        """Per request, the summed log-probability of each continuation after the prompt.

        With ``shared_prefix`` (default) each prompt is prefilled once and every candidate is
        scored from its key/value cache (:mod:`~emu2_eval.models.prefix_scoring`);
        otherwise each request runs one padded row per candidate (the reference path)."""
        images = self.images_or_files(images)
        if not self.shared_prefix:
            return [self._score(request, images) for request in requests]
        return self._score_shared(requests, images)

    def _score_inputs(self, request: Request) -> tuple[list[int], list[list[int]], list[Any]]:
        """Prompt ids, candidate ids and images: the token ids both scoring paths use."""
        if not request.continuations:
            raise ValueError(f"request {request.doc_id!r} has no continuations to score")
        prompt, images = self._compact(request.prompt, request.mode)
        prompt_ids = self._expand_slots(self.tokenizer.encode(prompt))
        continuations = []
        for text in request.continuations:
            ids = self.tokenizer.encode_continuation(prompt, text)
            if not ids:
                raise ValueError(f"continuation {text!r} tokenizes to nothing")
            continuations.append(ids)
        return prompt_ids, continuations, images

    def _score_shared(
        self, requests: Sequence[Request], images: PreparedImages
    ) -> list[list[float]]:
        """One prefill per prompt, alone, so a score never depends on the rest of the batch."""
        import torch

        from emu2_eval.models.prefix_scoring import shared_prefix_scores

        scores = []
        for request in requests:
            prompt_ids, continuations, parts = self._score_inputs(request)
            input_ids, attention_mask = self.tokenizer.pad([prompt_ids])
            with torch.inference_mode():
                features = self._image_features(parts, images)
                video = self._video_features(videos_of(request.prompt), images)
                embeds = self.model.embed_inputs(
                    input_ids, image_features=features, video_features=video
                )
                prefill = {
                    "inputs_embeds": embeds,
                    "attention_mask": attention_mask.to(embeds.device),
                }
                scores += shared_prefix_scores(
                    self.model.lm,
                    prefill,
                    [continuations],
                    pad_id=self.tokenizer.pad_token_id,
                    stats=self.scoring_stats,
                )
        return scores

    def _score(self, request: Request, images: PreparedImages) -> list[float]:
        """One request, one padded row per candidate (the prompt prefilled K times)."""
        import torch

        from emu2_eval.models.prefix_scoring import count_pass

        prompt_ids, continuations, parts = self._score_inputs(request)
        input_ids, attention_mask = self.tokenizer.pad([prompt_ids + c for c in continuations])
        with torch.inference_mode():
            features = self._image_features(parts, images)
            if features is not None:
                features = features.repeat(len(continuations), 1)
            video = self._video_features(videos_of(request.prompt), images)
            if video is not None:
                video = video.repeat(len(continuations), 1)
            logits = self.model(
                input_ids, attention_mask, image_features=features, video_features=video
            ).float()
        count_pass(self.scoring_stats, input_ids.numel())
        scores = []
        width = input_ids.shape[1]
        for row, ids in enumerate(continuations):
            n = len(ids)
            logprobs = torch.log_softmax(logits[row, width - n - 1 : width - 1], dim=-1)
            target = torch.tensor(ids, device=logprobs.device).unsqueeze(1)
            scores.append(float(logprobs.gather(1, target).sum()))
        return scores

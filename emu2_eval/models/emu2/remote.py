"""``emu2-remote`` adapter: the published ``trust_remote_code`` path, for environments pinned to it.

BAAI/Emu2's remote code (``modeling_emu.py``, ``visual.py``) was written for transformers 4.31.0
and tokenizers 0.13.3 and does not run on current transformers. This adapter refuses to start
unless those versions are installed (saying exactly what to ``pip install``), then follows the
model card: ``AutoTokenizer`` + ``AutoModelForCausalLM(trust_remote_code=True)``,
``model.build_input_ids(...)`` and ``model.generate(...)``; log-likelihoods are computed from
``model.model.encode_image`` and the decoder. Its tokeniser is the model card's fast one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from emu2_eval.core.prompts import ImagePart, Part, TextPart
from emu2_eval.core.requests import Request
from emu2_eval.models.base import ModelAdapter, PreparedImages

REQUIRED_VERSIONS = {"transformers": "4.31.0", "tokenizers": "0.13.3"}


class Emu2RemoteEnvironmentError(RuntimeError):
    """The installed packages cannot run the published remote code."""


def installed_version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def check_remote_environment(
    version_of: Callable[[str], str | None] = installed_version,
) -> dict[str, str]:
    """Installed versions of the pinned packages, or an error naming the ``pip install``."""
    found = {package: version_of(package) for package in REQUIRED_VERSIONS}
    wrong = {p: v for p, v in found.items() if v != REQUIRED_VERSIONS[p]}
    if wrong:
        have = ", ".join(f"{p} {v or 'not installed'}" for p, v in found.items())
        pins = " ".join(f"{p}=={v}" for p, v in REQUIRED_VERSIONS.items())
        raise Emu2RemoteEnvironmentError(
            "emu2-remote runs BAAI/Emu2's published remote code, which needs "
            f"{pins.replace(' ', ' and ')}; this environment has {have}. In a separate virtual "
            f"environment run: pip install {pins} sentencepiece accelerate "
            "(or use the native adapter 'emu2', which runs on current transformers)."
        )
    return {p: str(v) for p, v in found.items()}


class Emu2RemoteAdapter(ModelAdapter):
    """BAAI/Emu2 / Emu2-Chat through ``trust_remote_code`` on the pinned old stack."""

    name = "emu2-remote"
    supported_kinds = frozenset({"generate", "loglikelihood"})
    seeds_sampling = True

    def __init__(
        self,
        pretrained: str,
        dtype: str = "bfloat16",
        device: str = "cuda",
        max_memory: str | None = None,
        system_message: str = "short",
        trust_remote_code: bool = False,
    ) -> None:
        if not trust_remote_code:
            raise ValueError(
                "emu2-remote runs the Python code shipped with the checkpoint; pass "
                "--model-args trust_remote_code=true to allow it (or use --model emu2, the "
                "native implementation, which runs no downloaded code)"
            )
        self.versions = check_remote_environment()
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from emu2_eval.core.devices import parse_model_max_memory
        from emu2_eval.models.emu2.prompting import system_message as named_system_message

        self.pretrained = pretrained
        self.dtype = getattr(torch, dtype)
        self.system = named_system_message(system_message)
        self.system_message = system_message
        self.tokenizer = AutoTokenizer.from_pretrained(pretrained)
        self.tokenizer.padding_side = "left"
        budget = parse_model_max_memory(max_memory)
        if budget is None:
            self.model = AutoModelForCausalLM.from_pretrained(
                pretrained, torch_dtype=self.dtype, low_cpu_mem_usage=True, trust_remote_code=True
            ).to(device)
        else:
            self.model = self._dispatch(pretrained, budget)
        self.model.eval()

    def _dispatch(self, pretrained: str, budget: dict[Any, str]) -> Any:
        """The model card's multi-GPU recipe, with the user's memory budget."""
        from accelerate import (
            infer_auto_device_map,
            init_empty_weights,
            load_checkpoint_and_dispatch,
        )
        from transformers import AutoConfig, AutoModelForCausalLM

        config = AutoConfig.from_pretrained(pretrained, trust_remote_code=True)
        with init_empty_weights():
            model = AutoModelForCausalLM.from_config(
                config, torch_dtype=self.dtype, trust_remote_code=True
            )
        device_map = infer_auto_device_map(
            model, max_memory=budget, no_split_module_classes=["Block", "LlamaDecoderLayer"]
        )
        device_map["model.decoder.lm.lm_head"] = device_map.get(
            "model.decoder.lm.model.embed_tokens", 0
        )
        return load_checkpoint_and_dispatch(
            model, checkpoint=pretrained, device_map=device_map, dtype=self.dtype
        )

    def fingerprint(self) -> str:
        from emu2_eval.core.requests import stable_hash
        from emu2_eval.models.fingerprint import checkpoint_fingerprint

        settings = {
            "adapter": self.name,
            "dtype": str(self.dtype),
            "system_message": self.system_message,
            **self.versions,
        }
        if Path(self.pretrained).is_dir():
            return checkpoint_fingerprint(self.pretrained, settings)
        return stable_hash({"repo": self.pretrained, **settings})

    def describe(self) -> dict[str, Any]:
        return {
            "adapter": self.name,
            "pretrained": self.pretrained,
            "dtype": str(self.dtype),
            "model_version": getattr(self.model.config, "model_version", None),
            "tokenization": "fast (AutoTokenizer, as the model card)",
            "system_message": self.system_message,
            **self.versions,
        }

    def _split(self, parts: Sequence[Part], images: PreparedImages) -> tuple[str, list[Any]]:
        text = "".join(p.text if isinstance(p, TextPart) else "[<IMG_PLH>]" for p in parts)
        return text, [images.load(p) for p in parts if isinstance(p, ImagePart)]

    def _inputs(self, parts: Sequence[Part], images: PreparedImages) -> dict[str, Any]:
        text, pictures = self._split(parts, images)
        extra = {"system_msg": self.system} if self._is_chat() else {}
        inputs = self.model.build_input_ids(
            text=[text], tokenizer=self.tokenizer, image=pictures or None, **extra
        )
        if inputs.get("image") is not None:
            inputs["image"] = inputs["image"].to(self.dtype)
        return inputs

    def _is_chat(self) -> bool:
        return getattr(self.model.config, "model_version", "base") == "chat"

    def generate(
        self, requests: Sequence[Request], images: PreparedImages | None = None
    ) -> list[str]:
        from contextlib import nullcontext

        from emu2_eval.models.emu2.generation import PUBLISHED_DEFAULTS
        from emu2_eval.models.sampling_seed import is_seeded_sampling, request_seed, seeded_rng

        images = self.images_or_files(images)
        answers = []
        for request in requests:  # one at a time; seeded sampling under the request's own seed
            options = {**PUBLISHED_DEFAULTS, **request.options_dict}
            seeded = is_seeded_sampling(options)
            options.pop("seed", None)
            options["min_len"] = options.pop("min_length", 1)
            inputs = self._inputs(request.prompt, images)
            with seeded_rng(request_seed(request)) if seeded else nullcontext():
                output = self.model.generate(
                    input_ids=inputs["input_ids"],
                    attention_mask=inputs["attention_mask"],
                    image=inputs.get("image"),
                    **options,
                )
            answers.append(self.tokenizer.batch_decode(output, skip_special_tokens=True)[0])
        return answers

    def loglikelihood(
        self, requests: Sequence[Request], images: PreparedImages | None = None
    ) -> list[list[float]]:
        import torch

        images = self.images_or_files(images)
        results = []
        for request in requests:
            inputs = self._inputs(request.prompt, images)
            prompt_ids = inputs["input_ids"][0]
            scores = []
            for continuation in request.continuations:
                cont = self.tokenizer(continuation, add_special_tokens=False).input_ids
                ids = torch.cat([prompt_ids, torch.tensor(cont, device=prompt_ids.device)])[None]
                lm = self.model.model.decoder.lm
                embeds = lm.model.embed_tokens(ids)
                if inputs.get("image") is not None:
                    feats = self.model.model.encode_image(inputs["image"])
                    feats = self.model.project_up(feats.flatten(0, 1))
                    slots = ids == self.tokenizer.convert_tokens_to_ids("<image>")
                    embeds[slots] = feats.to(embeds.device, embeds.dtype)
                with torch.no_grad():
                    logits = lm(inputs_embeds=embeds).logits.float()
                logprobs = torch.log_softmax(logits[0, -len(cont) - 1 : -1], dim=-1)
                target = torch.tensor(cont, device=logprobs.device)[:, None]
                scores.append(float(logprobs.gather(1, target).sum()))
            results.append(scores)
        return results

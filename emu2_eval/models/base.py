"""The adapter contract: typed request kinds in, in batches; prompts rendered by the adapter.

An adapter (a subclass of :class:`ModelAdapter`, registered in ``core.registry.MODELS``):

- must implement ``fingerprint()`` (identifies weights and settings; keys the response cache)
  and at least one kind method, ``generate``, ``loglikelihood`` or ``generate_images``, named
  in ``supported_kinds`` (a declared kind that is not implemented is refused at class creation);
- a kind method takes ``(requests, images=None)`` and returns one answer per request, in the
  order of the requests; ``images`` (:class:`PreparedImages`) holds the batch's images decoded
  and prepared ahead; ``None`` (a direct call) reads them from their files. A kind method that
  reads no images may take ``requests`` alone;
- may override ``describe``, ``context_length``/``count_tokens`` (checked before the run),
  ``prepare_image``/``needs_image`` (the prefetch workers' per-image work), ``is_deterministic``
  (what may be cached), ``supports_prompt_mode`` and the class attributes below.

The engine guarantees: batches hold requests of one kind and one set of generation options,
longest prompt first; answers are put back in document order, so the batch never shows in
the outputs (an adapter must answer a request the same in any batch); answers are cached by
fingerprint and request and only deterministic ones are stored; a data error
(``ImageLoadError``, ``PromptError``) in a batch is isolated by retrying its requests singly.
"""

from __future__ import annotations

import inspect
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from emu2_eval.core.errors import UserError
from emu2_eval.core.prompts import ImagePart
from emu2_eval.core.requests import REQUEST_KINDS, Request
from emu2_eval.models.prepared_images import PreparedImages


class UnsupportedRequestError(TypeError):
    """The model cannot serve this kind of request (e.g. loglikelihood on an image generator)."""


class ModelLoadError(UserError, FileNotFoundError):
    """A model's files could not be found or read from its arguments (a path that does not
    exist, a hub id not in the cache while offline)."""


class ModelAdapter(ABC):
    """Base class for adapters registered in ``emu2_eval.core.registry.MODELS`` (the contract is
    in this module's docstring).

    Placement: adapters that take ``device``, ``device_map`` and ``max_memory`` arguments are
    placed by the engine's topology (``--gpus-per-replica``, ``--max-memory``): one replica per
    process, ``device=cuda:<i>`` or ``device_map=auto`` with ``max_memory`` naming only this
    replica's GPUs (``"2:70GiB;3:70GiB"``). Images: read them with ``images.load(part)`` (see
    :meth:`images_or_files`) so that those prefetched by the engine are used.
    """

    name: ClassVar[str] = "model"
    supported_kinds: ClassVar[frozenset[str]] = frozenset()
    # True when the adapter runs seeded sampling as a pure function of the request
    # (emu2_eval.models.sampling_seed): only then is a sampled answer reproducible.
    seeds_sampling: ClassVar[bool] = False
    # prompt modes (emu2_eval.tasks.profiles.PROMPT_MODES) the adapter renders, e.g. grounding
    prompt_modes: ClassVar[frozenset[str]] = frozenset()
    #: What a prompt may show the model: ``image`` and/or ``video`` parts. The preflight refuses
    #: a task whose prompt holds a kind not listed here before any model work.
    input_kinds: ClassVar[frozenset[str]] = frozenset({"image"})
    #: The supported kinds whose method takes ``images`` (set for each subclass when defined).
    _image_kinds: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Refuse a class whose ``supported_kinds`` names a kind it does not implement."""
        super().__init_subclass__(**kwargs)
        for kind in sorted(cls.supported_kinds):
            if kind not in REQUEST_KINDS:
                raise TypeError(
                    f"adapter {cls.__name__}: unknown request kind {kind!r} in supported_kinds; "
                    f"valid: {', '.join(REQUEST_KINDS)}"
                )
            if getattr(cls, kind) is getattr(ModelAdapter, kind):
                raise TypeError(
                    f"adapter {cls.__name__} declares {kind!r} in supported_kinds but does not "
                    f"implement {kind}()"
                )
        # read once per class, not per batch: which kind methods take the batch's images
        cls._image_kinds = frozenset(
            kind for kind in cls.supported_kinds if _takes_images(getattr(cls, kind))
        )

    @abstractmethod
    def fingerprint(self) -> str:
        """Identifies weights + settings; cached responses are reused only under the same one."""

    def describe(self) -> dict[str, Any]:
        """What the manifest records about the model (name, path, dtype, device...)."""
        return {"adapter": self.name}

    def supports_prompt_mode(self, mode: str) -> bool:
        """Whether this loaded model renders prompts of ``mode`` ("" always)."""
        return not mode or mode in self.prompt_modes

    def is_deterministic(self, request: Request) -> bool:
        """Whether the answer is a pure function of the request; only those are cached.

        Greedy and beam search are. Sampling is only with a ``seed`` option and an adapter that
        seeds each request on its own (``seeds_sampling``), whatever its batch or process.
        """
        from emu2_eval.models.sampling_seed import is_seeded_sampling

        options = request.options_dict
        if not options.get("do_sample", False):
            return True
        return self.seeds_sampling and is_seeded_sampling(options)

    def count_tokens(self, request: Request) -> int | None:
        """Tokens the model would see for this request (None: unknown, not checked)."""
        return None

    def context_length(self) -> int | None:
        """The most tokens the model takes (None: unknown)."""
        return None

    def generate(
        self, requests: Sequence[Request], images: PreparedImages | None = None
    ) -> list[str]:
        raise UnsupportedRequestError(f"model {self.name!r} does not support generate")

    def loglikelihood(
        self, requests: Sequence[Request], images: PreparedImages | None = None
    ) -> list[list[float]]:
        raise UnsupportedRequestError(f"model {self.name!r} does not support loglikelihood")

    def generate_images(
        self, requests: Sequence[Request], images: PreparedImages | None = None
    ) -> list[list[Any]]:
        raise UnsupportedRequestError(f"model {self.name!r} does not support generate_images")

    def prepare_image(self, image: Any) -> Any:
        """Per-image CPU work that depends on the decoded image alone (Emu2: resize to 448 and
        normalise). The engine's prefetch workers run it ahead of the model; the default keeps
        the PIL image as it is."""
        return image

    def needs_image(self, part: ImagePart) -> bool:
        """Whether the model will read this image's pixels (False when, e.g., its encoder output
        is already cached); the prefetch workers skip the images it does not need."""
        return True

    def images_or_files(self, images: PreparedImages | None) -> PreparedImages:
        """``images`` as the engine handed them over, or (a direct call of a kind method without
        them) images read from their files and prepared (:meth:`prepare_image`) when asked."""
        return images if images is not None else PreparedImages(prepare=self.prepare_image)

    def run(
        self, kind: str, requests: Sequence[Request], images: PreparedImages | None = None
    ) -> list[Any]:
        """Dispatch a batch of one kind, with its prefetched ``images``, to the kind method."""
        if kind not in self.supported_kinds:
            raise UnsupportedRequestError(
                f"model {self.name!r} does not support {kind!r} requests; "
                f"it supports: {', '.join(sorted(self.supported_kinds))}"
            )
        method = getattr(self, kind)
        if kind in self._image_kinds:
            return method(requests, images=images)
        return method(requests)  # a kind method that reads no images


def _takes_images(function: Any) -> bool:
    """Whether a kind method accepts ``images`` (one that reads no images may leave it out)."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # no signature to read: hand the images over
        return True
    return any(p.name == "images" or p.kind is p.VAR_KEYWORD for p in parameters)


def parse_model_args(text: str | None) -> dict[str, Any]:
    """Parse ``k=v,k2=v2``; values become int, float, bool or None where they look like one."""
    args: dict[str, Any] = {}
    if not text:
        return args
    for item in text.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--model-args: expected key=value, got {item!r}")
        if key.strip() in args:  # silently taking the last would run another model than meant
            raise ValueError(
                f"--model-args: {key.strip()!r} given twice ({text!r}); give each argument once"
            )
        args[key.strip()] = _coerce(value.strip())
    return args


def _coerce(value: str) -> Any:
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def build_adapter(name: str, model_args: dict[str, Any]) -> ModelAdapter:
    """Instantiate a registered adapter, naming unknown or missing arguments clearly."""
    from emu2_eval.core.registry import MODELS

    cls = MODELS.get(name)
    check_adapter_args(name, cls, model_args)
    try:
        return cls(**model_args)
    except OSError as exc:  # a library's bare OSError (files not found): name what was asked for
        if type(exc) is not OSError:  # the adapter's own, more specific error
            raise
        raise ModelLoadError(
            f"model {name!r} could not be loaded with {model_args}: {exc}"
        ) from exc


def check_adapter_args(name: str, cls: type, model_args: Mapping[str, Any]) -> None:
    """Unknown or missing argument names, and a local ``pretrained`` that is not there.

    Cheap (a signature and a path): the preflight runs it before any model work too.
    """
    params = inspect.signature(cls.__init__).parameters
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    valid = [p for p in params if p != "self" and params[p].kind is not params[p].VAR_KEYWORD]
    unknown = [k for k in model_args if k not in valid]
    if unknown and not accepts_any:
        raise ValueError(
            f"model {name!r} does not accept argument(s) {', '.join(unknown)}; "
            f"valid: {', '.join(valid)}"
        )
    missing = [
        p for p in valid if params[p].default is inspect.Parameter.empty and p not in model_args
    ]
    if missing:
        raise ValueError(f"model {name!r} needs argument(s) {', '.join(missing)} (--model-args)")
    _check_local_paths(name, model_args)


def _check_local_paths(name: str, model_args: Mapping[str, Any]) -> None:
    """A ``pretrained`` that is spelled as a local path must exist (not be taken for a hub id)."""
    value = model_args.get("pretrained")
    if not isinstance(value, str) or not value.startswith(("/", "./", "../", "~")):
        return
    if not os.path.exists(os.path.expanduser(value)):
        raise ModelLoadError(
            f"model {name!r}: pretrained={value} does not exist, so it is not a checkpoint "
            "directory; give the directory of a checkpoint (or a hub id such as org/name, "
            "downloaded with --online)"
        )

"""Typed model requests: plain, serialisable data with a content hash.

The cache key of a response is the hash of the request content and the model fingerprint only,
never of rank, world size or batch size, so results do not depend on how work is split.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from emu2_eval.core.prompts import Part, prompt_to_json

RequestKind = Literal["generate", "loglikelihood", "generate_images"]
REQUEST_KINDS: tuple[str, ...] = ("generate", "loglikelihood", "generate_images")


def stable_hash(obj: Any) -> str:
    """sha256 of the canonical JSON of ``obj`` (sorted keys, no whitespace)."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Request:
    """One unit of model work for one document.

    ``kind``: generate (prompt -> text), loglikelihood (prompt + continuations -> log-probs) or
    generate_images (prompt -> images). ``options`` holds generation settings from the task.
    ``doc_id`` and ``task`` locate the result; they are not part of the content hash, so two tasks
    asking the same thing share one cached answer.
    """

    kind: RequestKind
    prompt: tuple[Part, ...]
    task: str
    doc_id: str
    options: tuple[tuple[str, Any], ...] = field(default_factory=tuple)
    continuations: tuple[str, ...] = field(default_factory=tuple)
    # prompt mode of the task's profile (e.g. "grounding"); "" is a plain prompt
    mode: str = ""

    def __post_init__(self) -> None:
        if self.kind not in REQUEST_KINDS:
            raise ValueError(
                f"unknown request kind {self.kind!r}; valid: {', '.join(REQUEST_KINDS)}"
            )

    @property
    def options_dict(self) -> dict[str, Any]:
        return dict(self.options)

    def content(self) -> dict[str, Any]:
        content = {
            "kind": self.kind,
            "prompt": prompt_to_json(self.prompt),
            "options": self.options_dict,
            "continuations": list(self.continuations),
        }
        if self.mode:  # only then: plain requests keep the hashes (cache keys) they had
            content["mode"] = self.mode
        return content

    def content_hash(self) -> str:
        return stable_hash(self.content())

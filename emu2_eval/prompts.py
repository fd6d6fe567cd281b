"""Interleaved prompts: a prompt is a sequence of text and image parts.

Tasks build prompts from parts and never write model-specific placeholders; each model adapter
renders the parts its own way (LLaVA's ``<image>``, Emu2's ``[<IMG_PLH>]``...), so one task serves
every model. Parts are plain, hashable data so that requests can be cached by content.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from emu2_eval.environment import DEFAULT_MAX_IMAGE_PIXELS, MAX_IMAGE_PIXELS
from emu2_eval.image_files import ImageLoadError, decode_image

__all__ = [
    "DEFAULT_MAX_IMAGE_PIXELS",
    "ImageLoadError",
    "ImagePart",
    "Part",
    "TextPart",
    "images_of",
    "max_image_pixels",
    "prompt_text",
    "prompt_to_json",
]


def max_image_pixels() -> int:
    """Largest image (width x height) the harness decodes: ``EMU2_EVAL_MAX_IMAGE_PIXELS``."""
    return MAX_IMAGE_PIXELS.get()


@dataclass(frozen=True)
class TextPart:
    """A run of prompt text."""

    text: str

    def to_json(self) -> dict[str, Any]:
        return {"type": "text", "text": self.text}


@dataclass(frozen=True)
class ImagePart:
    """A reference to one image, read lazily.

    ``key`` identifies the image content for caching (a path relative to the dataset root, or the
    sha256 of in-memory bytes), so moving a dataset to another disk keeps the cache valid.
    Exactly one of ``path`` and ``data`` is set.
    """

    key: str
    path: str | None = None
    data: bytes | None = None

    def __post_init__(self) -> None:
        if (self.path is None) == (self.data is None):
            raise ValueError("ImagePart needs exactly one of path= or data=")

    @classmethod
    def from_file(cls, path: str | Path, key: str | None = None) -> ImagePart:
        path = str(path)
        return cls(key=key or path, path=path)

    @classmethod
    def from_bytes(cls, data: bytes) -> ImagePart:
        return cls(key="sha256:" + hashlib.sha256(data).hexdigest(), data=data)

    def load(self) -> Image.Image:
        """Decode to an RGB PIL image, raising ImageLoadError with the file and reason.

        Read through :func:`emu2_eval.image_files.decode_image`: only a regular file, within
        the byte and pixel limits (checked from the header, before decoding).
        """
        if self.path is not None:
            return decode_image(self.path)
        return decode_image(self.data or b"", name=self.key)

    def to_json(self) -> dict[str, Any]:
        return {"type": "image", "key": self.key}


Part = TextPart | ImagePart


def prompt_to_json(parts: tuple[Part, ...]) -> list[dict[str, Any]]:
    """The cache-relevant content of a prompt (image keys, not pixels)."""
    return [part.to_json() for part in parts]


def prompt_text(parts: tuple[Part, ...], image_marker: str = "<image>") -> str:
    """A readable rendering for logs and reports (not for models)."""
    return "".join(p.text if isinstance(p, TextPart) else image_marker for p in parts)


def images_of(parts: tuple[Part, ...]) -> list[ImagePart]:
    return [p for p in parts if isinstance(p, ImagePart)]

"""Interleaved prompts: a prompt is a sequence of text and image parts.

Tasks build prompts from parts and never write model-specific placeholders; each model adapter
renders the parts its own way (LLaVA's ``<image>``, Emu2's ``[<IMG_PLH>]``...), so one task serves
every model. Parts are plain, hashable data so that requests can be cached by content.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

DEFAULT_MAX_IMAGE_PIXELS = 64_000_000


def max_image_pixels() -> int:
    """Largest image (width x height) the harness decodes: ``EMU2_EVAL_MAX_IMAGE_PIXELS``."""
    return int(os.environ.get("EMU2_EVAL_MAX_IMAGE_PIXELS", DEFAULT_MAX_IMAGE_PIXELS))


class ImageLoadError(Exception):
    """An image could not be read; carries the file (or key) and the reason."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"cannot read image {source}: {reason}")
        self.source = source
        self.reason = reason


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

        The pixel count is checked from the header before decoding, so a decompression bomb
        (a small file that decodes to gigabytes) is refused instead of exhausting memory.
        """
        source = self.path if self.path is not None else self.key
        try:
            handle = Image.open(
                self.path if self.path is not None else io.BytesIO(self.data or b"")
            )
            with handle as img:
                width, height = img.size
                limit = max_image_pixels()
                if width * height > limit:
                    raise ImageLoadError(
                        source,
                        f"{width}x{height} pixels exceeds the limit of {limit} (a decompression "
                        "bomb?); set EMU2_EVAL_MAX_IMAGE_PIXELS to allow larger images",
                    )
                img.load()
                return img.convert("RGB")
        except FileNotFoundError:
            raise ImageLoadError(source, "file not found") from None
        except Image.DecompressionBombError as exc:
            raise ImageLoadError(source, f"decompression bomb: {exc}") from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise ImageLoadError(source, f"{type(exc).__name__}: {exc}") from None

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

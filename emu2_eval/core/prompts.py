"""Interleaved prompts: a prompt is a sequence of text and image parts.

Tasks build prompts from parts and never write model-specific placeholders; each model adapter
renders the parts its own way (LLaVA's ``<image>``, Emu2's ``[<IMG_PLH>]``...), so one task serves
every model. Parts are plain, hashable data so that requests can be cached by content.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from emu2_eval.core.environment import DEFAULT_MAX_IMAGE_PIXELS, MAX_IMAGE_PIXELS
from emu2_eval.core.image_files import ImageLoadError, decode_image
from emu2_eval.core.video_frames import DEFAULT_FRAMES

__all__ = [
    "DEFAULT_MAX_IMAGE_PIXELS",
    "ImageLoadError",
    "ImagePart",
    "Part",
    "TextPart",
    "VideoPart",
    "images_of",
    "max_image_pixels",
    "prompt_text",
    "prompt_to_json",
    "videos_as_frames",
    "videos_of",
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

        Read through :func:`emu2_eval.core.image_files.decode_image`: only a regular file, within
        the byte and pixel limits (checked from the header, before decoding).
        """
        if self.path is not None:
            return decode_image(self.path)
        return decode_image(self.data or b"", name=self.key)

    def to_json(self) -> dict[str, Any]:
        return {"type": "image", "key": self.key}


@dataclass(frozen=True)
class VideoPart:
    """A video as the frames a model sees: sampled from a video file or a frame directory.

    The sampling (how many frames, the rule, the chosen indices, the source kind and its frame
    count) is fixed when the part is made and is part of :meth:`to_json`, so it keys the response
    cache and is written into every sample record. ``key`` identifies the video like an image's.
    """

    key: str
    path: str
    source: str  # "file" (decoded with PyAV) or "frames" (a directory of images)
    rule: str
    indices: tuple[int, ...]
    total_frames: int

    @classmethod
    def from_path(
        cls,
        path: str | Path,
        key: str | None = None,
        frames: int = DEFAULT_FRAMES,
        rule: str = "segment_center",
    ) -> VideoPart:
        """Probe ``path`` (a file: its packets; a directory: its images) and sample ``frames``."""
        from emu2_eval.core.video_frames import (
            VideoLoadError,
            count_video_frames,
            list_frame_files,
            sample_indices,
        )

        location = Path(path)
        if location.is_dir():
            source, total = "frames", len(list_frame_files(location))
        else:
            source, total = "file", count_video_frames(location)
        if total < frames:
            what = "frame image(s) in the directory" if source == "frames" else "frame(s)"
            raise VideoLoadError(
                location,
                f"{total} {what}, fewer than the {frames} to sample; give a longer video or "
                "set the task's `frames:` loader option lower",
            )
        indices = sample_indices(total, frames, rule)
        return cls(str(key or path), str(path), source, rule, indices, total)

    @property
    def n_frames(self) -> int:
        return len(self.indices)

    def frame_parts(self) -> tuple[ImagePart, ...]:
        """The sampled frames as image parts, in order (keys: ``<video key>#<frame index>``).

        A frame directory yields its files; a video file is decoded now and each frame kept as
        PNG bytes, so models, prefetching and the byte/pixel limits treat frames as images."""
        from emu2_eval.core.video_frames import (
            VideoLoadError,
            decode_video_frames,
            list_frame_files,
        )

        location = Path(self.path)
        if self.source == "frames":
            files = list_frame_files(location) if location.is_dir() else []
            if len(files) != self.total_frames:
                raise VideoLoadError(
                    location,
                    f"the frame directory now holds {len(files)} image(s), not the "
                    f"{self.total_frames} it held when the data was loaded; reload the task",
                )
            return tuple(ImagePart.from_file(files[i], key=f"{self.key}#{i}") for i in self.indices)
        parts = []
        for index, image in zip(
            self.indices, decode_video_frames(location, self.indices), strict=True
        ):
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            parts.append(ImagePart(key=f"{self.key}#{index}", data=buffer.getvalue()))
        return tuple(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "video",
            "key": self.key,
            "source": self.source,
            "frames": self.n_frames,
            "rule": self.rule,
            "indices": list(self.indices),
            "total_frames": self.total_frames,
        }


Part = TextPart | ImagePart | VideoPart


def prompt_to_json(parts: tuple[Part, ...]) -> list[dict[str, Any]]:
    """The cache-relevant content of a prompt (image keys, not pixels; video frame sampling)."""
    return [part.to_json() for part in parts]


def prompt_text(
    parts: tuple[Part, ...], image_marker: str = "<image>", video_marker: str = "<video>"
) -> str:
    """A readable rendering for logs and reports (not for models)."""
    return "".join(
        p.text
        if isinstance(p, TextPart)
        else video_marker
        if isinstance(p, VideoPart)
        else image_marker
        for p in parts
    )


def videos_of(parts: tuple[Part, ...]) -> list[VideoPart]:
    return [p for p in parts if isinstance(p, VideoPart)]


def videos_as_frames(parts: tuple[Part, ...]) -> tuple[Part, ...]:
    """Each video replaced by its sampled frames as images (for models that see frames as
    a run of images)."""
    out: list[Part] = []
    for part in parts:
        out.extend(part.frame_parts() if isinstance(part, VideoPart) else [part])
    return tuple(out)


def images_of(parts: tuple[Part, ...]) -> list[ImagePart]:
    return [p for p in parts if isinstance(p, ImagePart)]

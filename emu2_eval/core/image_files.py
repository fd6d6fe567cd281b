"""The one way the harness reads an image: bounded, so hostile files fail as errors, not hangs.

Every image (a sample's input, a report thumbnail, a generated picture, a metric's real image)
is read through :func:`open_image_file` and decoded through :func:`decode_image`, so each gets
the same guards:

* only a regular file is read: a named pipe (which would block forever), a device or a
  directory is refused;
* the file's size is at most ``EMU2_EVAL_MAX_IMAGE_BYTES`` (default 256 MiB);
* the pixel count from the header is at most ``EMU2_EVAL_MAX_IMAGE_PIXELS`` (default 64 Mpx),
  checked before decoding, so a decompression bomb (a small file that decodes to gigabytes)
  is refused instead of exhausting memory.

Failures raise :class:`ImageLoadError` naming the file and the reason; the runner records it as
a sample error, reports show no picture.
"""

from __future__ import annotations

import io
import os
import stat
from math import ceil
from pathlib import Path
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from emu2_eval.core.environment import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS


class ImageLoadError(Exception):
    """An image could not be read; carries the file (or key) and the reason."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"cannot read image {source}: {reason}")
        self.source = source
        self.reason = reason


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _check_size(source: str, size: int, limit: int) -> None:
    if size > limit:
        raise ImageLoadError(
            source,
            f"{size} bytes exceeds the limit of {limit}; set EMU2_EVAL_MAX_IMAGE_BYTES to allow "
            "larger files",
        )


def open_image_file(path: str | Path) -> BinaryIO:
    """An open binary handle on ``path`` once it is known to be a regular file within the limit.

    Opened non-blocking and checked with ``fstat`` on the open descriptor, so a named pipe
    neither blocks the open nor can be swapped in after the check.
    """
    source = str(path)
    limit = MAX_IMAGE_BYTES.get()  # an invalid setting is the user's error, not the image's
    try:
        fd = os.open(source, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise ImageLoadError(source, "file not found") from None
    except OSError as exc:
        raise ImageLoadError(source, f"{type(exc).__name__}: {exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ImageLoadError(source, f"{_kind(info.st_mode)}, not a regular file")
        _check_size(source, info.st_size, limit)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_image_bytes(path: str | Path) -> bytes:
    """The bytes of an image file, with the guards of :func:`open_image_file`."""
    with open_image_file(path) as handle:
        try:
            return handle.read()
        except OSError as exc:
            raise ImageLoadError(str(path), f"{type(exc).__name__}: {exc}") from None


def decode_image(
    source: str | Path | bytes, name: str | None = None, reduce_to: int | None = None
) -> Image.Image:
    """Decode a file (or in-memory bytes) to an RGB image, or raise ``ImageLoadError``.

    ``name`` labels in-memory bytes in errors. ``reduce_to`` returns a thumbnail whose longest
    side is at most that many pixels (JPEGs are decoded at a reduced scale to get there).
    """
    pixel_limit = MAX_IMAGE_PIXELS.get()
    if isinstance(source, bytes):
        label = name or "<image bytes>"
        _check_size(label, len(source), MAX_IMAGE_BYTES.get())
        handle: BinaryIO = io.BytesIO(source)
    else:
        label = name or str(source)
        handle = open_image_file(source)
    try:
        with handle, Image.open(handle) as img:
            width, height = img.size
            if width * height > pixel_limit:
                raise ImageLoadError(
                    label,
                    f"{width}x{height} pixels exceeds the limit of {pixel_limit} (a decompression "
                    "bomb?); set EMU2_EVAL_MAX_IMAGE_PIXELS to allow larger images",
                )
            if reduce_to is not None:
                scale = reduce_to / max(width, height, 1)
                if scale < 1:  # JPEG: decode at 1/2..1/8 scale, no smaller than the thumbnail
                    img.draft("RGB", (ceil(width * scale), ceil(height * scale)))
            img.load()
            image = img.convert("RGB")
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(label, f"decompression bomb: {exc}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageLoadError(label, f"{type(exc).__name__}: {exc}") from None
    if reduce_to is not None:
        image.thumbnail((reduce_to, reduce_to))
    return image

"""Video frames for prompts: which frames (the sampling rule) and reading them.

A video reaches a model as a list of frames. Frames come from a directory of images (sorted by
name, numbers compared as numbers: ``frame_2`` before ``frame_10``; nothing extra to install) or
from a video file, decoded with PyAV (``pip install 'emu2_eval[video]'``), a small wheel that
bundles FFmpeg, so no system FFmpeg or torchvision video backend is involved.

How frames are picked is not published for Emu2-Chat, so the rule is a named option recorded
with every request (and so in the cache key): ``segment_center`` (default: the video cut into n
equal segments, the middle frame of each) or ``linspace`` (n evenly spaced indices from the
first frame to the last, rounded).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from emu2_eval.core.image_files import ImageLoadError

DEFAULT_FRAMES = 16
SAMPLING_RULES: tuple[str, ...] = ("segment_center", "linspace")
FRAME_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
VIDEO_EXTRA = "pip install 'emu2_eval[video]' (PyAV, the `av` package)"


class VideoLoadError(ImageLoadError):
    """A video (file or frame directory) could not be read or sampled; names it and the fix.

    An :class:`ImageLoadError`, so the engine isolates it to its sample like an unreadable image.
    """

    def __init__(self, source: str | Path, reason: str) -> None:
        Exception.__init__(self, f"cannot read video {source}: {reason}")
        self.source = str(source)
        self.reason = reason


def sample_indices(total: int, n: int, rule: str = "segment_center") -> tuple[int, ...]:
    """``n`` frame indices out of ``total`` by ``rule`` (see the module docstring)."""
    if rule not in SAMPLING_RULES:
        valid = ", ".join(SAMPLING_RULES)
        raise ValueError(f"unknown frame sampling rule {rule!r}; valid: {valid}")
    if n < 1:
        raise ValueError(f"frames must be >= 1, got {n}")
    if total < n:
        raise ValueError(f"{total} frame(s) but {n} are to be sampled")
    if rule == "linspace":
        if n == 1:
            return (0,)
        return tuple(round(i * (total - 1) / (n - 1)) for i in range(n))  # half to even
    return tuple((2 * i + 1) * total // (2 * n) for i in range(n))


def _natural_key(name: str) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def list_frame_files(directory: Path) -> list[Path]:
    """Image files of a frame directory in frame order (natural sort of the names)."""
    files = [p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in FRAME_SUFFIXES]
    return sorted(files, key=lambda p: _natural_key(p.name))


def _import_av(path: Path) -> Any:
    try:
        import av
    except ImportError:
        raise VideoLoadError(
            path,
            f"reading video files needs PyAV, which is not installed: {VIDEO_EXTRA}; "
            "or give a directory of frame images instead",
        ) from None
    return av


def count_video_frames(path: Path) -> int:
    """Frames of a video file's first video stream, counted from its packets (no decoding)."""
    if not path.is_file():
        raise VideoLoadError(path, "video file not found; check the path or the data root")
    av = _import_av(path)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoLoadError(path, "the file has no video stream")
            stream = container.streams.video[0]
            return sum(1 for packet in container.demux(stream) if packet.size)
    except VideoLoadError:
        raise
    except Exception as exc:  # PyAV raises its own error classes per FFmpeg error
        raise VideoLoadError(
            path, f"not a readable video ({type(exc).__name__}: {exc}); replace the file"
        ) from None


def decode_video_frames(path: Path, indices: tuple[int, ...]) -> list[Any]:
    """RGB PIL images of the frames at ``indices`` (ascending), decoding the file once."""
    av = _import_av(path)
    wanted = {index: None for index in indices}
    last = max(indices)
    try:
        with av.open(str(path)) as container:
            for position, frame in enumerate(container.decode(video=0)):
                if position in wanted:
                    wanted[position] = frame.to_image().convert("RGB")
                if position >= last:
                    break
    except Exception as exc:
        raise VideoLoadError(
            path, f"not a readable video ({type(exc).__name__}: {exc}); replace the file"
        ) from None
    missing = [i for i, image in wanted.items() if image is None]
    if missing:
        raise VideoLoadError(
            path,
            f"frame(s) {missing[:5]} could not be decoded (the file has fewer frames than its "
            "packets promised); replace the file or give a frame directory",
        )
    return [wanted[i] for i in indices]

"""Images for the HTML report: find them, shrink them, embed them as data URIs.

The report must open from ``file://`` with no server and no network, so every picture is
inlined (base64).  Input images are found the way tasks name them: a doc field holding a path
relative to one of the task's dataset directories (lexically inside it, as the loaders require);
generated images are files named in a response, relative to the run directory or absolute.
Anything not found is simply not shown (the table cell says so).
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif")


def looks_like_image(value: Any) -> bool:
    return isinstance(value, str) and value.lower().endswith(IMAGE_SUFFIXES)


@lru_cache(maxsize=4096)
def thumbnail_uri(path: str, size: int = 128) -> str | None:
    """A JPEG data URI of the image shrunk to ``size`` px (longest side); None if unreadable.

    Decoded through the harness's one guarded image reader, so a decompression bomb or a named
    pipe is "not shown" here exactly as it is a sample error in the run.
    """
    from emu2_eval.core.image_files import ImageLoadError, decode_image

    try:
        image = decode_image(path, reduce_to=size)
    except ImageLoadError:
        return None
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def png_uri(path: Path) -> str:
    """A PNG file (e.g. the sweep plot) as a data URI, unchanged."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def dataset_dirs(config: Mapping[str, Any], part: str = "dataset") -> list[Path]:
    """Directories named in a task config's dataset arguments (roots such as {demo} expanded);
    ``part="fewshot"`` gives those of the few-shot pool (where demonstrations' images are)."""
    from emu2_eval.tasks.config import resolve_roots

    section = config.get(part) or {}
    if part == "fewshot":
        section = section.get("pool") or {} if isinstance(section, Mapping) else {}
    args = section.get("args") or {} if isinstance(section, Mapping) else {}
    dirs = []
    for value in args.values():
        if not isinstance(value, str):
            continue
        try:
            path = Path(resolve_roots(value))
        except (KeyError, ValueError, OSError):
            continue
        if path.is_dir():
            dirs.append(path)
    return dirs


def _inside(root: Path, relative: str) -> Path | None:
    normalized = os.path.normpath(relative)
    if os.path.isabs(normalized) or normalized == ".." or normalized.startswith(".." + os.sep):
        return None
    candidate = root / normalized
    return candidate if candidate.is_file() else None


def doc_image(fields: Mapping[str, Any], dirs: list[Path]) -> Path | None:
    """The first doc field naming an image file inside one of ``dirs``."""
    for value in fields.values():
        if looks_like_image(value):
            for root in dirs:
                found = _inside(root, value)
                if found is not None:
                    return found
    return None


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def generated_images(response: Any, run_dir: Path) -> list[Path]:
    """Image files a generation response names (relative to the run directory, or absolute)."""
    found = []
    for text in _strings(response):
        if not looks_like_image(text):
            continue
        path = Path(text)
        candidate = path if path.is_absolute() else run_dir / path
        if candidate.is_file():
            found.append(candidate)
    return found

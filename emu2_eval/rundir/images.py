"""Generated images on disk: content-addressed PNGs in the run directory.

An adapter's ``generate_images`` returns uint8 pictures; before anything is cached the runner
turns them into references ``{"path": "images/<sha256>.png", "sha256": ...}`` (PNG, lossless,
quantised once by the adapter). The cache and ``samples_<task>.jsonl`` hold only references and
metrics read the saved files, never float tensors, so a re-score sees exactly what was judged.

A cached reference is trusted only if its file is there with the recorded hash; otherwise the
request is computed again. Image requests are keyed by task and doc as well as by content,
because their seeds depend on both.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from emu2_eval.core.atomic import write_bytes_atomic
from emu2_eval.core.hashing import sha256_file
from emu2_eval.core.requests import Request, stable_hash

logger = logging.getLogger(__name__)
IMAGE_KIND = "generate_images"
IMAGES_DIR = "images"


class GeneratedImageError(RuntimeError):
    """A stored image is missing or not the one recorded (its hash differs)."""


def png_bytes(image: Any) -> bytes:
    """Encode a PIL image or an (H, W, 3) uint8 array as PNG; float pixels are refused."""
    import numpy as np
    from PIL import Image

    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8:
            raise TypeError(
                f"generated image has dtype {image.dtype}: adapters quantise to uint8 once"
            )
        image = Image.fromarray(image)
    if not isinstance(image, Image.Image):
        raise TypeError(f"expected a PIL image or uint8 array, got {type(image).__name__}")
    if image.mode not in ("RGB", "L", "RGBA"):
        raise TypeError(f"generated image has mode {image.mode}: expected RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


class ImageStore:
    """``<run_dir>/images/<sha256>.png``, written atomically, each content once."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.directory = self.run_dir / IMAGES_DIR

    def put(self, image: Any) -> dict[str, str]:
        """Save one image; returns its reference (path relative to the run directory)."""
        data = png_bytes(image)
        digest = hashlib.sha256(data).hexdigest()
        relative = f"{IMAGES_DIR}/{digest}.png"
        target = self.run_dir / relative
        if not (target.is_file() and sha256_file(target) == digest):
            self.directory.mkdir(parents=True, exist_ok=True)
            write_bytes_atomic(target, data)
        return {"path": relative, "sha256": digest}

    def is_valid(self, reference: Any) -> bool:
        """The reference names a file of this run whose content has the recorded hash."""
        if not (isinstance(reference, dict) and {"path", "sha256"} <= set(reference)):
            return False
        path = self.run_dir / str(reference["path"])
        return path.is_file() and sha256_file(path) == reference["sha256"]


# -- engine hooks -----------------------------------------------------------------------------
def request_identity(request: Request) -> str:
    """The request hash the cache keys on: content, plus task and doc for image requests."""
    if request.kind != IMAGE_KIND:
        return request.content_hash()
    return stable_hash(
        {"content": request.content(), "task": request.task, "doc_id": request.doc_id}
    )


def store_images(
    kind: str, outcomes: list[tuple[Any, Any]], run_dir: Path | None
) -> list[tuple[Any, Any]]:
    """(response, error) pairs with generated images replaced by stored references."""
    if kind != IMAGE_KIND:
        return outcomes
    store = ImageStore(_require(run_dir))
    stored = []
    for response, error in outcomes:
        if error is None and response is not None:
            response = [store.put(image) for image in response]
        stored.append((response, error))
    return stored


def stale_image_responses(kind: str, cached: Mapping[int, Any], run_dir: Path | None) -> list[int]:
    """The indices of cached image responses ({index: response}) whose files are missing or
    changed: they are to be computed again."""
    if kind != IMAGE_KIND:
        return []
    store = ImageStore(_require(run_dir))
    stale = [
        index
        for index, response in cached.items()
        if not (isinstance(response, list) and all(store.is_valid(ref) for ref in response))
    ]
    if stale:
        logger.warning(
            "%d cached image response(s) have missing or altered files under %s: recomputing",
            len(stale),
            store.directory,
        )
    return sorted(stale)


def _require(run_dir: Path | None) -> Path:
    if run_dir is None:
        raise ValueError("generate_images tasks need a run directory to store images (run_dir=)")
    return Path(run_dir)


# -- reading for metrics and reports ----------------------------------------------------------
def resolve(reference: dict[str, str], run_dir: str | Path | None) -> Path:
    """The file of a reference, relative to ``run_dir`` (the run the reference belongs to)."""
    if run_dir is None:
        raise GeneratedImageError(
            f"cannot locate {reference.get('path')!r}: no run directory given (scoring passes "
            "it to metrics as Sample.run_dir)"
        )
    return Path(run_dir) / reference["path"]


def load_generated(reference: dict[str, str], run_dir: str | Path | None) -> Any:
    """The saved RGB image of a reference, after checking its hash (read with the same guards
    as every image: regular file, byte and pixel limits)."""
    from emu2_eval.core.image_files import ImageLoadError, decode_image, read_image_bytes

    path = resolve(reference, run_dir)
    if not path.exists():
        raise GeneratedImageError(f"generated image {path} is missing")
    try:
        data = read_image_bytes(path)
        if hashlib.sha256(data).hexdigest() != reference["sha256"]:
            raise GeneratedImageError(f"generated image {path} does not match its recorded sha256")
        return decode_image(data, name=str(path))
    except ImageLoadError as exc:
        raise GeneratedImageError(f"generated image {exc}") from None


def references(prediction: Any) -> Sequence[dict[str, str]]:
    """The image references of a stored response (a list of {path, sha256})."""
    if not isinstance(prediction, list) or not all(
        isinstance(r, dict) and "path" in r and "sha256" in r for r in prediction
    ):
        raise GeneratedImageError(
            f"expected a list of stored image references, got {type(prediction).__name__}"
        )
    return prediction

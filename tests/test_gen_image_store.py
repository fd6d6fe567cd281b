"""Generated images on disk: content-addressed PNGs, cache keys with the seed scope, stale refs."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from PIL import Image

from emu2_eval.core.prompts import TextPart
from emu2_eval.core.requests import Request
from emu2_eval.models.image_requests import ImageSettings, image_generators, image_seed
from emu2_eval.rundir.images import (
    GeneratedImageError,
    ImageStore,
    load_generated,
    png_bytes,
    request_identity,
    stale_image_responses,
    store_images,
)


def _image(value: int) -> Image.Image:
    return Image.fromarray(np.full((8, 8, 3), value, dtype=np.uint8))


def test_store_is_content_addressed_and_lossless(tmp_path) -> None:
    store = ImageStore(tmp_path)
    ref = store.put(_image(7))
    again = store.put(np.full((8, 8, 3), 7, dtype=np.uint8))
    assert ref == again and ref["path"] == f"images/{ref['sha256']}.png"
    data = (tmp_path / ref["path"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == ref["sha256"]
    assert np.array_equal(np.asarray(load_generated(ref, tmp_path)), np.full((8, 8, 3), 7))
    assert len(list((tmp_path / "images").iterdir())) == 1


def test_float_pixels_are_refused() -> None:
    with pytest.raises(TypeError, match="uint8"):
        png_bytes(np.zeros((4, 4, 3), dtype=np.float32))


def test_image_requests_are_keyed_by_task_and_doc() -> None:
    def request(kind: str, doc: str) -> Request:
        return Request(kind, (TextPart("a dog"),), "task", doc)  # type: ignore[arg-type]

    assert request_identity(request("generate", "a")) == request("generate", "a").content_hash()
    assert request_identity(request("generate", "a")) == request_identity(request("generate", "b"))
    assert request_identity(request("generate_images", "a")) != request_identity(
        request("generate_images", "b")
    )


def test_seeds_are_a_pure_function_of_task_doc_index_seed() -> None:
    assert image_seed("t", "d", 0, 0) == image_seed("t", "d", 0, 0)
    seeds = {image_seed(t, d, i, s) for t in "tu" for d in "de" for i in (0, 1) for s in (0, 1)}
    assert len(seeds) == 16
    request = Request("generate_images", (TextPart("x"),), "t", "d")
    settings = ImageSettings(8, 8, 1, 1.0, num_images_per_prompt=2)
    first, second = image_generators(request, settings)
    assert first.initial_seed() == image_seed("t", "d", 0, 0) != second.initial_seed()


def test_responses_become_references_and_errors_pass_through(tmp_path) -> None:
    outcomes = [([_image(1), _image(2)], None), (None, {"type": "ImageLoadError"})]
    stored = store_images("generate_images", outcomes, tmp_path)
    assert [len(stored[0][0]), stored[1]] == [2, (None, {"type": "ImageLoadError"})]
    assert store_images("generate", [("text", None)], None) == [("text", None)]
    with pytest.raises(ValueError, match="run directory"):
        store_images("generate_images", outcomes, None)


def test_cached_references_with_missing_or_altered_files_are_recomputed(tmp_path) -> None:
    store = ImageStore(tmp_path)
    refs = [[store.put(_image(v))] for v in (10, 20, 30)]
    cached = dict(enumerate(refs))
    assert stale_image_responses("generate_images", cached, tmp_path) == []
    (tmp_path / refs[0][0]["path"]).unlink()
    _image(99).save(tmp_path / refs[1][0]["path"])  # same name, other content
    assert stale_image_responses("generate_images", cached, tmp_path) == [0, 1]
    assert stale_image_responses("generate_images", {7: "not a reference"}, tmp_path) == [7]
    assert stale_image_responses("generate", {0: "text"}, None) == []
    with pytest.raises(GeneratedImageError, match="sha256"):
        load_generated(refs[1][0], tmp_path)
    with pytest.raises(GeneratedImageError, match="no run directory given"):
        load_generated(refs[2][0], None)  # never an ambient directory: the caller names it

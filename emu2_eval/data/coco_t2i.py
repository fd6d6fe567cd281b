"""COCO text-to-image: captions sampled from ``captions_val2014.json``, one image each.

The Emu2 paper (Table 4) draws 30k random captions of MS-COCO val (2014 by custom); which ones
is not published, so the sample is a recorded pure function of (annotation file, count, seed):
annotations sorted by id, then ``random.Random(seed).sample``. ``one_per_image`` keeps only the
first sampled caption of each image (an option, off by default). Each doc records the caption
(the prompt and the CLIP-T text) and its real COCO image (CLIP-I's reference).
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

from emu2_eval.data.checks import RecordIds, require_str
from emu2_eval.data.docs import (
    DataFormatError,
    Doc,
    LoadedData,
    image_under,
    read_json,
    require_keys,
)


def load_coco_t2i(
    annotations: str,
    images: str,
    count: int | None = None,
    seed: int = 0,
    one_per_image: bool = False,
) -> LoadedData:
    """``count`` captions (all when None) with their images under ``images/<file_name>``."""
    path = Path(annotations)
    payload = read_json(path)
    if not isinstance(payload, dict):
        raise DataFormatError(path, "expected an object with 'images' and 'annotations'")
    for key in ("images", "annotations"):
        if not isinstance(payload.get(key), list):
            raise DataFormatError(path, f"expected a {key!r} list")
    files: dict[str, str] = {}
    image_ids = RecordIds(path, "images id")
    for index, image in enumerate(payload["images"]):
        require_keys(image, ("id", "file_name"), path, f"images[{index}]")
        key = image_ids.claim(image["id"], f"images[{index}]")
        files[key] = require_str(image, "file_name", path, key)
    captions = []
    caption_ids = RecordIds(path, "annotations id")
    for index, ann in enumerate(payload["annotations"]):
        require_keys(ann, ("id", "image_id", "caption"), path, f"annotations[{index}]")
        caption_ids.claim(ann["id"], f"annotations[{index}]")
        require_str(ann, "caption", path, ann["id"])
        if str(ann["image_id"]) not in files:
            raise DataFormatError(path, f"image_id {ann['image_id']} not in 'images'", ann["id"])
        captions.append(ann)
    captions.sort(key=lambda ann: ann["id"])  # one id type per file (checked): comparable
    if count is not None and not 0 < count <= len(captions):
        raise DataFormatError(path, f"count {count} but the file has {len(captions)} captions")
    order = (
        random.Random(seed).sample(range(len(captions)), count)
        if count is not None
        else range(len(captions))
    )
    docs: list[Doc] = []
    seen: set[int] = set()
    for position in order:
        ann = captions[position]
        if one_per_image and ann["image_id"] in seen:
            continue
        seen.add(ann["image_id"])
        text = " ".join(ann["caption"].split())
        real = image_under(images, files[str(ann["image_id"])], path, ann["id"]).key  # stays inside
        docs.append(
            Doc(
                doc_id=str(ann["id"]),
                fields={
                    "caption": text,
                    "prompt": text,
                    "image_id": ann["image_id"],
                    "reference_image": real,
                    "real_images": [real],
                    "image_root": str(images),
                },
            )
        )
    digest = hashlib.sha256(path.read_bytes())
    digest.update(f"count={count};seed={seed};one_per_image={one_per_image}".encode())
    return LoadedData(docs=docs, fingerprint=digest.hexdigest(), sources=[str(path)])

"""COCO text-to-image: captions sampled from ``captions_val2014.json``, one image each.

The Emu2 paper (Table 4) draws 30k random captions of MS-COCO val (2014 by custom); which ones
is not published. Kosmos-G, whose protocol the paper follows, publishes its sampling
(microsoft/unilm ``kosmos-g/sample_kosmosg_coco.py``): ``random.seed(0)`` then
``random.sample(annotations, 30000)`` over the ``annotations`` list in file order. The default
``sampling: kosmos_g`` draws the same indices (``random.Random(seed).sample`` of the file-order
positions: the same generator state and the same draws), so on the official
``captions_val2014.json`` it yields Kosmos-G's 30k captions in Kosmos-G's order.
``sampling: sorted_by_id`` (this project's earlier rule: annotations sorted by id first) is kept
by name so older runs can be reproduced. ``one_per_image`` keeps only the first sampled caption
of each image (an option, off by default). Each doc records the caption (the prompt and the
CLIP-T text) and its real COCO image (CLIP-I's reference); the rule is recorded in
``LoadedData.protocol``.
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

KOSMOS_G_SAMPLING = "kosmos_g"
SAMPLINGS = {
    KOSMOS_G_SAMPLING: (
        "random.seed(seed); random.sample(annotations in file order, count) "
        "(microsoft/unilm kosmos-g/sample_kosmosg_coco.py)"
    ),
    "sorted_by_id": "annotations sorted by id, then random.Random(seed).sample(count)",
}


def load_coco_t2i(
    annotations: str,
    images: str,
    count: int | None = None,
    seed: int = 0,
    one_per_image: bool = False,
    sampling: str = KOSMOS_G_SAMPLING,
) -> LoadedData:
    """``count`` captions (all when None) with their images under ``images/<file_name>``."""
    if sampling not in SAMPLINGS:
        raise ValueError(
            f"coco_t2i sampling {sampling!r} is not one of {', '.join(SAMPLINGS)} "
            f"({KOSMOS_G_SAMPLING}: Kosmos-G's published sampling, file order)"
        )
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
    if sampling == "sorted_by_id":
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
        image = image_under(images, files[str(ann["image_id"])], path, ann["id"])  # stays inside
        real = image.key
        docs.append(
            Doc(
                doc_id=str(ann["id"]),
                fields={
                    "caption": text,
                    "prompt": text,
                    "image_id": ann["image_id"],
                    "image": image,  # the input of autoencoding (emu2_gen_autoencode)
                    "reference_image": real,
                    "real_images": [real],
                    "image_root": str(images),
                },
            )
        )
    digest = hashlib.sha256(path.read_bytes())
    settings = f"count={count};seed={seed};one_per_image={one_per_image}"
    if sampling != "sorted_by_id":  # the earlier rule keeps its earlier fingerprint
        settings += f";sampling={sampling}"
    digest.update(settings.encode())
    protocol = {
        "sampling": sampling,
        "rule": SAMPLINGS[sampling],
        "count": count,
        "seed": seed,
        "one_per_image": one_per_image,
    }
    return LoadedData(
        docs=docs, fingerprint=digest.hexdigest(), sources=[str(path)], protocol=protocol
    )

"""A tiny synthetic RefCOCO (``{demo_grounding}``), written in the refer toolkit's layout.

``refcoco/refs(unc).p`` (a protocol-2 pickle of plain lists and dicts, like the official file),
``refcoco/instances.json`` (COCO images and annotations) and ``images/train2014/*.jpg``: two
coloured shapes per non-square picture, each referred to by two sentences, in splits ``val``
and ``testA``. Lets the demo and the tests run the RefCOCO loader, the grounding prompt, the box
parser and the IoU metric with no download. Written once per version, atomically.
"""

from __future__ import annotations

import json
import pickle
import random
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from emu2_eval.data.roots import generated_dir

DEMO_GROUNDING_VERSION = "v1"
SPLITS = {"val": 6, "testA": 2}
WIDTH, HEIGHT = 96, 64
COLOURS = {"red": (220, 30, 30), "blue": (40, 70, 220), "green": (30, 170, 60)}
SHAPES = ("circle", "square")
CATEGORY = {"circle": 1, "square": 2}


def _object(rng: random.Random, left: bool) -> tuple[str, str, list[float]]:
    colour, shape = rng.choice(list(COLOURS)), rng.choice(SHAPES)
    w, h = rng.randint(16, 30), rng.randint(16, 30)
    x = rng.randint(2, WIDTH // 2 - w - 2) if left else rng.randint(WIDTH // 2 + 2, WIDTH - w - 2)
    y = rng.randint(2, HEIGHT - h - 2)
    return colour, shape, [float(x), float(y), float(w), float(h)]


def generate_demo_grounding(root: Path, seed: int = 0) -> None:
    """Write the demo dataset under ``root`` (overwrites)."""
    rng = random.Random(f"{seed}:grounding")
    (root / "images" / "train2014").mkdir(parents=True, exist_ok=True)
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    refs: list[dict[str, Any]] = []
    image_id, ann_id, sent_id = 100, 5000, 0
    for split, n_images in SPLITS.items():
        for _ in range(n_images):
            image_id += 1
            file_name = f"COCO_train2014_{image_id:012d}.jpg"
            picture = Image.new("RGB", (WIDTH, HEIGHT), tuple(rng.randint(200, 255) for _ in "rgb"))
            draw = ImageDraw.Draw(picture)
            images.append(
                {"id": image_id, "file_name": file_name, "width": WIDTH, "height": HEIGHT}
            )
            for side, left in (("left", True), ("right", False)):
                colour, shape, (x, y, w, h) = _object(rng, left)
                (draw.ellipse if shape == "circle" else draw.rectangle)(
                    (x, y, x + w, y + h), fill=COLOURS[colour]
                )
                ann_id += 1
                annotations.append(
                    {
                        "id": ann_id,
                        "image_id": image_id,
                        "category_id": CATEGORY[shape],
                        "bbox": [x, y, w, h],
                        "area": w * h,
                        "iscrowd": 0,
                    }
                )
                texts = [f"the {colour} {shape}", f"{shape} on the {side}"]
                sentences = [
                    {
                        "sent_id": sent_id + k,
                        "sent": t,
                        "raw": t.capitalize() + ".",
                        "tokens": t.split(),
                    }
                    for k, t in enumerate(texts)
                ]
                refs.append(
                    {
                        "ref_id": len(refs),
                        "ann_id": ann_id,
                        "image_id": image_id,
                        "split": split,
                        "category_id": CATEGORY[shape],
                        "file_name": f"COCO_train2014_{image_id:012d}_{ann_id}.jpg",
                        "sent_ids": [s["sent_id"] for s in sentences],
                        "sentences": sentences,
                    }
                )
                sent_id += len(texts)
            picture.save(root / "images" / "train2014" / file_name, quality=90)
    (root / "refcoco").mkdir(parents=True, exist_ok=True)
    with open(root / "refcoco" / "refs(unc).p", "wb") as handle:
        pickle.dump(refs, handle, protocol=2)
    categories = [{"id": i, "name": n, "supercategory": "shape"} for n, i in CATEGORY.items()]
    payload = {"images": images, "annotations": annotations, "categories": categories}
    (root / "refcoco" / "instances.json").write_text(json.dumps(payload))


def demo_grounding_root() -> Path:
    """``{demo_grounding}``: the demo dataset folder, generated on first use."""
    return generated_dir(
        "demo-grounding", DEMO_GROUNDING_VERSION, generate_demo_grounding, "dataset"
    )

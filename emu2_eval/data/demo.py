"""Bundled demo data, generated in code in the official formats (no downloads).

Synthetic pictures of coloured shapes, with VQA questions/annotations (VQAv2 format) and COCO
captions (Karpathy ``dataset_coco.json`` + ``captions_val2014.json``), so the demo and the tests
exercise the real loaders. Generation is deterministic and written atomically once per version.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw

from emu2_eval.data.roots import cache_home

DEMO_VERSION = "v1"
COLORS = {
    "red": (220, 30, 30),
    "green": (30, 170, 60),
    "blue": (40, 70, 220),
    "yellow": (240, 210, 30),
}
SHAPES = ("circle", "square", "triangle")
NUMBER_WORDS = {1: "one", 2: "two", 3: "three"}
SPLITS = {"val2014": 24, "train2014": 16}
IMAGE_SIZE = 64


def _draw(rng: random.Random, color: str, shape: str, count: int) -> Image.Image:
    background = tuple(rng.randint(200, 255) for _ in range(3))
    image = Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE), background)
    draw = ImageDraw.Draw(image)
    slot = IMAGE_SIZE // count
    for i in range(count):
        x0, y0 = i * slot + 2, rng.randint(4, IMAGE_SIZE // 2)
        box = (x0, y0, x0 + slot - 6, y0 + slot - 6)
        if shape == "circle":
            draw.ellipse(box, fill=COLORS[color])
        elif shape == "square":
            draw.rectangle(box, fill=COLORS[color])
        else:
            draw.polygon(
                [(box[0], box[3]), (box[2], box[3]), ((box[0] + box[2]) // 2, box[1])],
                fill=COLORS[color],
            )
    return image


def _annotators(rng: random.Random, answer: str, variants: list[str]) -> list[dict]:
    """Ten crowd answers: mostly the truth, sometimes a variant, as in real VQA annotations."""
    answers = [answer if rng.random() < 0.8 else rng.choice(variants) for _ in range(10)]
    return [
        {"answer": a, "answer_confidence": "yes", "answer_id": i + 1} for i, a in enumerate(answers)
    ]


def _write_split(
    root: Path, subtype: str, n_images: int, rng: random.Random, first_id: int
) -> dict:
    (root / "images" / subtype).mkdir(parents=True, exist_ok=True)
    questions, annotations, karpathy, captions = [], [], [], []
    for k in range(n_images):
        image_id = first_id + k
        color, shape = rng.choice(list(COLORS)), rng.choice(SHAPES)
        count = rng.randint(1, 3)
        file_name = f"COCO_{subtype}_{image_id:012d}.jpg"
        _draw(rng, color, shape, count).save(root / "images" / subtype / file_name, quality=90)
        noun = shape if count == 1 else shape + "s"
        qa = [
            (
                "what color is the shape?",
                color,
                [f"{color}.", f"dark {color}", "Red"],
                "other",
                "what color is the",
            ),
            ("what shape is in the picture?", shape, [f"a {shape}", f"{shape}s"], "other", "what"),
            (
                "how many shapes are there?",
                str(count),
                [NUMBER_WORDS[count], str(count + 1)],
                "number",
                "how many",
            ),
            (f"is there a {shape} in the picture?", "yes", ["yes", "no"], "yes/no", "is there a"),
        ]
        for j, (question, answer, variants, answer_type, question_type) in enumerate(qa):
            question_id = image_id * 10 + j
            questions.append(
                {"image_id": image_id, "question": question, "question_id": question_id}
            )
            annotations.append(
                {
                    "question_id": question_id,
                    "image_id": image_id,
                    "question_type": question_type,
                    "answer_type": answer_type,
                    "multiple_choice_answer": answer,
                    "answers": _annotators(rng, answer, variants),
                }
            )
        article = "a" if count == 1 else NUMBER_WORDS[count]
        refs = [
            f"{article} {color} {noun} on a light background.",
            f"A picture showing {article} {color} {noun}.",
            f"{article.capitalize()} {color} {noun} drawn on a plain background",
            f"a simple drawing of {article} {noun} coloured {color}",
            f"There is {article} {color} {noun} in this image.",
        ]
        sentences = [
            {
                "raw": r,
                "tokens": r.lower().strip(".").split(),
                "imgid": image_id,
                "sentid": image_id * 10 + i,
            }
            for i, r in enumerate(refs)
        ]
        karpathy.append(
            {
                "filepath": subtype,
                "filename": file_name,
                "cocoid": image_id,
                "imgid": image_id,
                "sentids": [s["sentid"] for s in sentences],
                "split": "test" if subtype == "val2014" else "train",
                "sentences": sentences,
            }
        )
        captions += [
            {"image_id": image_id, "id": s["sentid"], "caption": s["raw"]} for s in sentences
        ]
    meta = {"data_subtype": subtype, "task_type": "Open-Ended", "data_type": "mscoco"}
    (root / "vqa").mkdir(exist_ok=True)
    with open(root / "vqa" / f"questions_{subtype}.json", "w") as handle:
        json.dump({**meta, "questions": questions}, handle)
    with open(root / "vqa" / f"annotations_{subtype}.json", "w") as handle:
        json.dump({**meta, "annotations": annotations}, handle)
    images = [{"id": e["cocoid"], "file_name": e["filename"]} for e in karpathy]
    return {"karpathy": karpathy, "captions": captions, "images": images}


def generate_demo_data(root: Path, seed: int = 0) -> None:
    """Write the demo dataset under ``root`` (overwrites)."""
    rng = random.Random(seed)
    karpathy, captions, images = [], [], []
    first_id = 1
    for subtype, n_images in SPLITS.items():
        part = _write_split(root, subtype, n_images, rng, first_id)
        first_id += n_images
        karpathy += part["karpathy"]
        if subtype == "val2014":
            captions += part["captions"]
            images += part["images"]
    (root / "coco").mkdir(exist_ok=True)
    with open(root / "coco" / "dataset_coco.json", "w") as handle:
        json.dump({"images": karpathy, "dataset": "coco"}, handle)
    with open(root / "coco" / "captions_val2014.json", "w") as handle:
        json.dump({"images": images, "annotations": captions}, handle)


def demo_root() -> Path:
    """The demo data directory, generated on first use (atomically, safe across processes)."""
    root = cache_home() / f"demo-data-{DEMO_VERSION}"
    if (root / "COMPLETE").exists():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="demo-", dir=root.parent))
    try:
        generate_demo_data(staging)
        (staging / "COMPLETE").write_text(DEMO_VERSION)
        try:
            os.replace(staging, root)
        except OSError:  # another process finished first (target exists and is not empty)
            if not (root / "COMPLETE").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root

"""Bundled demo data, generated in code in the official formats (no downloads).

Synthetic pictures of coloured shapes, with VQA questions/annotations (VQAv2 format) and COCO
captions (Karpathy ``dataset_coco.json`` + ``captions_val2014.json``), plus small VizWiz-VQA,
TextVQA 0.5.1 and Hateful Memes splits in their own official layouts, so the demo and the tests
exercise the real loaders. Generation is deterministic and written atomically once per version.
Each dataset draws from its own seeded RNG, so adding one never changes the bytes of another.
"""

from __future__ import annotations

import json
import random
import textwrap
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from emu2_eval.data.roots import generated_dir

DEMO_VERSION = "v2"
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
VIZWIZ_SPLITS = {"val": 16, "train": 16}
TEXTVQA_SPLITS = {"val": 16, "train": 16}
MEMES_SPLITS = {"dev_seen": 24, "train": 24}
SIGN_WORDS = ("stop", "exit", "open", "sale", "taxi", "cafe", "bank", "hotel", "pizza", "park")
TEXTVQA_QUESTIONS = (
    "what does the sign say?",
    "what word is written here?",
    "what is written on the sign?",
)
MEME_BADGE_BOX = (108, 76, 122, 90)  # lower right corner of the 128x96 demo memes
MEME_CAPTIONS = (
    "when the wifi comes back",
    "monday morning again",
    "me waiting for the weekend",
    "when the code runs first try",
    "coffee first, questions later",
    "finding fries at the bottom of the bag",
    "when the bus is on time",
    "my plants after one sunny day",
)


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


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """PIL's bundled default font (sized where Pillow supports it): no font files needed."""
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has only the fixed-size bitmap font
        return ImageFont.load_default()


def _write_json(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        json.dump(payload, handle)


def _crowd(rng: random.Random, answer: str, variants: list[str], p_truth: float) -> list[str]:
    return [answer if rng.random() < p_truth else rng.choice(variants) for _ in range(10)]


def _vizwiz_item(rng: random.Random, k: int) -> tuple[Image.Image, str, list[str], str]:
    """Every 4th picture is unusable (blank or blurred), as blind users' photos often are."""
    color, shape, count = rng.choice(list(COLORS)), rng.choice(SHAPES), rng.randint(1, 3)
    if k % 4 == 3:
        if (k // 4) % 2:
            image = _draw(rng, color, shape, count).filter(ImageFilter.GaussianBlur(8))
        else:
            image = Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE), (rng.randint(90, 140),) * 3)
        question = rng.choice(["what is this?", "what color is this?", "can you read this label?"])
        return image, question, _crowd(rng, "unanswerable", ["blurry", "nothing", "gray"], 0.8), ""
    image = _draw(rng, color, shape, count)
    other = rng.choice([s for s in SHAPES if s != shape])
    asked = shape if rng.random() < 0.5 else other
    question, answer, variants, answer_type = [
        ("what color is this?", color, [f"{color}.", f"dark {color}", "unanswerable"], "other"),
        ("how many shapes are there?", str(count), [NUMBER_WORDS[count], "unanswerable"], "number"),
        (f"is this a {asked}?", "yes" if asked == shape else "no", ["yes", "no"], "yes/no"),
    ][k % 4]
    return image, question, _crowd(rng, answer, variants, 0.8), answer_type


def _write_vizwiz(root: Path, rng: random.Random) -> None:
    """VizWiz-VQA: ``vizwiz/<split>.json`` (a list) and ``vizwiz/<split>/VizWiz_<split>_*.jpg``."""
    for split, n_items in VIZWIZ_SPLITS.items():
        (root / "vizwiz" / split).mkdir(parents=True, exist_ok=True)
        records = []
        for k in range(n_items):
            image, question, answers, answer_type = _vizwiz_item(rng, k)
            file_name = f"VizWiz_{split}_{k:08d}.jpg"
            image.save(root / "vizwiz" / split / file_name, quality=90)
            unanswerable = answers.count("unanswerable") > 5
            records.append(
                {
                    "image": file_name,
                    "question": question,
                    "answers": [
                        {"answer": a, "answer_confidence": rng.choice(("yes", "yes", "maybe"))}
                        for a in answers
                    ],
                    "answer_type": "unanswerable" if unanswerable else answer_type,
                    "answerable": 0 if unanswerable else 1,
                }
            )
        _write_json(root / "vizwiz" / f"{split}.json", records)


def _write_textvqa(root: Path, rng: random.Random) -> None:
    """TextVQA 0.5.1: ``TextVQA_0.5.1_<split>.json``; all images in ``train_images/``."""
    font = _font(18)
    first_question_id = {"val": 34602, "train": 0}  # the real val ids start at 34602
    for split, n_items in TEXTVQA_SPLITS.items():
        (root / "textvqa" / "train_images").mkdir(parents=True, exist_ok=True)
        data = []
        for k in range(n_items):
            word = rng.choice(SIGN_WORDS)
            image_id = f"{rng.getrandbits(64):016x}"
            image = Image.new("RGB", (96, 48), tuple(rng.randint(200, 255) for _ in range(3)))
            draw = ImageDraw.Draw(image)
            left, top, right, bottom = draw.textbbox((0, 0), word, font=font)
            xy = ((96 - right + left) // 2 - left, (48 - bottom + top) // 2 - top)
            draw.text(xy, word, font=font, fill=tuple(rng.randint(0, 80) for _ in range(3)))
            image.save(root / "textvqa" / "train_images" / f"{image_id}.jpg", quality=90)
            question = rng.choice(TEXTVQA_QUESTIONS)
            variants = [word.upper(), f"{word} sign", f"the {word}", f"{word}s"]
            data.append(
                {
                    "question": question,
                    "image_id": image_id,
                    "image_classes": ["Sign", "Text"],
                    "flickr_original_url": "",
                    "flickr_300k_url": "",
                    "image_width": 96,
                    "image_height": 48,
                    "answers": _crowd(rng, word, variants, 0.7),
                    "question_tokens": question.rstrip("?").split(),
                    "question_id": first_question_id[split] + k,
                    "set_name": split,
                }
            )
        payload = {"dataset_name": "textvqa", "dataset_version": "0.5.1", "data": data}
        _write_json(root / "textvqa" / f"TextVQA_0.5.1_{split}.json", payload)


def _write_hateful_memes(root: Path, rng: random.Random) -> None:
    """Hateful Memes: ``<split>.jsonl`` + ``img/<id:05d>.png``; label 1 <=> a square badge.

    Captions are harmless and drawn from one pool for both labels, so only the picture tells
    the label apart (a small square badge in the lower right corner, a round one otherwise): a
    model could learn it, yet it is too small to dominate a random model's image features.
    """
    font = _font(11)
    (root / "hateful_memes" / "img").mkdir(parents=True, exist_ok=True)
    ids = rng.sample(range(1000, 100000), sum(MEMES_SPLITS.values()))
    for split, n_items in MEMES_SPLITS.items():
        split_ids, ids = ids[:n_items], ids[n_items:]
        labels = [0, 1] * (n_items // 2)
        rng.shuffle(labels)
        lines = []
        for meme_id, label in zip(split_ids, labels, strict=True):
            text = rng.choice(MEME_CAPTIONS)
            image = Image.new("RGB", (128, 96), tuple(rng.randint(170, 240) for _ in range(3)))
            draw = ImageDraw.Draw(image)
            (draw.rectangle if label else draw.ellipse)(MEME_BADGE_BOX, fill=(30, 30, 30))
            draw.multiline_text((10, 12), textwrap.fill(text, 18), font=font, fill=(0, 0, 0))
            img = f"img/{meme_id:05d}.png"
            image.save(root / "hateful_memes" / img)
            record = {"id": meme_id, "img": img, "label": label, "text": text}
            lines.append(json.dumps(record, separators=(",", ":")) + "\n")
        (root / "hateful_memes" / f"{split}.jsonl").write_text("".join(lines))


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
    _write_vizwiz(root, random.Random(f"{seed}:vizwiz"))
    _write_textvqa(root, random.Random(f"{seed}:textvqa"))
    _write_hateful_memes(root, random.Random(f"{seed}:hateful_memes"))


def demo_root() -> Path:
    """The demo data directory, generated on first use (atomically, safe across processes)."""
    return generated_dir("demo-data", DEMO_VERSION, generate_demo_data)

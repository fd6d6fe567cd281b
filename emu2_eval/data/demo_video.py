"""Demo video data (``{demo_video}``), generated in code in the official layouts.

- ``msvd_qa/``: MSVD-QA's layout (``test_qa.json``, ``youtube_mapping.txt``) on 12 short clips,
  each a directory of 8 frame images (a coloured shape moving left or right), 2 questions each
  (its colour, the way it moves).
- ``seed_bench/``: SEED-Bench's ``SEED-Bench.json`` with 8 image questions (dimension 5,
  Instance Attributes: the shape's colour) and 8 video questions (dimension 10, Action
  Recognition: the way it moves), images under ``images/`` and clips under ``videos/``.

Frame directories need no video decoder, so the demo runs on a bare install. Deterministic
(a seeded RNG); written atomically once per version.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from PIL import Image, ImageDraw

from emu2_eval.data.roots import generated_dir

DEMO_VIDEO_VERSION = "v1"
FRAMES = 8
SIZE = 48
COLOURS = {"red": (220, 30, 30), "green": (30, 170, 60), "blue": (40, 70, 220)}
DIRECTIONS = ("left", "right")
SEED_DIMENSIONS = {"Instance Attributes": 5, "Action Recognition": 10}


def _frame(colour: str, x: int, y: int) -> Image.Image:
    image = Image.new("RGB", (SIZE, SIZE), (235, 235, 235))
    ImageDraw.Draw(image).rectangle((x, y, x + 10, y + 10), fill=COLOURS[colour])
    return image


def _clip(folder: Path, rng: random.Random, colour: str, direction: str) -> None:
    """``FRAMES`` frames of a square crossing the picture."""
    folder.mkdir(parents=True, exist_ok=True)
    y = rng.randint(4, SIZE - 16)
    for i in range(FRAMES):
        step = 4 + i * (SIZE - 18) // (FRAMES - 1)
        x = step if direction == "right" else SIZE - 14 - step + 4
        _frame(colour, x, y).save(folder / f"frame_{i + 1}.png")


def _write_msvd(root: Path, rng: random.Random) -> None:
    base = root / "msvd_qa"
    mapping, questions = [], []
    for n in range(12):
        colour = rng.choice(list(COLOURS))
        direction = DIRECTIONS[n % 2]
        name = f"clip{n:02d}_{rng.randint(0, 99):02d}_{rng.randint(100, 199)}"
        _clip(base / "videos" / name, rng, colour, direction)
        mapping.append(f"{name} vid{n + 1}")
        questions += [
            {"answer": colour, "id": 2 * n, "question": "what color is the square?",
             "video_id": n + 1},
            {"answer": direction, "id": 2 * n + 1, "question": "where does the square move?",
             "video_id": n + 1},
        ]  # fmt: skip
    (base / "youtube_mapping.txt").write_text("\n".join(mapping) + "\n")
    (base / "test_qa.json").write_text(json.dumps(questions))


def _choices(rng: random.Random, truth: str, pool: list[str]) -> tuple[list[str], str]:
    """Four options holding ``truth`` once, and its letter."""
    others = [p for p in pool if p != truth]
    options = [truth, *rng.sample(others, min(3, len(others)))]
    while len(options) < 4:
        options.append(f"none of {len(options)}")
    rng.shuffle(options)
    return options, "ABCD"[options.index(truth)]


def _write_seed(root: Path, rng: random.Random) -> None:
    base = root / "seed_bench"
    (base / "images").mkdir(parents=True, exist_ok=True)
    questions = []
    for n in range(8):
        colour = rng.choice(list(COLOURS))
        name = f"{1000 + n}_{rng.randint(10**5, 10**6)}.jpg"
        _frame(colour, rng.randint(2, 30), rng.randint(2, 30)).save(base / "images" / name)
        options, letter = _choices(rng, colour, [*COLOURS, "yellow"])
        questions.append(_seed_question(f"img{n}", "What color is the square?", options, letter,
                                        name, "image", 5))  # fmt: skip
    for n in range(8):
        colour, direction = rng.choice(list(COLOURS)), DIRECTIONS[n % 2]
        name = f"v_{n:03d}"
        _clip(base / "videos" / name, rng, colour, direction)
        options, letter = _choices(rng, f"moving {direction}", [
            "moving left", "moving right", "moving up", "standing still"])  # fmt: skip
        questions.append(_seed_question(f"vid{n}", "What is the square doing?", options, letter,
                                        name, "video", 10))  # fmt: skip
    payload = {"question_type": SEED_DIMENSIONS, "questions": questions}
    (base / "SEED-Bench.json").write_text(json.dumps(payload))


def _seed_question(
    qid: str, question: str, options: list[str], letter: str, data_id: str, kind: str, dim: int
) -> dict:
    return {
        "answer": letter,
        **{f"choice_{c}": o for c, o in zip("abcd", options, strict=True)},
        "data_id": data_id,
        "data_type": kind,
        "question": question,
        "question_id": qid,
        "question_type_id": dim,
    }


def generate_demo_video(root: Path, seed: int = 0) -> None:
    _write_msvd(root, random.Random(f"{seed}:msvd"))
    _write_seed(root, random.Random(f"{seed}:seed"))


def demo_video_root() -> Path:
    """``{demo_video}``: the demo video data, generated on first use."""
    return generated_dir("demo-video", DEMO_VIDEO_VERSION, generate_demo_video)

"""A tiny synthetic DreamBench (``{demo_dreambench}``), generated in the dataset's own layout.

Three subjects (two objects, one live) drawn as coloured shapes, four photos each, and a
``prompts_and_classes.txt`` in the real format with short prompt lists (the real file has 25
of each). Lets the demo and the tests run the DreamBench loader, prompts and metrics with no
download. Written once per version, atomically, under ``EMU2_EVAL_HOME``.
"""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw

from emu2_eval.data.dreambench import write_prompts_file
from emu2_eval.data.roots import generated_dir

DEMO_DREAMBENCH_VERSION = "v1"
SUBJECTS = {  # subject -> (class noun, shape, colour)
    "red_block": ("toy", "square", (210, 40, 40)),
    "blue_mug": ("cup", "circle", (40, 70, 210)),
    "cat": ("cat", "triangle", (230, 150, 40)),
}
OBJECT_PROMPTS = [
    "a {0} {1} in the jungle",
    "a {0} {1} on the beach",
    "a red {0} {1}",
    "a cube shaped {0} {1}",
]
LIVE_PROMPTS = [
    "a {0} {1} in the snow",
    "a {0} {1} wearing a red hat",
    "a purple {0} {1}",
    "a wet {0} {1}",
]
PHOTOS = 4
SIZE = 64


def _photo(rng: random.Random, shape: str, colour: tuple[int, int, int]) -> Image.Image:
    background = tuple(rng.randint(150, 255) for _ in range(3))
    image = Image.new("RGB", (SIZE, SIZE), background)
    draw = ImageDraw.Draw(image)
    x0, y0 = rng.randint(4, 20), rng.randint(4, 20)
    box = (x0, y0, x0 + rng.randint(28, 40), y0 + rng.randint(28, 40))
    if shape == "circle":
        draw.ellipse(box, fill=colour)
    elif shape == "square":
        draw.rectangle(box, fill=colour)
    else:
        draw.polygon(
            [(box[0], box[3]), (box[2], box[3]), ((box[0] + box[2]) // 2, box[1])], fill=colour
        )
    return image


def generate_demo_dreambench(dataset: Path, seed: int = 0) -> None:
    """Write ``dataset/<subject>/NN.jpg`` and ``dataset/prompts_and_classes.txt``."""
    rng = random.Random(f"{seed}:dreambench")
    for subject, (_, shape, colour) in SUBJECTS.items():
        folder = dataset / subject
        folder.mkdir(parents=True, exist_ok=True)
        for number in range(PHOTOS):
            _photo(rng, shape, colour).save(folder / f"{number:02d}.jpg", quality=90)
    classes = {subject: noun for subject, (noun, _, _) in SUBJECTS.items()}
    write_prompts_file(dataset / "prompts_and_classes.txt", classes, OBJECT_PROMPTS, LIVE_PROMPTS)


def demo_dreambench_root() -> Path:
    """``{demo_dreambench}``: the demo dataset folder, generated on first use."""
    return generated_dir(
        "demo-dreambench", DEMO_DREAMBENCH_VERSION, generate_demo_dreambench, "dataset"
    )

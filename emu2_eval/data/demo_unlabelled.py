"""Demo test splits without labels (``{demo_unlabelled}``), in the official server layouts.

VQAv2: ``vqa/v2_OpenEnded_mscoco_test2015_questions.json`` (every test question),
``vqa/v2_OpenEnded_mscoco_test-dev2015_questions.json`` (a subset, ``data_subtype``
``test-dev2015`` as in the real file) and ``images/test2015/COCO_test2015_<id:012d>.jpg`` (the
real test-dev images live in test2015 too). VizWiz: ``vizwiz/test.json`` (records with
``image`` and ``question`` only) and ``vizwiz/test/VizWiz_test_<n:08d>.jpg``. No answers
anywhere: the demo of ``--predict-only`` and of the submission writers. Written once per
version, atomically, under ``EMU2_EVAL_HOME``; its own seeded RNG, so the other demo data keep
their bytes.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from emu2_eval.data.demo import COLORS, SHAPES, _draw
from emu2_eval.data.roots import generated_dir

DEMO_UNLABELLED_VERSION = "v1"
TEST_IMAGES = 6  # test2015 images; each has 2 questions
TEST_DEV_IMAGES = (0, 2, 3)  # the images whose questions make test-dev
FIRST_IMAGE_ID = 900001
VIZWIZ_TEST = 8


def _write_vqav2(root: Path, rng: random.Random) -> None:
    (root / "images" / "test2015").mkdir(parents=True, exist_ok=True)
    everything, test_dev = [], []
    for k in range(TEST_IMAGES):
        image_id = FIRST_IMAGE_ID + k
        color, shape = rng.choice(list(COLORS)), rng.choice(SHAPES)
        image = _draw(rng, color, shape, rng.randint(1, 3))
        image.save(root / "images" / "test2015" / f"COCO_test2015_{image_id:012d}.jpg")
        for j, question in enumerate(("what color is the shape?", "how many shapes are there?")):
            record = {"image_id": image_id, "question": question, "question_id": image_id * 10 + j}
            everything.append(record)
            if k in TEST_DEV_IMAGES:
                test_dev.append(record)
    meta = {"task_type": "Open-Ended", "data_type": "mscoco", "license": {}, "info": {}}
    (root / "vqa").mkdir(exist_ok=True)
    for subtype, questions in (("test2015", everything), ("test-dev2015", test_dev)):
        path = root / "vqa" / f"v2_OpenEnded_mscoco_{subtype}_questions.json"
        path.write_text(json.dumps({**meta, "data_subtype": subtype, "questions": questions}))


def _write_vizwiz(root: Path, rng: random.Random) -> None:
    (root / "vizwiz" / "test").mkdir(parents=True, exist_ok=True)
    records = []
    for k in range(VIZWIZ_TEST):
        name = f"VizWiz_test_{k:08d}.jpg"
        color, shape = rng.choice(list(COLORS)), rng.choice(SHAPES)
        _draw(rng, color, shape, rng.randint(1, 3)).save(root / "vizwiz" / "test" / name)
        records.append({"image": name, "question": rng.choice(["what is this?", "what color?"])})
    (root / "vizwiz" / "test.json").write_text(json.dumps(records))


def generate_demo_unlabelled(root: Path, seed: int = 0) -> None:
    """Write the unlabelled demo splits under ``root``."""
    _write_vqav2(root, random.Random(f"{seed}:vqav2_test"))
    _write_vizwiz(root, random.Random(f"{seed}:vizwiz_test"))


def demo_unlabelled_root() -> Path:
    """``{demo_unlabelled}``: the folder, generated on first use (safe across processes)."""
    return generated_dir(
        "demo-unlabelled", DEMO_UNLABELLED_VERSION, generate_demo_unlabelled, "data"
    )

"""Demo data of the Emu2-Chat (Table 2) formats, generated in code: GQA, MMMU, MM-Vet, TouchStone.

``{demo_chat}/gqa``: ``testdev_balanced_questions.json`` (official GQA layout: {question id:
record} with ``imageId``, ``question``, ``answer``, ``fullAnswer``, ``types``) and
``images/<imageId>.jpg``. ``{demo_chat}/mmmu``: a JSON export of MMMU validation records
(``validation.json``: ``id`` ``validation_<Subject>_<n>``, ``question`` with ``<image 1>``,
``options`` in the parquet's string form, ``answer``, ``question_type``, ``image_1`` a file name)
and its ``images/``. ``{demo_chat}/mm-vet``: ``mm-vet.json`` ({id: {imagename, capability,
question, answer}}) and ``images/``. ``{demo_chat}/touchstone/touchstone_demo.tsv``: the
TouchStone TSV columns with base64 PNG pictures. Pictures are coloured shapes
(``demo._draw``); a separate seeded RNG per dataset, written atomically once per version,
like the main demo data.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import random
from pathlib import Path

from emu2_eval.data.demo import COLORS, NUMBER_WORDS, SHAPES, _draw
from emu2_eval.data.roots import generated_dir

DEMO_CHAT_VERSION = "v2"
GQA_IMAGES = 6
MMMU_SUBJECTS = ("Math", "Art", "Biology", "Computer_Science")


def _write_gqa(root: Path, rng: random.Random) -> None:
    folder = root / "gqa"
    (folder / "images").mkdir(parents=True, exist_ok=True)
    questions = {}
    for k in range(GQA_IMAGES):
        image_id = f"n{100000 + k}"
        color, shape, count = rng.choice(list(COLORS)), rng.choice(SHAPES), 1
        _draw(rng, color, shape, count).save(folder / "images" / f"{image_id}.jpg", quality=90)
        other = rng.choice([s for s in SHAPES if s != shape])
        items = [
            (f"What color is the {shape}?", color, f"The {shape} is {color}.", "query", "attr"),
            (f"Is there a {other} here?", "no", f"No, there is a {shape}.", "verify", "obj"),
        ]
        for j, (question, answer, full, structural, semantic) in enumerate(items):
            questions[f"{2000 + 10 * k + j}"] = {
                "imageId": image_id,
                "question": question,
                "answer": answer,
                "fullAnswer": full,
                "isBalanced": True,
                "types": {"structural": structural, "semantic": semantic, "detailed": semantic},
            }
    (folder / "testdev_balanced_questions.json").write_text(json.dumps(questions, indent=1))


def _write_mmmu(root: Path, rng: random.Random) -> None:
    folder = root / "mmmu"
    (folder / "images").mkdir(parents=True, exist_ok=True)
    records = []
    for n, subject in enumerate(MMMU_SUBJECTS * 2, start=1):
        color, shape = rng.choice(list(COLORS)), rng.choice(SHAPES)
        count = rng.randint(1, 3)
        name = f"validation_{subject}_{n}_1.png"
        _draw(rng, color, shape, count).save(folder / "images" / name)
        record = {"id": f"validation_{subject}_{n}", "image_1": name, "subfield": subject}
        if n % 4 == 0:  # every fourth: an open question
            record.update(
                question="How many shapes are in <image 1>?",
                options="[]",
                answer=str(count),
                question_type="open",
            )
        else:
            options = list(SHAPES)
            rng.shuffle(options)
            record.update(
                question=f"Which shape is drawn {NUMBER_WORDS[count]} time(s) in <image 1>?",
                options=repr(options),
                answer=chr(ord("A") + options.index(shape)),
                question_type="multiple-choice",
            )
        records.append(record)
    (folder / "validation.json").write_text(json.dumps(records, indent=1))
    # the test split as MMMU publishes it: same layout, answers hidden ("?")
    hidden = [
        {**r, "id": r["id"].replace("validation_", "test_", 1), "answer": "?"} for r in records
    ]
    (folder / "test.json").write_text(json.dumps(hidden, indent=1))


def _write_mmvet(root: Path, rng: random.Random) -> None:
    folder = root / "mm-vet"
    (folder / "images").mkdir(parents=True, exist_ok=True)
    records = {}
    for k in range(4):
        color, shape = rng.choice(list(COLORS)), rng.choice(SHAPES)
        count = rng.randint(1, 3)
        name = f"v1_{k}.png"
        _draw(rng, color, shape, count).save(folder / "images" / name)
        if k % 2:
            question, answer, capability = "How many shapes are there?", str(count), ["rec", "math"]
        else:
            question, answer = "What colour and shape is drawn?", f"{color} <AND> {shape}"
            capability = ["rec"]
        records[f"v1_{k}"] = {
            "imagename": name, "capability": capability, "question": question, "answer": answer,
        }  # fmt: skip
    (folder / "mm-vet.json").write_text(json.dumps(records, indent=1))


def _write_touchstone(root: Path, rng: random.Random) -> None:
    folder = root / "touchstone"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "touchstone_demo.tsv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t")
        writer.writerow(["index", "image", "question", "human_annotation", "gpt4_ha_answer",
                         "category", "task_name"])  # fmt: skip
        for k in range(3):
            color, shape = rng.choice(list(COLORS)), rng.choice(SHAPES)
            buffer = io.BytesIO()
            _draw(rng, color, shape, 1).save(buffer, format="PNG")
            writer.writerow([
                k, base64.b64encode(buffer.getvalue()).decode(), "Describe the picture.",
                f"A {color} {shape} on a light background.",
                f"The picture shows one {color} {shape} on a plain light background.",
                "Basic Descriptive Ability" + ("" if k else ",Visual Recognition"),
                "image description",
            ])  # fmt: skip


def generate_demo_chat(root: Path, seed: int = 0) -> None:
    """Write the demo GQA, MMMU, MM-Vet and TouchStone data under ``root``."""
    _write_gqa(root, random.Random(f"{seed}:gqa"))
    _write_mmmu(root, random.Random(f"{seed}:mmmu"))
    _write_mmvet(root, random.Random(f"{seed}:mmvet"))
    _write_touchstone(root, random.Random(f"{seed}:touchstone"))


def demo_chat_root() -> Path:
    """``{demo_chat}``: the chat demo data folder, generated on first use (atomically)."""
    return generated_dir("demo-chat", DEMO_CHAT_VERSION, generate_demo_chat)

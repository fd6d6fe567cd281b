"""Harness overhead: ``evaluate()`` with a model that answers instantly vs the bare loop.

Both sides do the same essential work on the same synthetic VQAv2-format task (official
questions/annotations JSON, COCO-sized JPEGs): read the docs, decode every image, preprocess it
as the model would (``--preprocess emu2``: Emu2's 448x448 bicubic resize and CLIP
normalisation; ``none``, the default and the strictest test: decoding only), build every
prompt, answer (instantly, the same answer), filter and score with the official VQA accuracy.
``evaluate()`` adds what the harness is for: request hashing, the SQLite response cache (a
fresh run directory each time, so every request is computed and committed), length-sorted
batching, image prefetching, per-sample logs, results.json with its manifest, bootstrap
intervals and reports (thumbnails included: their cache is cleared before every run, as a
new process would start). The two are timed side by side, alternating, ``--repeats`` times; the
result is the ratio of the medians (one run of this script = one ratio), in wall-clock time and
in process CPU time (all threads; steadier on a shared machine, and it does not credit the
prefetch threads for running in parallel).

    .venv/bin/python benchmarks/bench_overhead.py
    .venv/bin/python benchmarks/bench_overhead.py --preprocess none    # decoding only
    .venv/bin/python benchmarks/bench_overhead.py --image-size 64x64   # decoding nearly free
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image, ImageDraw

TASK_YAML = """\
task: bench_vqa
dataset:
  loader: vqa_official
  args:
    questions: "{root}/questions.json"
    annotations: "{root}/annotations.json"
    images: "{root}/images"
prompt: emu2_vqa_zeroshot
request: generate
generation: {{num_beams: 1, max_new_tokens: 5}}
filters: [short_answer]
metrics:
  - name: vqa_accuracy
    variant: official
"""
QUESTIONS = ["what color is the shape?", "how many shapes are there?", "is there a circle?"]
ANSWERS = ["red", "2", "yes", "blue", "no", "3"]


def make_dataset(root: Path, n_questions: int, n_images: int, size: tuple[int, int]) -> None:
    """Deterministic VQAv2-format data: JPEGs of coloured shapes and 10 answers per question."""
    rng = random.Random(0)
    (root / "images").mkdir(parents=True)
    for image_id in range(n_images):
        image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
        draw = ImageDraw.Draw(image)
        for _ in range(8):
            x, y = rng.randrange(size[0]), rng.randrange(size[1])
            draw.ellipse(
                (x, y, x + size[0] // 4, y + size[1] // 4),
                fill=tuple(rng.randrange(256) for _ in range(3)),
            )
        for x in range(0, size[0], 7):  # texture, so JPEG decoding costs what a photo costs
            draw.line(
                (x, 0, size[0] - x, size[1]), fill=tuple(rng.randrange(256) for _ in range(3))
            )
        image.save(root / "images" / f"COCO_val2014_{image_id:012d}.jpg", quality=90)
    questions, annotations = [], []
    for qid in range(n_questions):
        image_id = qid % n_images
        answers = [rng.choice(ANSWERS) for _ in range(10)]
        questions.append(
            {"image_id": image_id, "question": rng.choice(QUESTIONS), "question_id": qid}
        )
        annotations.append(
            {
                "question_id": qid,
                "image_id": image_id,
                "answers": [
                    {"answer": a, "answer_confidence": "yes", "answer_id": i + 1}
                    for i, a in enumerate(answers)
                ],
                "answer_type": "other",
                "question_type": "what",
                "multiple_choice_answer": answers[0],
            }
        )
    meta = {"data_subtype": "val2014", "data_type": "mscoco", "task_type": "Open-Ended"}
    (root / "questions.json").write_text(json.dumps({**meta, "questions": questions}))
    (root / "annotations.json").write_text(json.dumps({**meta, "annotations": annotations}))


def preprocessor(name: str):
    """What a model does to each decoded image before its encoder runs (or nothing)."""
    if name == "none":
        return lambda image: image
    from emu2_eval.models.emu2.preprocess import preprocess_image

    return lambda image: preprocess_image(image, 448)


def instant_adapter(preprocess):
    """A model that decodes and preprocesses its images (as any VLM must) and answers at once."""
    from emu2_eval.core.prompts import images_of
    from emu2_eval.models.base import ModelAdapter

    class Instant(ModelAdapter):
        name = "instant"
        supported_kinds = frozenset({"generate"})

        def fingerprint(self) -> str:
            return "instant-model"

        def prepare_image(self, image):  # what the prefetch workers may run ahead
            return preprocess(image)

        def generate(self, requests: Sequence, images=None) -> list[str]:
            images = self.images_or_files(images)
            for request in requests:
                for part in images_of(request.prompt):
                    images.load(part)  # decoded and prepared
            return ["yes" for _ in requests]

    return Instant()


def bare_loop(task, preprocess) -> float:
    """Read the docs, decode, preprocess, build prompts, answer, filter, score: nothing else.
    Returns the accuracy (to check both sides agree)."""
    from emu2_eval.core.prompts import ImagePart
    from emu2_eval.core.registry import METRICS
    from emu2_eval.engine.scoring import apply_filters
    from emu2_eval.scoring.metrics.base import Sample

    data = task.load()
    samples = []
    for doc in data.docs:
        parts = task.profile.render(doc)
        for part in parts:
            if isinstance(part, ImagePart):
                preprocess(part.load())
        samples.append(Sample(doc.doc_id, doc.fields, apply_filters("yes", task.config.filters)))
    spec = task.config.metrics[0]
    return METRICS.get(spec.name)(**spec.options).score(samples).summary["vqa_accuracy"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=2000)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--image-size", default="640x480", help="WxH of the JPEGs (COCO: ~640x480)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--prefetch-workers", type=int, default=0, help="as on a CPU run")
    parser.add_argument("--preprocess", choices=("emu2", "none"), default="none")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="print where evaluate() spends time")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.image_size.lower().split("x"))

    work = Path(tempfile.mkdtemp(prefix="emu2-eval-bench-"))
    home_before = os.environ.get("EMU2_EVAL_HOME")
    os.environ["EMU2_EVAL_HOME"] = str(work / "home")
    try:
        from emu2_eval.engine.evaluate import evaluate
        from emu2_eval.engine.run_config import RunConfig
        from emu2_eval.tasks.locations import TaskIndex
        from emu2_eval.tasks.registry import get_task

        make_dataset(work / "data", args.questions, args.images, (width, height))
        (work / "tasks").mkdir()
        (work / "tasks" / "bench_vqa.yaml").write_text(TASK_YAML.format(root=work / "data"))
        bench_tasks = TaskIndex((work / "tasks",))
        preprocess = preprocessor(args.preprocess)
        adapter = instant_adapter(preprocess)

        def harness(index: int) -> float:
            from emu2_eval.reporting.images import thumbnail_uri

            thumbnail_uri.cache_clear()  # a new process starts without them
            output = work / f"run{index}"
            config = RunConfig(
                model="instant", tasks=("bench_vqa",), output=output, task_index=bench_tasks,
                batch_size=args.batch_size,
                prefetch_workers=args.prefetch_workers, progress=False,
            )  # fmt: skip
            results = evaluate(config, adapter)
            shutil.rmtree(output)
            assert results is not None
            return results["tasks"]["bench_vqa"]["metrics"]["vqa_accuracy"]

        accuracy = bare_loop(get_task("bench_vqa", bench_tasks), preprocess)
        assert abs(harness(-1) - accuracy) < 1e-9  # warm-up + check
        wall: dict[str, list[float]] = {"bare": [], "harness": []}
        cpu: dict[str, list[float]] = {"bare": [], "harness": []}
        for index in range(args.repeats):
            for side in ("bare", "harness"):
                start, start_cpu = time.perf_counter(), time.process_time()
                if side == "bare":
                    bare_loop(get_task("bench_vqa", bench_tasks), preprocess)  # docs are read again
                else:
                    harness(index)
                wall[side].append(time.perf_counter() - start)
                cpu[side].append(time.process_time() - start_cpu)
        n = args.questions
        print(
            f"{n} questions, {args.images} images {width}x{height}, batch {args.batch_size}, "
            f"preprocess {args.preprocess}, prefetch workers {args.prefetch_workers}, "
            f"{args.repeats} alternating repeats"
        )
        for label, times in (("wall", wall), ("cpu", cpu)):
            bare, full = statistics.median(times["bare"]), statistics.median(times["harness"])
            print(
                f"{label:4s} bare loop {bare:.3f}s ({n / bare:.0f} samples/s) {_fmt(times['bare'])}"
                f"; evaluate() {full:.3f}s ({n / full:.0f} samples/s) {_fmt(times['harness'])}"
            )
            overhead = 100 * (full / bare - 1)
            print(f"{label:4s} ratio evaluate/bare = {full / bare:.3f} (overhead {overhead:+.1f}%)")
        if args.profile:
            profiler = cProfile.Profile()
            profiler.runcall(harness, 10_000)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if home_before is None:  # run in-process (tests): leave the caller's environment as it was
            os.environ.pop("EMU2_EVAL_HOME", None)
        else:
            os.environ["EMU2_EVAL_HOME"] = home_before
    return 0


def _fmt(times: list[float]) -> str:
    return "[" + ", ".join(f"{t:.3f}" for t in times) + "]"


if __name__ == "__main__":
    raise SystemExit(main())

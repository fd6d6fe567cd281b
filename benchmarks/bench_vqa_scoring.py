"""Benchmark ``score_many`` against the official GT-Vision-Lab/VQA ``VQAEval.evaluate()``.

Generates a deterministic synthetic VQA run (default 200k questions x 10 answers with a
VQAv2-like mix of yes/no, number and short "other" answers, including case, punctuation,
article, number-word and contraction variants), times :func:`score_many` on it and, with
``--official-repo PATH`` (a checkout of https://github.com/GT-Vision-Lab/VQA), times the
official ``VQAEval.evaluate()`` on the same data in the same process and checks that the
accuracies agree.

The official files are Python 2; they are loaded from the given checkout and adapted in memory
(tabs expanded with Python 2's 8-column rule, ``print x`` statements turned into calls).
Nothing from that repository is stored here.

    .venv/bin/python benchmarks/bench_vqa_scoring.py --official-repo /path/to/VQA
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import re
import sys
import tempfile
import time
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from emu2_eval.scoring.metrics.vqa_accuracy import (
    grouped_accuracy,
    normalize_answer,
    score_many,
)

# --------------------------------------------------------------------------- synthetic data

_COLORS = ["red", "blue", "white", "black", "green", "yellow", "brown", "gray", "orange", "pink"]
_OBJECTS = [
    "dog", "cat", "frisbee", "tennis racket", "baseball bat", "hot dog", "pizza", "t-shirt",
    "umbrella", "kite", "skateboard", "surfboard", "bus", "train", "clock", "giraffe",
    "elephant", "laptop", "cell phone", "teddy bear", "banana", "sandwich", "stop sign",
    "fire hydrant", "motorcycle", "horse", "sheep", "cow", "bench", "toilet", "sink", "vase",
]  # fmt: skip
_PLACES = ["kitchen", "beach", "street", "park", "living room", "bathroom", "field", "airport"]
_MISC = [
    "don't know", "dont know", "nothing", "left", "right", "on table", "in sky", "wood",
    "metal", "plastic", "tennis", "baseball", "soccer", "sunny", "cloudy", "daytime", "night",
    "man", "woman", "boy", "girl", "eating", "sitting", "standing", "walking", "flying",
    "it's raining", "its raining", "black/white", "red and white", "1:30", "10:10", "$5",
]  # fmt: skip
_NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight"]

_QUESTION_TYPES = {
    "yes/no": ["is the", "are there", "is this", "does the", "is it", "are the", "can you"],
    "number": ["how many", "how many people are", "what number is", "what time"],
    "other": ["what color is the", "what is the", "what is", "what sport is", "where is the",
              "what kind of", "what is the man", "why", "which", "what room is"],
}  # fmt: skip


def _other_vocab(rng: random.Random) -> list[str]:
    vocab = list(_OBJECTS) + list(_PLACES) + list(_MISC) + list(_COLORS)
    vocab += [f"{c} and {d}" for c in _COLORS for d in _COLORS if c < d]
    vocab += [f"{c} {o}" for c in _COLORS for o in _OBJECTS]
    rng.shuffle(vocab)
    return vocab


def _surface(rng: random.Random, answer: str, noisy: float) -> str:
    """A surface variant of ``answer`` as an annotator or a model might write it."""
    if rng.random() >= noisy:
        return answer
    r = rng.random()
    if r < 0.2:
        return answer.capitalize()
    if r < 0.35:
        return answer + rng.choice([".", "!", "?", " .", ".."])
    if r < 0.5:
        return rng.choice(["a ", "the ", "an "]) + answer
    if r < 0.6:
        return answer.replace(" ", "-") if " " in answer else answer + "s"
    if r < 0.7:
        return rng.choice([" ", "\n", ""]) + answer + rng.choice([" ", "\t", "\n"])
    if r < 0.8 and answer.isdigit() and int(answer) < len(_NUMBER_WORDS):
        return _NUMBER_WORDS[int(answer)]
    if r < 0.9:
        return answer.upper()
    return answer + rng.choice([", i think", " (probably)", " - maybe", "..."])


def make_run(n_questions: int, seed: int) -> dict[str, list]:
    """Deterministic synthetic run: predictions, 10 answers each, answer/question types."""
    rng = random.Random(seed)
    vocab = _other_vocab(rng)
    weights = [1.0 / (i + 1) ** 0.9 for i in range(len(vocab))]  # Zipf-like popularity
    preds, answers, ans_types, ques_types = [], [], [], []
    for _ in range(n_questions):
        r = rng.random()
        if r < 0.38:
            ans_type, truth = "yes/no", rng.choice(["yes", "no"])
            alt = [{"yes": "no", "no": "yes"}[truth], "maybe", "Yes", "no."]
        elif r < 0.50:
            ans_type = "number"
            truth = str(min(int(rng.expovariate(0.45)), 30))
            k = int(truth)
            alt = [str(k + 1), str(max(k - 1, 0)), f"{k} people", "1,000" if k > 9 else "0"]
        else:
            ans_type = "other"
            truth = rng.choices(vocab, weights=weights)[0]
            alt = [*rng.choices(vocab, weights=weights, k=3), truth + "s"]
        agreement = rng.choice([1.0, 0.9, 0.8, 0.6, 0.4])
        noisy = rng.choice([0.0, 0.0, 0.1, 0.3])
        gts = [
            _surface(rng, truth if rng.random() < agreement else rng.choice(alt), noisy)
            for _ in range(10)
        ]
        if rng.random() < 0.6:
            pred = _surface(rng, truth, 0.4)
        else:
            pred = _surface(rng, rng.choice(alt), 0.4)
        preds.append(pred)
        answers.append(gts)
        ans_types.append(ans_type)
        ques_types.append(rng.choice(_QUESTION_TYPES[ans_type]))
    return {
        "predictions": preds,
        "answers": answers,
        "answer_types": ans_types,
        "question_types": ques_types,
    }


# --------------------------------------------------------------------------- official code


def _load_py2_module(path: Path, name: str, extra: dict[str, types.ModuleType]) -> types.ModuleType:
    """Import a Python 2 file under Python 3: expand tabs (Py2 rule), make prints calls."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.expandtabs(8)
        match = re.match(r"^(\s*)print (.*)$", line)
        lines.append(f"{match.group(1)}print({match.group(2)})" if match else line)
    module = types.ModuleType(name)
    module.__file__ = str(path)
    module.__dict__.update(extra)
    exec(compile("\n".join(lines) + "\n", str(path), "exec"), module.__dict__)
    return module


def _write_official_files(tmp: Path, run: dict[str, list]) -> dict[str, Path]:
    questions, annotations, results = [], [], []
    for i, (pred, gts, atype, qtype) in enumerate(
        zip(
            run["predictions"],
            run["answers"],
            run["answer_types"],
            run["question_types"],
            strict=True,
        )
    ):
        qid = i + 1
        questions.append({"question_id": qid, "image_id": qid // 3, "question": "?"})
        annotations.append(
            {
                "question_id": qid,
                "image_id": qid // 3,
                "question_type": qtype,
                "answer_type": atype,
                "multiple_choice_answer": gts[0],
                "answers": [
                    {"answer": a, "answer_confidence": "yes", "answer_id": j + 1}
                    for j, a in enumerate(gts)
                ],
            }
        )
        results.append({"question_id": qid, "answer": pred})
    meta = {
        "info": {},
        "license": {},
        "task_type": "Open-Ended",
        "data_type": "mscoco",
        "data_subtype": "val2014",
    }
    paths = {k: tmp / f"{k}.json" for k in ("questions", "annotations", "results")}
    paths["questions"].write_text(json.dumps({**meta, "questions": questions}))
    paths["annotations"].write_text(json.dumps({**meta, "annotations": annotations}))
    paths["results"].write_text(json.dumps(results))
    return paths


def load_official(repo: Path) -> tuple[types.ModuleType, types.ModuleType]:
    """The official ``vqa`` and ``vqaEval`` modules of a GT-Vision-Lab/VQA checkout."""
    vqa_mod = _load_py2_module(repo / "PythonHelperTools/vqaTools/vqa.py", "vqa", {})
    eval_mod = _load_py2_module(
        repo / "PythonEvaluationTools/vqaEvaluation/vqaEval.py", "vqaEval", {}
    )
    return vqa_mod, eval_mod


def time_official(
    vqa_mod: types.ModuleType, eval_mod: types.ModuleType, paths: dict[str, Path]
) -> tuple[float, object]:
    """Load the written files afresh (``evaluate()`` rewrites the answers it normalises) and
    time the official ``VQAEval.evaluate()`` alone (JSON loading and indexing not timed)."""
    with contextlib.redirect_stdout(io.StringIO()):
        vqa = vqa_mod.VQA(str(paths["annotations"]), str(paths["questions"]))
        vqa_res = vqa.loadRes(str(paths["results"]), str(paths["questions"]))
        evaluator = eval_mod.VQAEval(vqa, vqa_res, n=2)
        start = time.perf_counter()
        evaluator.evaluate()
        elapsed = time.perf_counter() - start
    return elapsed, evaluator


def run_official(repo: Path, run: dict[str, list]) -> tuple[float, object]:
    """Time the official ``VQAEval.evaluate()`` (JSON loading and indexing not timed)."""
    modules = load_official(repo)
    with tempfile.TemporaryDirectory() as tmp:
        return time_official(*modules, _write_official_files(Path(tmp), run))


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="score_many timing repeats")
    parser.add_argument("--official-repo", type=Path, help="checkout of GT-Vision-Lab/VQA")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    run = make_run(args.questions, args.seed)
    n_answers = sum(map(len, run["answers"]))
    n_distinct = len(set(run["predictions"]).union(*run["answers"]))
    print(
        f"synthetic run: {args.questions} questions, {n_answers} answers, {n_distinct} distinct "
        f"strings, seed {args.seed} "
        f"(generated in {time.perf_counter() - start:.1f}s)"
    )

    cold, warm = [], []
    for _ in range(args.repeats):
        normalize_answer.cache_clear()  # cold: every distinct string normalised again
        start = time.perf_counter()
        scores = score_many(run["predictions"], run["answers"])
        cold.append(time.perf_counter() - start)
        start = time.perf_counter()
        score_many(run["predictions"], run["answers"])
        warm.append(time.perf_counter() - start)
    ours = min(cold)
    overall = 100.0 * float(scores.mean())
    print(
        f"score_many (official variant): cold {ours:.3f}s (min of {args.repeats}), "
        f"warm cache {min(warm):.3f}s; overall accuracy {overall:.4f}"
    )
    per_type = grouped_accuracy(scores, run["answer_types"])
    print("per answer type: " + ", ".join(f"{k} {100 * v:.2f}" for k, v in per_type.items()))
    always = score_many(run["predictions"], run["answers"], variant="always_normalize")
    print(f"always_normalize overall accuracy {100.0 * float(always.mean()):.4f}")

    if args.official_repo is None:
        return 0
    elapsed, evaluator = run_official(args.official_repo, run)
    acc = evaluator.accuracy
    print(f"official VQAEval.evaluate(): {elapsed:.3f}s; overall accuracy {acc['overall']}")
    print(
        f"time ratio official / score_many(cold) = {elapsed / ours:.1f}x "
        f"(vs warm cache {elapsed / min(warm):.1f}x)"
    )

    # The official rounds to 2 decimals; per question the unrounded values are bit-identical,
    # so round(100 * acc, 2) must match evalQA exactly.  Aggregates are compared after the
    # same rounding (they are sums of identical values, possibly added in another order).
    ours_q = [round(100 * v, 2) for v in scores.tolist()]
    n_diff = sum(ours_q[i] != evaluator.evalQA[i + 1] for i in range(len(ours_q)))

    def close(ours_pct: dict[str, float], theirs: dict[str, float]) -> bool:
        return ours_pct.keys() == theirs.keys() and all(
            abs(ours_pct[k] - theirs[k]) <= 0.005 + 1e-9 for k in theirs
        )

    by_atype = {k: 100 * v for k, v in per_type.items()}
    by_qtype = {k: 100 * v for k, v in grouped_accuracy(scores, run["question_types"]).items()}
    checks = {
        "overall": close({"overall": overall}, {"overall": acc["overall"]}),
        "per answer type": close(by_atype, acc["perAnswerType"]),
        "per question type": close(by_qtype, acc["perQuestionType"]),
        "per question (evalQA)": n_diff == 0,
    }
    print(
        f"agreement: overall official {acc['overall']} vs ours {overall:.4f}; per-question "
        f"evalQA mismatches {n_diff}; "
        + ", ".join(f"{k} {'OK' if v else 'MISMATCH'}" for k, v in checks.items())
    )
    ok = all(checks.values())
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Golden per-question scores of the Emu team's VQA scorers (not run in CI).

Writes ``tests/data/vqa_emu_lavis_golden.json``: what ``VQAEval`` and ``OKVQAEval`` of
baaivision/Emu (``Emu1/mm_eval/datasets/vqa_tools/vqa_eval.py``, the LAVIS copy the Emu team
evaluated with) give on every case of ``tests/data/vqa_official_golden.json`` plus cases aimed at
their differences from the official GT-Vision-Lab scorer (answers never lower-cased or cleaned,
the whole answer string Porter-stemmed, ...).

The official code is imported from its repository at run time in a scratch environment; nothing
of it is copied here or committed. Set the environment up once (nltk is the only import of the
file besides the standard library)::

  python3.11 -m venv /tmp/predict_refvenv && /tmp/predict_refvenv/bin/pip install nltk==3.10.4

Run::

  /tmp/predict_refvenv/bin/python scripts/make_vqa_variant_golden.py \\
      --official-repo /tmp/emu_official

How a score is read: each case becomes one question of a minimal ``vqa`` / ``vqaRes`` pair (the
two objects ``evaluate`` reads: ``qa``, ``getQuesIds``), with answer ids 1..N as in the real
annotation files; the per-question accuracy is captured unrounded from ``setEvalQA``.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import platform
import subprocess
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SOURCE_FILE = "Emu1/mm_eval/datasets/vqa_tools/vqa_eval.py"
OFFICIAL_CASES = REPO / "tests" / "data" / "vqa_official_golden.json"
DEFAULT_OUT = REPO / "tests" / "data" / "vqa_emu_lavis_golden.json"

# (prediction, answers) aimed at the Emu/LAVIS scorers: answers that are never lower-cased or
# whitespace-cleaned, punctuation fixed in the answers only when they disagree, the prediction
# always normalised, and (OK-VQA) the whole string Porter-stemmed after punctuation handling.
EXTRA_CASES: list[tuple[str, list[str]]] = [
    ("yes", ["Yes"] * 10),
    ("Yes", ["Yes"] * 10),
    ("yes", ["Yes"] * 5 + ["yes"] * 5),
    ("yes", [" yes"] * 10),
    ("yes", [" yes", "yes", "yes", "yes"]),
    ("yes", ["yes\n"] * 3 + ["yes"] * 3),
    ("two", ["2"] * 10),
    ("two", ["two"] * 10),
    ("two", ["two", "two", "two", "2"]),
    ("the dog", ["dog"] * 10),
    ("dog", ["the dog"] * 10),
    ("dog", ["the dog", "the dog", "the dog", "a dog"]),
    ("dogs", ["dog", "dog", "dog", "dogs"]),
    ("dog", ["dogs", "dogs", "dogs", "dog"]),
    ("dogs", ["dogs"] * 10),
    ("running", ["run", "run", "runs", "running"]),
    ("run", ["running", "running", "running", "ran"]),
    ("red cars", ["red car", "red car", "red car", "cars"]),
    ("red car", ["red cars", "red cars", "red cars", "car"]),
    ("cars red", ["cars red", "car red", "cars red", "cars"]),
    ("flying", ["fly", "fly", "flies", "flying"]),
    ("skiing", ["ski", "ski", "skis", "skiing", "skiing", "skiing"]),
    ("surfing", ["surf", "surfing", "surfing", "surfboard", "surf", "surf"]),
    ("baseball", ["baseball", "baseball", "Baseball", "base ball"]),
    ("Baseball", ["baseball", "baseball", "Baseball", "base ball"]),
    ("its", ["its", "its", "it's", "it is"]),
    ("dont", ["don't", "don't", "dont", "do not"]),
    ("don't", ["dont", "dont", "dont", "don't"]),
    ("isnt", ["isn't", "isn't", "isn't", "no"]),
    ("yes!", ["yes!", "yes!", "yes", "no"]),
    ("yes", ["yes!", "yes!", "yes!", "no"]),
    ("yes", ["yes.", "yes.", "yes.", "no"]),
    ("yes.", ["yes."] * 10),
    ("yes", ["yes."] * 10),
    ("t-shirt", ["t shirt", "t shirt", "t-shirt", "tshirt"]),
    ("t shirt", ["t-shirt", "t-shirt", "t-shirt", "shirt"]),
    ("1,000", ["1000", "1000", "1000", "1,000"]),
    ("1000", ["1,000", "1,000", "1,000", "1000"]),
    ("3.5", ["3.5", "3.5", "3.5", "3"]),
    ("3.", ["3", "3", "3", "4"]),
    ("the the", ["the", "the", "the", "a"]),
    ("an apple", ["apple", "apple", "an apple", "apples"]),
    ("apples", ["apple", "apple", "an apple", "apples"]),
    ("Apple", ["Apple", "Apple", "Apple", "apple"]),
    ("apple", ["Apple", "Apple", "Apple", "apple"]),
    ("ponies", ["pony", "pony", "ponies", "horse"]),
    ("pony", ["ponies", "ponies", "ponies", "horse"]),
    ("caresses", ["caress", "caress", "caresses", "cat"]),
    ("generalization", ["general", "generalize", "generalization", "generalization"]),
    ("happiness", ["happy", "happy", "happiness", "happiness"]),
    ("happy", ["happiness", "happiness", "happiness", "sad"]),
    ("is", ["is", "is", "is", "be"]),
    ("as", ["as", "as", "as", "was"]),
    ("USA", ["usa", "usa", "USA", "us"]),
    ("usa", ["USA", "USA", "USA", "us"]),
    ("new york", ["New York", "New York", "new york", "nyc"]),
    ("New York", ["New York", "New York", "new york", "nyc"]),
    ("none", ["0", "0", "0", "none"]),
    ("zero", ["none", "none", "none", "0"]),
    ("  tennis  ", ["tennis", "tennis", "tennis", "tenis"]),
    ("tennis", ["tennis ", "tennis ", "tennis ", "tenis"]),
    ("tennis", ["tennis ", "tennis", "tennis", "tennis"]),
    ("wii", ["wii", "wii", "wii", "wii remote"]),
    ("wiis", ["wii", "wii", "wii", "nintendo"]),
    ("bus's", ["bus", "bus", "bus's", "buses"]),
    ("buses", ["bus", "bus", "buses", "buses"]),
    ("", ["", "", "", "yes"]),
    ("", [""] * 10),
    ("yes", ["yes", "yes", "yes"]),
    ("yes", ["yes"]),
    ("yes", ["yes", "no"]),
    ("Playing Frisbee", ["playing frisbee", "frisbee", "playing frisbee", "playing frisbees"]),
    ("playing frisbees", ["playing frisbee", "frisbee", "playing frisbee", "playing frisbees"]),
]


def load_reference(repo: Path) -> Any:
    """Import ``vqa_eval.py`` from its file (the package's ``__init__`` pulls in torch)."""
    spec = importlib.util.spec_from_file_location("emu_vqa_eval", repo / SOURCE_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _QA:
    """The two things ``VQAEval.evaluate`` reads from its ``vqa`` and ``vqaRes`` objects."""

    def __init__(self, qa: dict[int, dict[str, Any]]) -> None:
        self.qa = qa

    def getQuesIds(self) -> list[int]:
        return list(self.qa)


def score(scorer_class: type, prediction: str, answers: list[str]) -> float:
    """One question scored by ``scorer_class``; the unrounded accuracy from ``setEvalQA``."""
    gts = {
        1: {
            "question_id": 1,
            "question_type": "none of the above",
            "answer_type": "other",
            "answers": [
                {"answer": a, "answer_confidence": "yes", "answer_id": i + 1}
                for i, a in enumerate(answers)
            ],
        }
    }
    scorer = scorer_class(_QA(copy.deepcopy(gts)), _QA({1: {"answer": prediction}}), n=2)
    captured: dict[int, float] = {}
    scorer.setEvalQA = lambda question_id, acc: captured.__setitem__(question_id, acc)
    scorer.updateProgress = lambda progress: None
    scorer.evaluate()
    return float(captured[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--official-repo", type=Path, required=True)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    import contextlib
    import io

    import nltk

    module = load_reference(args.official_repo)
    commit = subprocess.run(
        ["git", "-C", str(args.official_repo), "rev-parse", "HEAD"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    official = json.loads(OFFICIAL_CASES.read_text(encoding="utf-8"))["cases"]
    inputs = [(c["prediction"], c["answers"]) for c in official] + EXTRA_CASES
    cases = []
    with contextlib.redirect_stdout(io.StringIO()):  # evaluate() prints progress
        for prediction, answers in inputs:
            cases.append(
                {
                    "prediction": prediction,
                    "answers": answers,
                    "emu_lavis_accuracy": score(module.VQAEval, prediction, answers),
                    "okvqa_stemmed_accuracy": score(module.OKVQAEval, prediction, answers),
                }
            )
    header = {
        "source_repo": "https://github.com/baaivision/Emu",
        "source_commit": commit,
        "source_file": SOURCE_FILE,
        "emu_lavis_class": "VQAEval",
        "okvqa_stemmed_class": "OKVQAEval",
        "nltk": nltk.__version__,
        "python": platform.python_version(),
        "how": "VQAEval/OKVQAEval.evaluate() on one question per case, answer_ids 1..N; the "
        "per-question accuracy captured unrounded from setEvalQA. Cases: every case of "
        "vqa_official_golden.json, then EXTRA_CASES of scripts/make_vqa_variant_golden.py.",
    }
    args.output.write_text(
        json.dumps({"header": header, "cases": cases}, indent=1, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    print(f"wrote {len(cases)} cases to {args.output}")


if __name__ == "__main__":
    main()

"""Golden MMMU parsing results from the official MMMU evaluation code (not run in CI).

Writes ``tests/data/mmmu_parse_golden.json``: for every case, what MMMU-Benchmark/MMMU
``mmmu/utils/eval_utils.py`` returns (``parse_multi_choice_response`` or ``parse_open_response``,
then ``eval_multi_choice`` / ``eval_open``) and, per subject, the accuracy its ``evaluate``
gives. Cases: the repository's public example outputs (``mmmu/example_outputs/<model>/<subject>/
output.json``: real responses of LLaVA-1.5-13B and Qwen-VL on MMMU val, every answer format
that occurs) with the ground truth of ``mmmu/answer_dict_val.json``, plus hand-written responses
for the formats the examples lack (scientific notation, thousands commas, equations, options
matched by content, no answer at all).

The official random fallback (``random.choice`` when nothing is parsed) is replaced, in the
reference run only, by a sentinel ``"<random>"`` so that the golden file says where it happened;
the sentinel never equals a gold letter, so the recorded accuracies count those as wrong (the
harness's ``fallback: wrong``).

Run (any Python with numpy, e.g. the scratch venv of ``scripts/make_emu2_golden.py``)::

  .venv/bin/python scripts/make_mmmu_golden.py --mmmu-repo /work/.mirror/MMMU-Benchmark+MMMU/repo \\
      --reference-python /tmp/refenv/bin/python

``--mmmu-repo`` may be a bare mirror: files are read with ``git show``. Nothing of the official
code is copied or committed: the reference stage imports it from a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _golden_common import git, git_head

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "tests" / "data" / "mmmu_parse_golden.json"
MODELS = ("llava1.5_13b", "qwen_vl")
ABCD = {"A": "the mitochondria", "B": "the nucleus", "C": "the ribosome", "D": "golgi apparatus"}
HAND_CASES = [
    {"question_type": "multiple-choice", "response": "(B)", "answer": "B"},
    {"question_type": "multiple-choice", "response": "The answer is (C).", "answer": "C"},
    {"question_type": "multiple-choice", "response": "A or maybe (B), finally (D)", "answer": "D"},
    {"question_type": "multiple-choice", "response": "B, then A is wrong", "answer": "A"},
    {"question_type": "multiple-choice", "response": "C.", "answer": "C"},
    {"question_type": "multiple-choice", "response": "'A',.", "answer": "A"},
    {"question_type": "multiple-choice", "response": "A,.", "answer": "A"},
    {
        "question_type": "multiple-choice",
        "response": "I think it is clearly the ribosome in this cell picture",
        "answer": "C",
    },
    {
        "question_type": "multiple-choice",
        "response": "Both the nucleus and the Golgi apparatus appear in this image here",
        "answer": "D",
    },
    {"question_type": "multiple-choice", "response": "the nucleus", "answer": "B"},
    {"question_type": "multiple-choice", "response": "I cannot tell.", "answer": "A"},
    {"question_type": "multiple-choice", "response": "", "answer": "A"},
    {"question_type": "open", "response": "The answer is 1,234,567.", "answer": "1234567"},
    {"question_type": "open", "response": "x = 3.14159", "answer": "3.14"},
    {"question_type": "open", "response": "so the rate is 6.02e23 per mole", "answer": "6.02e23"},
    {"question_type": "open", "response": "Therefore the total is $12.50", "answer": ["12.5"]},
    {"question_type": "open", "response": "the value could be -0.5 or .5", "answer": "0.5"},
    {"question_type": "open", "response": "Paris", "answer": "paris"},
    {"question_type": "open", "response": "The final answer: a", "answer": "a"},
    {"question_type": "open", "response": "It is b.\nSo the result is c", "answer": "c"},
    {"question_type": "open", "response": "42", "answer": ["41", "42"]},
    {"question_type": "open", "response": "forty-two", "answer": "42"},
    {"question_type": "open", "response": "1/2 = 0.50", "answer": "0.5"},
    {"question_type": "open", "response": "The answer is :", "answer": "5"},
]


def _git_show(repo: Path, path: str) -> str:
    return git(repo, "show", f"HEAD:{path}")


def collect_cases(repo: Path, per_subject: int = 6) -> list[dict]:
    """Example outputs with their ground truth, then the hand-written cases.

    Every open question is kept (the rarer format) and at most ``per_subject`` multiple-choice
    responses per (model, subject), in file order: enough for every answer format while the
    golden file stays small (it is test data, not a copy of the outputs)."""
    answers = json.loads(_git_show(repo, "mmmu/answer_dict_val.json"))
    listing = git(repo, "ls-tree", "-r", "--name-only", "HEAD", "mmmu/example_outputs").split()
    cases = []
    kept: dict[tuple[str, str], int] = {}
    for path in sorted(listing):
        parts = path.split("/")
        if len(parts) != 5 or parts[2] not in MODELS or parts[4] != "output.json":
            continue
        for item in json.loads(_git_show(repo, path)):
            if item["question_type"] == "multiple-choice":
                key = (parts[2], parts[3])
                if kept.get(key, 0) >= per_subject:
                    continue
                kept[key] = kept.get(key, 0) + 1
            case = {
                "id": item["id"],
                "source": parts[2],
                "subject": parts[3],
                "question_type": item["question_type"],
                "response": item["response"],
                "answer": answers[item["id"]]["ground_truth"],
            }
            if item["question_type"] == "multiple-choice":
                case["index2ans"] = item["index2ans"]
            cases.append(case)
    for number, case in enumerate(HAND_CASES):
        extra = {"index2ans": ABCD} if case["question_type"] == "multiple-choice" else {}
        cases.append({"id": f"hand_{number}", "source": "hand", "subject": "Hand", **case, **extra})
    return cases


def reference(module_dir: Path, cases: list[dict]) -> dict:
    """Run the official parsing and evaluation on ``cases`` (in the reference interpreter)."""
    sys.path.insert(0, str(module_dir))
    import eval_utils

    eval_utils.random.choice = lambda choices: "<random>"
    results, by_subject = [], {}
    for case in cases:
        if case["question_type"] == "multiple-choice":
            parsed = eval_utils.parse_multi_choice_response(
                case["response"], list(case["index2ans"]), case["index2ans"]
            )
            correct = eval_utils.eval_multi_choice(case["answer"], parsed)
        else:
            parsed = eval_utils.parse_open_response(case["response"])
            correct = eval_utils.eval_open(case["answer"], parsed)
            parsed = sorted(parsed, key=lambda v: (isinstance(v, str), str(v)))
        results.append({"id": case["id"], "parsed": parsed, "correct": bool(correct)})
        key = f"{case['source']}/{case['subject']}"
        by_subject.setdefault(key, []).append(
            {"id": case["id"], "question_type": case["question_type"], "answer": case["answer"],
             "parsed_pred": parsed}
        )  # fmt: skip
    accuracy = {key: eval_utils.evaluate(items)[1]["acc"] for key, items in by_subject.items()}
    return {"results": results, "accuracy": accuracy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mmmu-repo", type=Path, required=True)
    parser.add_argument("--reference-python", default=sys.executable)
    parser.add_argument("--stage", choices=("all", "reference"), default="all")
    parser.add_argument("--work", type=Path)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--per-subject", type=int, default=6)
    args = parser.parse_args()
    if args.stage == "reference":
        cases = json.loads((args.work / "cases.json").read_text())
        (args.work / "reference.json").write_text(json.dumps(reference(args.work, cases)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "eval_utils.py").write_text(_git_show(args.mmmu_repo, "mmmu/utils/eval_utils.py"))
        cases = collect_cases(args.mmmu_repo, args.per_subject)
        (work / "cases.json").write_text(json.dumps(cases))
        subprocess.run(
            [args.reference_python, __file__, "--stage", "reference", "--mmmu-repo",
             str(args.mmmu_repo), "--work", str(work)],
            check=True,
        )  # fmt: skip
        ref = json.loads((work / "reference.json").read_text())
    for case in cases:  # option texts are read only for responses of more than five words
        if "index2ans" in case and len(case["response"].split()) <= 5:
            case["index2ans"] = {letter: "" for letter in case["index2ans"]}
    golden = {
        "source": "MMMU-Benchmark/MMMU mmmu/utils/eval_utils.py",
        "note": "index2ans texts blanked where the response has five words or fewer (unused)",
        "commit": git_head(args.mmmu_repo, check=True),
        "generator": "scripts/make_mmmu_golden.py",
        "fallback": "the official random.choice replaced by the sentinel '<random>'",
        "selection": f"every open question, {args.per_subject} multiple-choice per model/subject",
        "cases": [{**case, **result} for case, result in zip(cases, ref["results"], strict=True)],
        "accuracy": ref["accuracy"],
    }
    args.out.write_text(json.dumps(golden, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"wrote {len(golden['cases'])} cases to {args.out}")


if __name__ == "__main__":
    main()

"""TouchStone: the submission TSV its scorer reads and GPT grading as its ``eval.py`` does it.

Submission (OFA-Sys/TouchStone README, "Format requirement"): tab-separated, a header, one row
per question of ``touchstone_20230831.tsv`` (908), columns ``index, question, human_annotation,
gpt4_ha_answer, category, task_name`` as in the dataset plus ``response`` (the model's answer).

Grading (``eval.py``): for each question two requests, the reference answer as assistant 1 and
the model's as assistant 2, then swapped (position balancing); system message and template
below, temperature 0, ``stop`` at a newline. A reply must start with a line holding exactly two
numbers separated by one space (``"8 7"``); otherwise the request is repeated, up to 5 attempts,
and the round is then an error, left out of the means. The model's score is the mean of its
scores over all valid rounds x 100 (the paper's TouchStone points, e.g. 703.8); per category
(the ``category`` column, comma-separated), the same over that category's rounds.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from emu2_eval.data.touchstone import SUBMISSION_FIELDS
from emu2_eval.judge.client import ChatJudge

# TouchStone's judge prompts (eval.py ``prompt_dic``), verbatim.
SYSTEM_PROMPT = "You are a helpful and precise assistant for checking the quality of the answer."
TEMPLATE = (
    "[Detailed Image Description]\n{human_annotation}\n\n[Question]\n{question}\n\n"
    "[The Start of Assistant 1's Answer]\n{answer_1}\n\n[The End of Assistant 1's Answer]\n\n"
    "[The Start of Assistant 2's Answer]\n{answer_2}\n\n[The End of Assistant 2's Answer]\n\n"
    "[System]\n{prompt}\n\n"
)
INSTRUCTION = (
    "We would like to request your feedback on the performance of two AI assistants in response "
    "to the user question and image description displayed above. AI assistants are provided with "
    "detailed image description and questions.\nPlease rate the helpfulness, relevance, accuracy, "
    "comprehensiveness of their responses. Each assistant receives an overall score on a scale of "
    "1 to 10, where a higher score indicates better overall performance.\nPlease first output a "
    "single line containing only two values indicating the scores for Assistant 1 and 2, "
    "respectively. The two scores are separated by a space. In the subsequent line, please "
    "provide a comprehensive explanation of your evaluation, avoiding any potential bias and "
    "ensuring that the order in which the responses were presented does not affect your judgment."
)
ATTEMPTS = 5
PROTOCOL = "touchstone (eval.py: two position-balanced rounds, temperature 0, stop newline)"
COLUMNS = ("index", *SUBMISSION_FIELDS, "response")


def write_submission(
    rows: Sequence[Mapping[str, Any]], responses: Mapping[str, str], out: Path
) -> None:
    """The TSV TouchStone's ``eval.py`` reads: dataset columns plus ``response``."""
    missing = [str(r["index"]) for r in rows if str(r["index"]) not in responses]
    if missing:
        raise ValueError(
            f"no response for {len(missing)} TouchStone question(s) ({', '.join(missing[:5])}): "
            "run the task without --limit so that every question has one"
        )
    with open(out, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t")
        writer.writerow(COLUMNS)
        for row in rows:
            index = str(row["index"])
            writer.writerow([index, *(row[f] for f in SUBMISSION_FIELDS), responses[index]])


def parse_scores(content: str) -> tuple[float, float] | None:
    """``"8 7\\n..."`` -> (8.0, 7.0); None when the first line is not exactly two numbers."""
    first = content.strip().split("\n", 1)[0]
    values = first.strip().split(" ")
    if len(values) != 2:
        return None
    try:
        return float(values[0]), float(values[1])
    except ValueError:
        return None


def _round(judge: ChatJudge, row: Mapping[str, Any], first: str, second: str) -> dict[str, Any]:
    query = TEMPLATE.format(
        human_annotation=row["human_annotation"], question=row["question"],
        answer_1=first, answer_2=second, prompt=INSTRUCTION,
    )  # fmt: skip
    messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": query}]
    replies = []
    for _ in range(ATTEMPTS):
        reply = judge.complete(messages, stop=["\n"], temperature=0)
        replies.append(reply.content)
        scores = parse_scores(reply.content)
        if scores is not None:
            return {"scores": list(scores), "replies": replies}
    return {"scores": None, "replies": replies}


def grade(judge: ChatJudge, row: Mapping[str, Any], response: str) -> dict[str, Any]:
    """Both rounds: (reference, model) then (model, reference); the model's two scores."""
    reference = row["gpt4_ha_answer"]
    one = _round(judge, row, reference, response)
    two = _round(judge, row, response, reference)
    model = [s for s in (one["scores"] and one["scores"][1], two["scores"] and two["scores"][0])
             if s is not None]  # fmt: skip
    return {"round1": one, "round2": two, "model_scores": model}


def summarize(grades: Mapping[str, Mapping[str, Any]], categories: Mapping[str, str]) -> dict:
    """The model's TouchStone score (mean x 100) and the same per category."""
    every: list[float] = []
    per: dict[str, list[float]] = {}
    for index, graded in grades.items():
        every += graded["model_scores"]
        for category in categories[index].split(","):
            per.setdefault(category, []).extend(graded["model_scores"])
    if not every:
        raise ValueError("the judge gave no valid score for any question")
    out = {f"touchstone_{c}": 100.0 * sum(v) / len(v) for c, v in sorted(per.items()) if v}
    return {"touchstone_score": 100.0 * sum(every) / len(every), **out}

"""MM-Vet: the official results file and GPT grading as MM-Vet's evaluator does it.

Results file (what MM-Vet's ``mm-vet_evaluator.py --result_file`` and its online evaluator read):
one JSON object ``{question id: answer}`` over every question of ``mm-vet.json``.

Grading (MM-Vet ``mm-vet_evaluator.py``, yuweihao/MM-Vet): one user message, the few-shot grading
prompt below, a newline, then ``question | ground truth | prediction | `` (``<AND>``/``<OR>`` of
the ground truth padded with spaces), ``max_tokens`` 3, temperature 0. The reply's first
space-separated token must be a number in [0, 1] (the 0..1 correctness convention); otherwise the
request is repeated with "\\nPredict the correctness of the answer (digit): " appended, at
temperature 0, 0.5, 1.0, ... and after four such retries a fifth is sent but not read: the score
is 0.0. The total is the mean score x 100; per capability, the mean over the questions that need
it x 100.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from emu2_eval.judge.client import ChatJudge

# MM-Vet's grading prompt (mm-vet_evaluator.py, ``prompt``): the judge's instructions, verbatim.
GRADING_PROMPT = """Compare the ground truth and prediction from AI models, to give a correctness score for the prediction. <AND> in the ground truth means it is totally right only when all elements in the ground truth are present in the prediction, and <OR> means it is totally right when any one element in the ground truth is present in the prediction. The correctness score is 0.0 (totally wrong), 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, or 1.0 (totally right). Just complete the last space of the correctness score.

Question | Ground truth | Prediction | Correctness
--- | --- | --- | ---
What is x in the equation? | -1 <AND> -5 | x = 3 | 0.0
What is x in the equation? | -1 <AND> -5 | x = -1 | 0.5
What is x in the equation? | -1 <AND> -5 | x = -5 | 0.5
What is x in the equation? | -1 <AND> -5 | x = -5 or 5 | 0.5
What is x in the equation? | -1 <AND> -5 | x = -1 or x = -5 | 1.0
Can you explain this meme? | This meme is poking fun at the fact that the names of the countries Iceland and Greenland are misleading. Despite its name, Iceland is known for its beautiful green landscapes, while Greenland is mostly covered in ice and snow. The meme is saying that the person has trust issues because the names of these countries do not accurately represent their landscapes. | The meme talks about Iceland and Greenland. It's pointing out that despite their names, Iceland is not very icy and Greenland isn't very green. | 0.4
Can you explain this meme? | This meme is poking fun at the fact that the names of the countries Iceland and Greenland are misleading. Despite its name, Iceland is known for its beautiful green landscapes, while Greenland is mostly covered in ice and snow. The meme is saying that the person has trust issues because the names of these countries do not accurately represent their landscapes. | The meme is using humor to point out the misleading nature of Iceland's and Greenland's names. Iceland, despite its name, has lush green landscapes while Greenland is mostly covered in ice and snow. The text 'This is why I have trust issues' is a playful way to suggest that these contradictions can lead to distrust or confusion. The humor in this meme is derived from the unexpected contrast between the names of the countries and their actual physical characteristics. | 1.0
"""  # noqa: E501
RETRY_SUFFIX = "\nPredict the correctness of the answer (digit): "
READ_RETRIES = 4  # retries whose reply is read; one more is sent and ignored, as MM-Vet does
PROTOCOL = "mmvet_v1 (mm-vet_evaluator.py: max_tokens 3, temperature 0 then +0.5 per retry)"


def write_results(predictions: Mapping[str, str], question_ids: Iterable[str], out: Path) -> None:
    """``{question id: answer}`` for every question (a missing answer is an error)."""
    ids = list(question_ids)
    missing = [qid for qid in ids if qid not in predictions]
    if missing:
        raise ValueError(
            f"no answer for {len(missing)} MM-Vet question(s) ({', '.join(missing[:5])}): "
            "run the task without --limit so that every question has one"
        )
    out.write_text(json.dumps({qid: predictions[qid] for qid in ids}, indent=4) + "\n")


def grading_message(question: str, answer: str, prediction: str, retry: bool = False) -> str:
    truth = answer.replace("<AND>", " <AND> ").replace("<OR>", " <OR> ")
    text = GRADING_PROMPT + "\n" + " | ".join([question, truth, prediction, ""])
    return text + RETRY_SUFFIX if retry else text


def parse_score(content: str) -> float | None:
    """MM-Vet's reading of a reply: the first space-separated token as a number in [0, 1]."""
    try:
        score = float(content.split(" ")[0].strip())
    except ValueError:
        return None
    return score if 0.0 <= score <= 1.0 else None


def grade(judge: ChatJudge, question: str, answer: str, prediction: str) -> dict[str, Any]:
    """One question's score and every reply the judge gave."""
    replies: list[str] = []
    temperature = 0.0
    for attempt in range(READ_RETRIES + 2):
        message = grading_message(question, answer, prediction, retry=attempt > 0)
        reply = judge.complete(
            [{"role": "user", "content": message}], max_tokens=3, temperature=temperature
        )
        replies.append(reply.content)
        if attempt > 0:
            temperature += 0.5
        if attempt > READ_RETRIES:  # MM-Vet sends this one and gives 0.0 without reading it
            break
        score = parse_score(reply.content)
        if score is not None:
            return {"score": score, "replies": replies, "judge_model": reply.model}
    return {"score": 0.0, "replies": replies, "judge_model": reply.model}


def summarize(scores: Mapping[str, float], capabilities: Mapping[str, list[str]]) -> dict:
    """Total and per-capability scores, x100 (MM-Vet's cap-score table, unrounded)."""
    per: dict[str, list[float]] = {}
    for qid, score in scores.items():
        for capability in set(capabilities[qid]):
            per.setdefault(capability, []).append(score)
    out = {f"mmvet_{c}": 100.0 * sum(v) / len(v) for c, v in sorted(per.items())}
    return {"mmvet_total": 100.0 * sum(scores.values()) / len(scores), **out}

"""Which answer a demonstration shows (``fewshot.demo_answer``): unpublished, so an option.

VQA annotations carry ten crowd answers; a demonstration shows one. Rules:

* ``multiple_choice_answer`` (default): the doc's ``answer`` field as its loader set it. VQAv2 and
  OK-VQA: the annotation's ``multiple_choice_answer`` (the official "most frequent answer",
  counted by the VQA team after their own normalisation); loaders without one (TextVQA, VizWiz)
  set the ``most_common`` answer below; Hateful Memes sets ``yes``/``no`` from the label.
* ``first``: ``answers[0]``, the first crowd answer, as OpenFlamingo does
  (mlfoundations/open_flamingo@655f693, ``open_flamingo/eval/evaluate.py`` line 1021:
  ``get_vqa_prompt(question=x["question"], answer=x["answers"][0])``).
* ``most_common``: the answer string occurring most often in ``answers`` (exact strings, no
  normalisation); a tie goes to the tied answer whose first occurrence comes earliest in the list.

``first`` and ``most_common`` need an ``answers`` list in every pool doc (:func:`check_pool`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from emu2_eval.core.errors import UserError
from emu2_eval.data.docs import Doc, LoadedData

DEFAULT_RULE = "multiple_choice_answer"


class DemoAnswerError(UserError, ValueError):
    """``fewshot.demo_answer`` does not fit the pool (no crowd answers to choose from)."""


def loader_answer(doc: Doc) -> str:
    """The ``answer`` field as loaded (VQAv2/OK-VQA: ``multiple_choice_answer``)."""
    return doc.fields["answer"]


def first_answer(doc: Doc) -> str:
    """``answers[0]`` (OpenFlamingo)."""
    return doc.fields["answers"][0]


def most_common_answer(doc: Doc) -> str:
    """The most frequent exact string of ``answers``; ties: earliest first occurrence."""
    answers: Sequence[str] = doc.fields["answers"]
    counts: dict[str, int] = {}
    for answer in answers:  # dicts keep insertion order: first occurrences, in order
        counts[answer] = counts.get(answer, 0) + 1
    best = max(counts.values())
    return next(answer for answer, count in counts.items() if count == best)


def answer_rule(name: str) -> Callable[[Doc], str]:
    """The registered rule ``name`` (unknown names list the valid ones)."""
    from emu2_eval.core.registry import DEMO_ANSWERS

    return DEMO_ANSWERS.get(name)


def with_demo_answer(doc: Doc, rule: str) -> Doc:
    """``doc`` whose ``answer`` is the one the rule picks (the same doc under the default)."""
    if rule == DEFAULT_RULE:
        return doc
    return replace(doc, fields={**doc.fields, "answer": answer_rule(rule)(doc)})


def check_pool(pool: LoadedData, rule: str, task: str, task_file: str) -> None:
    """Refuse a rule that reads ``answers`` on a pool whose docs have no such list."""
    if rule == DEFAULT_RULE:
        return
    for doc in pool.docs:
        answers = doc.fields.get("answers")
        if not (isinstance(answers, list) and answers and all(isinstance(a, str) for a in answers)):
            sources = ", ".join(pool.sources) or "the few-shot pool"
            raise DemoAnswerError(
                f"task {task!r} ({task_file}): fewshot.demo_answer {rule!r} picks from each "
                f"demonstration's crowd 'answers' list, but pool doc {doc.doc_id!r} of {sources} "
                f"has none; use demo_answer: {DEFAULT_RULE} (the loader's answer) for this pool"
            )

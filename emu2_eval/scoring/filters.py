"""Answer post-processing filters: pure ``str -> str`` functions applied to generated text.

Each filter reproduces a published evaluation's post-processing so scores stay comparable with
the numbers that evaluation reported; the docstrings name the source file and commit that was
read.  All filters accept the empty string.
"""

from __future__ import annotations

import re

__all__ = [
    "first_line",
    "lowercase",
    "openflamingo_caption",
    "openflamingo_vqa",
    "short_answer",
    "strip",
]

# Prefixes removed by Emu's short_answer, in the order its source checks them.  Each check runs
# once, on the output of the previous one, so "it is a cat" -> "a cat" -> "cat".
_EMU_PREFIXES: tuple[str, ...] = ("it is ", "it's ", "a ", "an ", "the ")

_OPENFLAMINGO_VQA_STOP = re.compile("Question|Answer|Short")


def short_answer(text: str) -> str:
    """Emu's VQA answer post-processing (``short_answer``).

    Source: baaivision/Emu, ``Emu1/mm_eval/datasets/utils.py`` (commit 13c395e4; unchanged since
    it was added as ``mm_eval/datasets/utils.py`` in 26710c97), used by its VQAv2, OK-VQA and
    VizWiz evaluations.  Why: Emu answers in sentences; VQA accuracy needs the short phrase.

    Steps, in the source's order: keep the text before the first newline, then before the
    first ``". "``, then before the first ``'"'``, then before the first ``", "``; strip;
    lower-case; drop one trailing ``"."``; then check the prefixes ``"it is "``, ``"it's "``,
    ``"a "``, ``"an "``, ``"the "`` one after another, removing each once if the text (as left
    by the previous check) starts with it.  Nothing is stripped after that, as in the source.
    """
    for separator in ("\n", ". ", '"', ", "):
        text = text.split(separator, 1)[0]
    text = text.strip().lower()
    text = text.removesuffix(".")
    for prefix in _EMU_PREFIXES:
        text = text.removeprefix(prefix)
    return text


def openflamingo_vqa(text: str) -> str:
    """OpenFlamingo's VQA post-processing (``postprocess_vqa_generation``).

    Source: mlfoundations/open_flamingo, ``open_flamingo/eval/vqa_metric.py`` (commit 655f693f;
    the OK-VQA variant in ``ok_vqa_utils.py`` does the same and then stems).  Why: the model keeps
    generating further few-shot turns ("Question: ... Short answer: ...") after its answer.

    Keeps the text before the first (case-sensitive) ``"Question"``, ``"Answer"`` or ``"Short"``,
    then the text before the first ``", "``.  No stripping or lower-casing, as in the source.
    """
    text = _OPENFLAMINGO_VQA_STOP.split(text, maxsplit=1)[0]
    return text.split(", ", 1)[0]


def openflamingo_caption(text: str) -> str:
    """OpenFlamingo's captioning post-processing, as applied in its evaluation loop.

    Source: mlfoundations/open_flamingo (commit 655f693f): ``postprocess_captioning_generation``
    in ``open_flamingo/eval/coco_metric.py`` keeps the text before the first ``"Output"`` (the
    start of a hallucinated next "<image>Output:" shot), and ``open_flamingo/eval/evaluate.py``
    (``evaluate_captioning``) then removes every ``'"'`` from the result.  Both steps are done
    here so captions match what OpenFlamingo scored.  No stripping, as in the source.
    """
    return text.split("Output", 1)[0].replace('"', "")


def first_line(text: str) -> str:
    """Keep the text before the first ``"\\n"`` (a trailing ``"\\r"`` of CRLF is dropped too).

    Why: chat models often add explanations on later lines.
    """
    return text.split("\n", 1)[0].removesuffix("\r")


def strip(text: str) -> str:
    """Remove leading and trailing whitespace (``str.strip``)."""
    return text.strip()


def lowercase(text: str) -> str:
    """Lower-case the text (``str.lower``), for case-insensitive exact-match scoring."""
    return text.lower()


#: Filters by name, for selecting post-processing from a config string.

"""MMMU answer parsing and matching, as the MMMU benchmark's evaluation describes them.

Written from the published description of MMMU-Benchmark/MMMU ``mmmu/utils/eval_utils.py`` and
checked case by case against that code's outputs (``tests/data/mmmu_parse_golden.json``, made by
``scripts/make_mmmu_golden.py``). What it does:

Multiple choice (``parse_choice``): trim the punctuation ``, . ! ? ; : '`` from both ends (one
character kind after the other, in that order), pad with spaces; candidates are the letters
written ``(X)``; failing that, letters standing alone (`` X ``); failing that, and only for
responses of more than five words, the options whose text occurs in the response (case-insensitive).
Several candidates: the one whose mark occurs last. None: MMMU draws a random letter; here the
caller picks the ``fallback`` (``None`` is returned).

Open (``parse_open``): lower-case, cut into lines, keep per line the shortest tail after an
indicator ("could be ", "so ", "is ", "thus ", "therefore ", "final ", "answer ", "result ", and
"=" on the last line); add every number found in those tails; numbers become floats rounded to
2 decimals, strings are lower-cased (a one-letter string becomes " x" and "x " so that it does not
match inside words). ``open_correct``: a parsed string is right when a normalised answer string
occurs inside it; a parsed number when it equals a normalised answer number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

TRIM_CHARS = (",", ".", "!", "?", ";", ":", "'")
INDICATORS = ("could be ", "so ", "is ", "thus ", "therefore ", "final ", "answer ", "result ")
TRIVIAL = {":", ",", ".", "!", "?", ";", "'"}
_COMMA_NUMBER = re.compile(r"-?\b\d{1,3}(?:,\d{3})+\b")
_SCIENTIFIC = re.compile(r"-?\d+(?:\.\d+)?[eE][+-]?\d+")
_PLAIN_NUMBER = re.compile(r"-?(?:\d+\.\d+|\.\d+|\d+\b)(?![eE][+-]?\d+)(?![,\d])")

Parsed = str | float


def parse_choice(response: str, index2ans: Mapping[str, str]) -> str | None:
    """The option letter a response picks, or None when nothing in it points to an option."""
    text = response
    for char in TRIM_CHARS:
        text = text.strip(char)
    text = f" {text} "
    letters = list(index2ans)
    bracketed = [x for x in letters if f"({x})" in text]
    if bracketed:
        return _last(bracketed, lambda x: text.rfind(f"({x})"))
    alone = [x for x in letters if f" {x} " in text]
    if alone:
        return _last(alone, lambda x: text.rfind(f" {x} "))
    if len(text.split()) > 5:
        lowered = text.lower()
        by_content = [x for x in letters if index2ans[x].lower() in lowered]
        if by_content:
            return _last(by_content, lambda x: lowered.rfind(index2ans[x].lower()))
    return None


def _last(candidates: list[str], position) -> str:
    """The candidate whose mark starts last (the first of equals, like ``argmax``)."""
    best = candidates[0]
    for candidate in candidates[1:]:
        if position(candidate) > position(best):
            best = candidate
    return best


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


def normalize(text: str) -> list[Parsed]:
    """A number as [float rounded to 2 places], a string lower-cased (one letter: padded)."""
    text = text.strip()
    if _is_number(text):
        return [round(float(text.replace(",", "")), 2)]
    text = text.lower()
    return [" " + text, text + " "] if len(text) == 1 else [text]


def numbers_in(text: str) -> list[str]:
    """Numbers written with thousands commas, in scientific notation, or plainly."""
    return _COMMA_NUMBER.findall(text) + _SCIENTIFIC.findall(text) + _PLAIN_NUMBER.findall(text)


def _key_tails(response: str) -> list[str]:
    text = response.strip().strip(".").lower()
    lines = re.split(r"\.\s(?=[A-Z])|\n", text)  # lower-cased first: only newlines split
    tails = []
    for index, line in enumerate(lines):
        indicators = INDICATORS + (("=",) if index == len(lines) - 1 else ())
        shortest: str | None = None
        for indicator in indicators:
            if indicator in line:
                tail = line.split(indicator)[-1].strip()
                if not shortest or len(tail) < len(shortest):
                    shortest = tail
        if shortest and shortest.strip() not in TRIVIAL:
            tails.append(shortest)
    return tails or [text]


def parse_open(response: str) -> list[Parsed]:
    """Candidate answers of an open response (strings and numbers, no duplicates)."""
    tails = _key_tails(response)
    found = tails + [n for tail in tails for n in numbers_in(tail)]
    parsed: list[Parsed] = []
    for item in found:
        for value in normalize(item):
            if value not in parsed:
                parsed.append(value)
    return parsed


def open_correct(answer: str | Sequence[str], parsed: Sequence[Parsed]) -> bool:
    """Whether any parsed candidate matches a gold answer (substring for text, equal numbers)."""
    golds = [answer] if isinstance(answer, str) else list(answer)
    norm = [value for gold in golds for value in normalize(gold)]
    for candidate in parsed:
        if isinstance(candidate, str):
            if any(isinstance(g, str) and g in candidate for g in norm):
                return True
        elif candidate in norm:
            return True
    return False

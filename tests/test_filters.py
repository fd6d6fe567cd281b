"""Tests for emu2_eval.scoring.filters: one case per rule of each source, plus combinations."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from emu2_eval.core.registry import FILTERS
from emu2_eval.scoring.filters import (
    first_line,
    lowercase,
    openflamingo_caption,
    openflamingo_vqa,
    short_answer,
    strip,
)


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_every_filter_accepts_empty_string(name: str) -> None:
    """Generation can be empty; every filter must return a str for it."""
    assert FILTERS.get(name)("") == ""


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_every_filter_has_a_docstring(name: str) -> None:
    """Each filter documents why it exists / where it comes from."""
    assert FILTERS.get(name).__doc__


def test_filters_registry_names_match_functions() -> None:
    """Config names map to the functions of the same name."""
    fn: Callable[[str], str]
    for name in FILTERS.names():
        fn = FILTERS.get(name)
        assert fn.__name__ == name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # one rule at a time
        ("Yes\nBecause the sky is clear", "yes"),  # first line
        ("Red. The car is red", "red"),  # before first ". "
        ('He said "hello"', "he said"),  # before first '"'
        ("apples, oranges", "apples"),  # before first ", "
        ("  Blue  ", "blue"),  # strip
        ("THREE", "three"),  # lower-case
        ("Two.", "two"),  # trailing "." (no space, so not split on ". ")
        ("ok..", "ok."),  # only one trailing "." is dropped
        ("3.5", "3.5"),  # "." without a space is kept
        ("it is raining", "raining"),
        ("it's blue", "blue"),
        ("a dog", "dog"),
        ("an apple", "apple"),
        ("the sky", "sky"),
        # prefixes need their trailing space
        ("theater", "theater"),
        ("another", "another"),
        ("a", "a"),
        ("it is", "it is"),
        # combinations, in the source's order
        ("The cat. It is black", "cat"),
        ("It is a cat.", "cat"),  # "it is " then "a "
        ("It's the dog", "dog"),  # "it's " then "the "
        ("a the cat", "cat"),  # "a " then "the "
        ("the a cat", "a cat"),  # "a " is checked before "the ", so only "the " goes
        ("an a x", "a x"),  # "an " is checked after "a "
        ("A dog.\nSecond line", "dog"),  # newline, then trailing ".", then "a "
        ("a. b\nc", "a"),  # newline split happens before ". " split
        ('x, "y"', "x"),  # '"' split, then ", " split
        ("Yes. ", "yes"),
        ("It is. Really", "it is"),  # after the ". " split, "it is" has no trailing space
        ('"yes"', ""),  # a leading quote leaves nothing, as in the source
        ("a  dog", " dog"),  # no strip after prefix removal, as in the source
        ("", ""),
    ],
)
def test_short_answer(text: str, expected: str) -> None:
    """Emu's short_answer, rule by rule."""
    assert short_answer(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes Question: what is this?", "yes "),  # no strip, as in the source
        ("blue Answer: red", "blue "),
        ("red Short answer: green", "red "),
        ("a Short b Question c Answer d", "a "),  # the earliest marker wins
        ("question mark", "question mark"),  # markers are case-sensitive
        ("Questionable", ""),  # substring match, as in the source
        ("red, white and blue", "red"),  # then before the first ", "
        ("1,000", "1,000"),  # a comma without a space is kept
        ("cats, dogs Question: why", "cats"),
        ("two\nQuestion", "two\n"),
        ("", ""),
    ],
)
def test_openflamingo_vqa(text: str, expected: str) -> None:
    """OpenFlamingo's postprocess_vqa_generation."""
    assert openflamingo_vqa(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A dog on a beach. Output: A cat", "A dog on a beach. "),
        ("A dog Output one Output two", "A dog "),  # only the first "Output" matters
        ("output stays", "output stays"),  # case-sensitive
        ('A sign that says "stop"', "A sign that says stop"),  # quotes removed
        ('A "red" bus Output: "x"', "A red bus "),
        ("", ""),
    ],
)
def test_openflamingo_caption(text: str, expected: str) -> None:
    """OpenFlamingo's caption post-processing plus its evaluation loop's quote removal."""
    assert openflamingo_caption(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\nb\nc", "a"),
        ("a\r\nb", "a"),
        ("no newline", "no newline"),
        ("\nb", ""),
        ("  keep spaces  \nx", "  keep spaces  "),
        ("", ""),
    ],
)
def test_first_line(text: str, expected: str) -> None:
    """Text before the first newline."""
    assert first_line(text) == expected


def test_strip_and_lowercase() -> None:
    """The simple ones do exactly what str does."""
    assert strip("  a b \n") == "a b"
    assert strip("   ") == ""
    assert lowercase("The CAT") == "the cat"
    assert lowercase("ÉCOLE") == "école"

"""VQA accuracy, ported from the official GT-Vision-Lab/VQA evaluation code.

Reference: ``PythonEvaluationTools/vqaEvaluation/vqaEval.py`` of
https://github.com/GT-Vision-Lab/VQA at commit ``a013f0043c1e2cdc995922dfe257f7149aa9af06``
(2021-03-11, "Fixed processing answers bug"), the latest version of that file.  This is a
re-implementation, not a copy; its behaviour is pinned by ``tests/data/vqa_official_golden.json``,
which was produced by running the official code itself.

What the official ``VQAEval.evaluate`` does for one question (and what ``variant="official"``
reproduces):

1. Every ground-truth answer and the prediction are *cleaned*: ``'\\n'`` and ``'\\t'`` become a
   space, then surrounding whitespace is stripped.
2. Only if the cleaned ground-truth answers are **not all identical** (``len(set(...)) > 1``),
   the answers **and the prediction** are normalised (punctuation handling, then lower-casing,
   number words, articles, contractions; see :func:`normalize_answer`).  When all the answers
   agree, nothing else is done to either side, so the comparison is exact and case sensitive:
   ``"Yes"`` scores 0 against ten ``"yes"``.  (The pre-2021 code normalised the prediction
   always and the answers only partially; the 2021 fix moved the prediction's normalisation
   into this branch.)
3. Leave-one-out: for each answer, count how many of the *other* answers equal the prediction,
   credit ``min(1, count / 3)``; the question's accuracy is the mean credit.  The official code
   builds "the other answers" by comparing answer dicts, which with the dataset's unique
   ``answer_id`` s removes exactly one entry; here answers are plain strings and exactly the
   answer at the current position is left out.

Floating point: the official sums the credits left to right in answer order (Python 2 and
Python <= 3.11 ``sum``), so the last bit of the result can depend on where the matching answers
sit (e.g. 2 matches out of 10 gives 0.6, 0.6000000000000001 or 0.5999999999999999).  Both
:func:`vqa_accuracy` and :func:`score_many` add in that same order and so agree bit for bit with
the official code run on Python <= 3.11.  Python >= 3.12 compensates rounding in ``sum`` of
floats, so the official code run there can differ in the last bit.

Python 2 vs 3: the official file is Python 2, where its ``\\d`` (no ``re.UNICODE`` flag)
matches ASCII digits only.  This port uses Python 3 ``re`` semantics (``\\d`` matches any
Unicode decimal digit), i.e. what the official code does when run on Python 3 (as EvalAI,
lmms-eval and OpenFlamingo do).  The two differ only for non-ASCII digits such as ``"٣"``.

The Emu team's scorers (``variant="emu_lavis"`` and ``"okvqa_stemmed"``) follow ``VQAEval`` and
``OKVQAEval`` of baaivision/Emu ``Emu1/mm_eval/datasets/vqa_tools/vqa_eval.py`` at commit
``13c395e4a70ca78d87dd2a4e7987ce0a13c7e649`` (a copy of LAVIS's pre-2021 GT-Vision-Lab code).
Re-implemented, not copied; pinned by ``tests/data/vqa_emu_lavis_golden.json``, produced by
running that file (``scripts/make_vqa_variant_golden.py``).  Every difference from ``official``:

* the prediction is cleaned and normalised (punctuation, then lower-casing, number words,
  articles, contractions) **always**, whatever the answers' agreement;
* the answers are **never cleaned** (no ``'\\n'``/``'\\t'`` replacement, no strip) and the
  agreement test is on these raw strings (``" yes"`` and ``"yes"`` disagree);
* only when the raw answers disagree, each answer gets the *punctuation* step only: it is never
  lower-cased and keeps its number words, articles and missing apostrophes, so ``"Yes"``,
  ``"two"``, ``"a dog"`` or ``"dont"`` in the answers never match a normalised prediction;
* when all answers agree they are compared raw with the normalised prediction (``"two"`` x 10
  scores 0 for the prediction ``"two"``, which becomes ``"2"``).

``okvqa_stemmed`` adds, right after the punctuation step of the prediction (always) and of the
answers (only when they disagree), NLTK's ``PorterStemmer().stem`` (default NLTK_EXTENSIONS
mode) of the *whole* string: it lower-cases it and, in effect, stems its last word
(``"red cars"`` -> ``"red car"``; ``"dogs"`` x 10 scores 0 for ``"dogs"``, whose stem ``"dog"``
meets the raw answers).  The stemmer is nltk's own class, the one the reference imports.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "VQA_ACCURACY_VARIANTS",
    "grouped_accuracy",
    "normalize_answer",
    "score_many",
    "vqa_accuracy",
]

#: ``"official"``: GT-Vision-Lab/VQA 2021 (normalise only when the answers disagree).
#: ``"always_normalize"``: OpenFlamingo / lmms-eval (normalise prediction and answers always).
#: ``"emu_lavis"``: the Emu team's LAVIS copy (prediction always normalised; answers only get
#: punctuation fixed, and only when they disagree).  ``"okvqa_stemmed"``: its ``OKVQAEval``
#: (the same, plus a Porter stem of the whole string after the punctuation step).
VQA_ACCURACY_VARIANTS: tuple[str, ...] = (
    "official",
    "always_normalize",
    "emu_lavis",
    "okvqa_stemmed",
)

# Characters that processPunctuation deletes or turns into a space.  Note that the period is
# handled separately and that the apostrophe, colon, '#', '$', '%', '&', '*', '^', '|', '~' are
# left untouched, exactly as in the official list.
_PUNCTUATION: tuple[str, ...] = (
    ";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-",
    ">", "<", "@", "`", ",", "?", "!",
)  # fmt: skip
_PUNCTUATION_SET = frozenset(_PUNCTUATION)
_DELETE_ALL = str.maketrans(dict.fromkeys(_PUNCTUATION, None))
# A comma between two digits anywhere in the text makes *every* punctuation mark be deleted.
_COMMA_BETWEEN_DIGITS = re.compile(r"\d,\d")
# The official pattern is "(?!<=\d)(\.)(?!\d)".  Its first group is a mistyped look-behind: it is
# a negative *look-ahead* for the text "<=" + digit, which can never match at a position that
# must hold a '.', so it is a no-op.  Hence a period is removed whenever the next character is
# not a digit, including after a digit ("3." -> "3").
_PERIOD = re.compile(r"\.(?!\d)")
# The official passes re.UNICODE positionally to Pattern.sub, where it lands in ``count``:
# at most re.UNICODE == 32 periods are removed from one answer.
_MAX_PERIODS_REMOVED = int(re.UNICODE)

_NUMBER_WORDS: dict[str, str] = {
    "none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10",
}  # fmt: skip
_ARTICLES = frozenset(("a", "an", "the"))
# Same keys and values as the official table, quirks included: keys with capitals ("Im",
# "Ive", ...) can never match because the text is lower-cased first, and "somebody'd" maps to
# "somebodyd".
_CONTRACTIONS: dict[str, str] = {
    "aint": "ain't", "arent": "aren't", "cant": "can't", "couldve": "could've",
    "couldnt": "couldn't", "couldn'tve": "couldn't've", "couldnt've": "couldn't've",
    "didnt": "didn't", "doesnt": "doesn't", "dont": "don't", "hadnt": "hadn't",
    "hadnt've": "hadn't've", "hadn'tve": "hadn't've", "hasnt": "hasn't", "havent": "haven't",
    "hed": "he'd", "hed've": "he'd've", "he'dve": "he'd've", "hes": "he's", "howd": "how'd",
    "howll": "how'll", "hows": "how's", "Id've": "I'd've", "I'dve": "I'd've", "Im": "I'm",
    "Ive": "I've", "isnt": "isn't", "itd": "it'd", "itd've": "it'd've", "it'dve": "it'd've",
    "itll": "it'll", "let's": "let's", "maam": "ma'am", "mightnt": "mightn't",
    "mightnt've": "mightn't've", "mightn'tve": "mightn't've", "mightve": "might've",
    "mustnt": "mustn't", "mustve": "must've", "neednt": "needn't", "notve": "not've",
    "oclock": "o'clock", "oughtnt": "oughtn't", "ow's'at": "'ow's'at", "'ows'at": "'ow's'at",
    "'ow'sat": "'ow's'at", "shant": "shan't", "shed've": "she'd've", "she'dve": "she'd've",
    "she's": "she's", "shouldve": "should've", "shouldnt": "shouldn't",
    "shouldnt've": "shouldn't've", "shouldn'tve": "shouldn't've", "somebody'd": "somebodyd",
    "somebodyd've": "somebody'd've", "somebody'dve": "somebody'd've", "somebodyll": "somebody'll",
    "somebodys": "somebody's", "someoned": "someone'd", "someoned've": "someone'd've",
    "someone'dve": "someone'd've", "someonell": "someone'll", "someones": "someone's",
    "somethingd": "something'd", "somethingd've": "something'd've",
    "something'dve": "something'd've", "somethingll": "something'll", "thats": "that's",
    "thered": "there'd", "thered've": "there'd've", "there'dve": "there'd've",
    "therere": "there're", "theres": "there's", "theyd": "they'd", "theyd've": "they'd've",
    "they'dve": "they'd've", "theyll": "they'll", "theyre": "they're", "theyve": "they've",
    "twas": "'twas", "wasnt": "wasn't", "wed've": "we'd've", "we'dve": "we'd've", "weve": "we've",
    "werent": "weren't", "whatll": "what'll", "whatre": "what're", "whats": "what's",
    "whatve": "what've", "whens": "when's", "whered": "where'd", "wheres": "where's",
    "whereve": "where've", "whod": "who'd", "whod've": "who'd've", "who'dve": "who'd've",
    "wholl": "who'll", "whos": "who's", "whove": "who've", "whyll": "why'll", "whyre": "why're",
    "whys": "why's", "wont": "won't", "wouldve": "would've", "wouldnt": "wouldn't",
    "wouldnt've": "wouldn't've", "wouldn'tve": "wouldn't've", "yall": "y'all",
    "yall'll": "y'all'll", "y'allll": "y'all'll", "yall'd've": "y'all'd've",
    "y'alld've": "y'all'd've", "y'all'dve": "y'all'd've", "youd": "you'd", "youd've": "you'd've",
    "you'dve": "you'd've", "youll": "you'll", "youre": "you're", "youve": "you've",
}  # fmt: skip


def _clean(text: str) -> str:
    """Whitespace cleaning applied by the official code to every answer and prediction."""
    return text.replace("\n", " ").replace("\t", " ").strip()


def _process_punctuation(text: str) -> str:
    """Official ``processPunctuation``; every test looks at the *input* text, not the output."""
    if _PUNCTUATION_SET.isdisjoint(text):
        out = text
    elif _COMMA_BETWEEN_DIGITS.search(text) is not None:
        out = text.translate(_DELETE_ALL)
    else:
        # Each mark is deleted if it touches a space somewhere in the input, else it becomes a
        # space.  Marks are single characters, so the official sequential replaces commute.
        table = {
            ord(p): (None if (p + " " in text or " " + p in text) else " ")
            for p in _PUNCTUATION
            if p in text
        }
        out = text.translate(table)
    if "." in out:
        out = _PERIOD.sub("", out, count=_MAX_PERIODS_REMOVED)
    return out


def _process_digit_article(text: str) -> str:
    """Official ``processDigitArticle``: lower, split, number words, drop articles, contractions."""
    words = []
    for word in text.lower().split():
        word = _NUMBER_WORDS.get(word, word)
        if word not in _ARTICLES:
            words.append(_CONTRACTIONS.get(word, word))
    return " ".join(words)


@functools.lru_cache(maxsize=1 << 20)
def normalize_answer(text: str) -> str:
    """Normalise an answer the way the official code does in its "answers disagree" branch.

    Cleans ``'\\n'``/``'\\t'``/surrounding whitespace (a no-op on already cleaned text, which is
    what the official code passes in), then applies ``processPunctuation`` and
    ``processDigitArticle``.  Memoised because the same short answers recur across questions.
    """
    return _process_digit_article(_process_punctuation(_clean(text)))


@functools.lru_cache(maxsize=1)
def _porter_stemmer() -> Callable[[str], str]:
    """NLTK's PorterStemmer().stem: the reference's own stemmer (imported on first use)."""
    from nltk.stem import PorterStemmer

    return PorterStemmer().stem


@functools.lru_cache(maxsize=1 << 20)
def _punctuation_stemmed(text: str) -> str:
    """``OKVQAEval.processPunctuation``: punctuation, then a Porter stem of the whole string."""
    return _porter_stemmer()(_process_punctuation(text))


@functools.lru_cache(maxsize=1 << 20)
def _normalize_stemmed(text: str) -> str:
    """The ``okvqa_stemmed`` prediction: clean, punctuation + stem, then digits/articles."""
    return _process_digit_article(_punctuation_stemmed(_clean(text)))


def _identity(text: str) -> str:
    return text


@dataclass(frozen=True)
class _Rules:
    """How one variant treats a question: the form its agreement test compares, and the forms
    of prediction and answers compared when the answers agree / disagree."""

    agreement: Callable[[str], str]
    prediction_agree: Callable[[str], str]
    prediction_disagree: Callable[[str], str]
    answer_agree: Callable[[str], str]
    answer_disagree: Callable[[str], str]


_RULES: dict[str, _Rules] = {
    "official": _Rules(_clean, _clean, normalize_answer, _clean, normalize_answer),
    "always_normalize": _Rules(
        _clean, normalize_answer, normalize_answer, normalize_answer, normalize_answer
    ),
    "emu_lavis": _Rules(
        _identity, normalize_answer, normalize_answer, _identity, _process_punctuation
    ),
    "okvqa_stemmed": _Rules(
        _identity, _normalize_stemmed, _normalize_stemmed, _identity, _punctuation_stemmed
    ),
}


def _check_variant(variant: str) -> _Rules:
    if variant not in VQA_ACCURACY_VARIANTS:
        raise ValueError(
            f"unknown VQA accuracy variant {variant!r}; valid variants: "
            + ", ".join(repr(v) for v in VQA_ACCURACY_VARIANTS)
        )
    return _RULES[variant]


def _leave_one_out_mean(flags: Sequence[bool]) -> float:
    """Mean of ``min(1, matches among the other answers / 3)``, summed in answer order."""
    n_match = sum(flags)
    total = 0.0
    for flag in flags:
        total += min(1.0, (n_match - flag) / 3)
    return total / len(flags)


def vqa_accuracy(prediction: str, answers: Sequence[str], variant: str = "official") -> float:
    """VQA accuracy in [0, 1] of one prediction against its ground-truth answers.

    ``variant="official"`` follows GT-Vision-Lab/VQA (2021) exactly (see the module docstring):
    prediction and answers are normalised only when the cleaned answers are not all identical.

    ``variant="always_normalize"`` follows OpenFlamingo's ``open_flamingo/eval/vqa_metric.py``
    (and lmms-eval's ``vqav2`` task with ``EvalAIAnswerProcessor``): prediction and answers are
    always cleaned and normalised, whatever the answers' agreement; the rest is as above.  Where
    the two reference implementations differ we follow OpenFlamingo / the official code:
    lmms-eval detects "comma between digits" with ``(?<=\\d)(\\,)+(?=\\d)``, which also fires on
    runs of commas such as ``"1,,2"`` (we use the official single-comma test); lmms-eval
    averages with ``statistics.mean`` (correctly rounded; ours is the official left-to-right sum,
    at most an ulp apart); and lmms-eval's OK-VQA/TextVQA/VizWiz tasks call the processor's
    ``__call__``, which first lower-cases, deletes ``','`` and ``'?'`` and splits ``"'s"`` into
    ``" 's"`` (its ``word_tokenize``) - that extra step is not reproduced.

    ``variant="emu_lavis"`` and ``"okvqa_stemmed"`` are the Emu team's ``VQAEval`` and
    ``OKVQAEval`` (module docstring): the prediction always normalised (and stemmed), the raw
    answers given only the punctuation step (and the stem), and only when they disagree.

    Raises ``ValueError`` for an unknown variant or an empty answer list.
    """
    rules = _check_variant(variant)
    if isinstance(answers, str):
        raise TypeError("answers must be a sequence of strings, not a single string")
    if len(answers) == 0:
        raise ValueError("answers must not be empty")
    if len({rules.agreement(a) for a in answers}) > 1:
        pred = rules.prediction_disagree(prediction)
        gts = [rules.answer_disagree(a) for a in answers]
    else:
        pred = rules.prediction_agree(prediction)
        gts = [rules.answer_agree(a) for a in answers]
    return _leave_one_out_mean([gt == pred for gt in gts])


def score_many(
    predictions: Sequence[str],
    answers: Sequence[Sequence[str]],
    variant: str = "official",
) -> np.ndarray:
    """Vectorised :func:`vqa_accuracy` over many questions; returns float64 scores in [0, 1].

    Gives bit-identical results to calling :func:`vqa_accuracy` per question, but each
    distinct string is cleaned/normalised once and mapped to an integer id, after which the
    agreement test, the matching and the leave-one-out credits are numpy operations over a
    (questions x answers) id matrix: no Python work per answer beyond one dict lookup.
    Questions may have different numbers of answers (they are processed per answer count).
    """
    rules = _check_variant(variant)
    n_q = len(predictions)
    if len(answers) != n_q:
        raise ValueError(f"got {n_q} predictions but {len(answers)} answer lists")
    if n_q == 0:
        return np.zeros(0, dtype=np.float64)
    if any(isinstance(a, str) for a in answers):
        raise TypeError("each element of answers must be a sequence of strings, not a string")
    lengths = np.fromiter(map(len, answers), dtype=np.int64, count=n_q)
    if (lengths == 0).any():
        first = int(np.flatnonzero(lengths == 0)[0])
        raise ValueError(f"answers must not be empty (question index {first})")
    n_ans = int(lengths.sum())

    # Intern every string: raw id = position of its first occurrence (all done in C).
    first_pos: dict[str, int] = {}
    strings = itertools.chain(itertools.chain.from_iterable(answers), predictions)
    raw = np.fromiter(
        map(first_pos.setdefault, strings, itertools.count()),
        dtype=np.int64,
        count=n_ans + n_q,
    )
    # Per distinct raw string: the id of each form the variant compares (one id space, so a
    # prediction's form and an answer's form are equal exactly when their ids are).
    positions = np.fromiter(first_pos.values(), dtype=np.int64, count=len(first_pos))
    form_ids: dict[str, int] = {}

    def ids_of(form: Callable[[str], str]) -> np.ndarray:
        out = np.empty(n_ans + n_q, dtype=np.int64)
        out[positions] = [form_ids.setdefault(form(s), len(form_ids)) for s in first_pos]
        return out[raw]

    agreement = ids_of(rules.agreement)[:n_ans]
    ans_agree, ans_disagree = (
        ids_of(rules.answer_agree)[:n_ans],
        ids_of(rules.answer_disagree)[:n_ans],
    )
    pred_agree = ids_of(rules.prediction_agree)[n_ans:]
    pred_disagree = ids_of(rules.prediction_disagree)[n_ans:]

    scores = np.empty(n_q, dtype=np.float64)
    offsets = np.zeros(n_q, dtype=np.int64)
    np.cumsum(lengths[:-1], out=offsets[1:])
    for n in np.unique(lengths).tolist():
        rows = np.flatnonzero(lengths == n)
        cols = offsets[rows, None] + np.arange(n)
        keys = agreement[cols]
        disagree = (keys != keys[:, :1]).any(axis=1)
        eq = np.where(
            disagree[:, None],
            ans_disagree[cols] == pred_disagree[rows, None],
            ans_agree[cols] == pred_agree[rows, None],
        )
        n_match = eq.sum(axis=1)
        credit = np.minimum(1.0, (n_match[:, None] - eq) / 3)
        total = np.zeros(len(rows), dtype=np.float64)
        for j in range(n):  # column by column = the official left-to-right summation order
            total += credit[:, j]
        scores[rows] = total / n
    return scores


def grouped_accuracy(
    scores: Sequence[float] | np.ndarray, groups: Sequence[str]
) -> dict[str, float]:
    """Mean score per group (e.g. per answer_type or question_type), values in [0, 1].

    Keys appear in order of first occurrence, like the official per-type dictionaries.  Values
    are plain means (the official reports ``round(100 * mean, 2)``; scale/round for display).
    """
    values = np.asarray(scores, dtype=np.float64)
    if values.ndim != 1 or len(values) != len(groups):
        raise ValueError(f"got {values.size} scores but {len(groups)} group labels")
    index: dict[str, int] = {}
    codes = np.fromiter(
        (index.setdefault(g, len(index)) for g in groups), dtype=np.int64, count=len(groups)
    )
    sums = np.bincount(codes, weights=values, minlength=len(index))
    counts = np.bincount(codes, minlength=len(index))
    return {g: float(sums[i] / counts[i]) for g, i in index.items()}

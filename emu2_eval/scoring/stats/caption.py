"""Bootstrap of the COCO caption metrics, corpus statistics recomputed where we can.

Per key:

* BLEU-1..4: exact.  pycocoevalcap's corpus BLEU is a function of corpus totals (clipped n-gram
  matches, n-gram counts, hypothesis length, closest reference length); the per-image totals are
  taken from pycocoevalcap's own ``cook_refs``/``cook_test`` once, and every resample sums them
  with its weights (brevity penalty recomputed per resample).
* CIDEr(-D): exact, document frequencies recomputed per resample
(:mod:`emu2_eval.scoring.stats.cider`).
* ROUGE-L, SPICE: exact; the corpus value is the mean of the per-image scores.
* METEOR: approximation.  The corpus METEOR comes from Java aggregating match statistics across
  images, which are not exposed; the per-image METEOR scores are resampled and their mean is
  shifted onto the corpus value (``corpus + resampled mean - full-sample mean``).

Tokenisation re-runs pycocoevalcap's PTBTokenizer (Java) exactly as the metric does, references
first then predictions, so the n-grams are those the metric saw.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pycocoevalcap.bleu.bleu_scorer import cook_refs, cook_test
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

from emu2_eval.scoring.stats.cider import CiderD
from emu2_eval.scoring.stats.resamplers import EXACT, Resampler, ScoredDoc, weighted_mean

BLEU_ORDERS = 4
_TINY, _SMALL = 1e-15, 1e-9  # pycocoevalcap bleu_scorer's guards, reproduced exactly
METEOR_APPROXIMATION = (
    "approximation: per-image scores resampled, corpus statistics fixed (Java's corpus METEOR "
    "aggregation is not exposed; resampled mean per-image METEOR shifted onto the corpus value)"
)
ALL_KEYS = ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr", "SPICE")
MEAN_KEYS = ("ROUGE_L", "SPICE")


def ptb_tokenize(captions: dict[int, list[str]]) -> dict[int, list[str]]:
    """Run pycocoevalcap's PTBTokenizer with line breaks inside captions turned into spaces.

    Shared by the caption metric and its resampler (so the statistics never import metrics).

    The Java tokenizer reads one caption per line; an embedded line break (any of those
    ``str.splitlines`` knows, a superset of what Java splits on) would shift every later caption
    to the wrong id, so they are replaced first and the output is checked for alignment.
    """
    cleaned = {
        key: [{"caption": " ".join(text.splitlines())} for text in texts]
        for key, texts in captions.items()
    }
    tokenized = PTBTokenizer().tokenize(cleaned)
    for key, texts in captions.items():
        if len(tokenized.get(key, ())) != len(texts):
            raise RuntimeError(
                "PTBTokenizer output is not aligned with its input (id "
                f"{key}: {len(texts)} caption(s) in, {len(tokenized.get(key, ()))} out)"
            )
    return tokenized


def tokenize_captions(
    predictions: Sequence[str], references: Sequence[Sequence[str]]
) -> tuple[list[str], list[list[str]]]:
    """PTB-tokenise as ``caption_metrics_detailed`` does (two calls: references, predictions)."""
    gts = ptb_tokenize({i: list(refs) for i, refs in enumerate(references)})
    res = ptb_tokenize({i: [pred] for i, pred in enumerate(predictions)})
    return [res[i][0] for i in range(len(predictions))], [gts[i] for i in range(len(references))]


class BleuTotals:
    """Per-image BLEU statistics whose weighted sums give corpus BLEU on any resample."""

    def __init__(self, hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> None:
        rows = []
        for hyp, refs in zip(hypotheses, references, strict=True):
            comps = cook_test(hyp, cook_refs(refs, n=BLEU_ORDERS), n=BLEU_ORDERS)
            testlen = comps["testlen"]
            reflen = min((abs(length - testlen), length) for length in comps["reflen"])[1]
            rows.append([testlen, reflen, *comps["guess"], *comps["correct"]])
        table = np.asarray(rows, dtype=np.float64)
        self.testlen, self.reflen = table[:, 0], table[:, 1]
        self.guess = table[:, 2 : 2 + BLEU_ORDERS]
        self.correct = table[:, 2 + BLEU_ORDERS :]

    def corpus(self, weights: np.ndarray) -> list[np.ndarray]:
        """BLEU-1..4 of each weighting, pycocoevalcap's ``compute_score(option='closest')``."""
        testlen, reflen = weights @ self.testlen, weights @ self.reflen
        guess, correct = weights @ self.guess, weights @ self.correct
        bleu = np.ones(weights.shape[0])
        scores = []
        for k in range(BLEU_ORDERS):
            bleu = bleu * (correct[:, k] + _TINY) / (guess[:, k] + _SMALL)
            scores.append(bleu ** (1.0 / (k + 1)))
        ratio = (testlen + _TINY) / (reflen + _SMALL)
        with np.errstate(divide="ignore"):
            brevity = np.where(ratio < 1, np.exp(1 - 1 / ratio), 1.0)
        return [score * brevity for score in scores]


class CaptionResampler(Resampler):
    """All caption metrics of a task on each resample (see the module docstring per key)."""

    sample_label = "CIDEr (per image)"
    perfect = None

    def __init__(
        self, docs: Sequence[ScoredDoc], summary: Mapping[str, float], options: Mapping[str, Any]
    ) -> None:
        super().__init__(docs, summary, options)
        self.scale = float(options.get("scale", 100))
        self.keys = tuple(key for key in ALL_KEYS if key in summary)
        predictions = [d.prediction for d in docs]
        references = [list(d.fields["references"]) for d in docs]
        hypotheses, refs = tokenize_captions(predictions, references)
        self.bleu = BleuTotals(hypotheses, refs)
        self.cider = CiderD(hypotheses, refs)
        self.per_image = {
            key: np.array([float(d.scores.get(key, np.nan)) for d in docs])
            for key in ("METEOR", *MEAN_KEYS)
            if key in self.keys
        }
        if "METEOR" in self.per_image:
            meteor = self.per_image["METEOR"]
            self.meteor_offset = summary["METEOR"] / self.scale - float(meteor.mean())

    @property
    def cost_per_resample(self) -> int:
        return self.cider.cost_per_resample

    def methods(self) -> dict[str, str]:
        return {key: METEOR_APPROXIMATION if key == "METEOR" else EXACT for key in self.keys}

    def statistics(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        values: dict[str, np.ndarray] = {}
        for k, score in enumerate(self.bleu.corpus(weights), start=1):
            values[f"Bleu_{k}"] = score
        values["CIDEr"] = self.cider.corpus(weights)
        for key in MEAN_KEYS:
            if key in self.per_image:
                values[key] = weighted_mean(weights, self.per_image[key])
        if "METEOR" in self.per_image:
            values["METEOR"] = weighted_mean(weights, self.per_image["METEOR"]) + self.meteor_offset
        return {key: self.scale * values[key] for key in self.keys}

    @classmethod
    def sample_outcomes(cls, docs: Sequence[ScoredDoc]) -> np.ndarray:
        return np.array([float(d.scores.get("CIDEr", np.nan)) for d in docs], dtype=np.float64)

"""The bootstrap itself: seeded resampling weights, distributions, percentile intervals, p-values.

A resample is represented by weights: ``weights[b, i]`` is how many times document ``i`` was
drawn in resample ``b`` (each row sums to the number of documents).  Resamplers recompute their
metric from weights, which lets corpus statistics (document frequencies, BLEU length totals,
AUC ranks) be recomputed exactly and lets a paired comparison apply the *same* resamples to two
runs.  Resamples are generated in chunks to bound memory; the draws do not depend on the chunk
size (tested), so results are a function of (seed, resamples, number of documents) only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from emu2_eval.scoring.stats.resamplers import Resampler
from emu2_eval.scoring.stats.settings import BootstrapSettings

#: Array elements one chunk of resamples may touch (~32 MB of float64; smaller chunks stay in
#: cache and measured faster than larger ones for CIDEr on a COCO-sized corpus).
CHUNK_ELEMENTS = 4_000_000


def resample_weights(
    n_docs: int, resamples: int, seed: int, cost_per_resample: int | None = None
) -> Iterator[np.ndarray]:
    """Yield (chunk, n_docs) float arrays of draw counts, ``resamples`` rows in all."""
    if n_docs < 1:
        raise ValueError("cannot bootstrap an empty set of documents")
    rng = np.random.default_rng(seed)
    cost = max(n_docs, cost_per_resample or 0)
    chunk = max(1, min(resamples, CHUNK_ELEMENTS // cost))
    for start in range(0, resamples, chunk):
        rows = min(chunk, resamples - start)
        draws = rng.integers(0, n_docs, size=(rows, n_docs))
        flat = draws + (np.arange(rows) * n_docs)[:, None]
        counts = np.bincount(flat.ravel(), minlength=rows * n_docs)
        yield counts.reshape(rows, n_docs).astype(np.float64)


def full_weights(n_docs: int) -> np.ndarray:
    """The original sample as a single 'resample' (every document once)."""
    return np.ones((1, n_docs), dtype=np.float64)


def distribution(resampler: Resampler, settings: BootstrapSettings) -> dict[str, np.ndarray]:
    """Each key's metric value on every resample (NaN where undefined, e.g. AUC of one class)."""
    parts: dict[str, list[np.ndarray]] = {key: [] for key in resampler.keys}
    for weights in resample_weights(
        resampler.n_docs, settings.resamples, settings.seed, resampler.cost_per_resample
    ):
        values = resampler.statistics(weights)
        for key in resampler.keys:
            parts[key].append(values[key])
    return {key: np.concatenate(chunks) for key, chunks in parts.items()}


def paired_distribution(
    first: Resampler, second: Resampler, settings: BootstrapSettings
) -> dict[str, np.ndarray]:
    """``second - first`` on the same resamples; both must hold the same documents in order."""
    if first.doc_ids != second.doc_ids:
        raise ValueError("a paired bootstrap needs the same documents in the same order")
    parts: dict[str, list[np.ndarray]] = {key: [] for key in first.keys if key in second.keys}
    cost = max(first.cost_per_resample or 0, second.cost_per_resample or 0)
    for weights in resample_weights(first.n_docs, settings.resamples, settings.seed, cost):
        a, b = first.statistics(weights), second.statistics(weights)
        for key in parts:
            parts[key].append(b[key] - a[key])
    return {key: np.concatenate(chunks) for key, chunks in parts.items()}


@dataclass(frozen=True)
class Interval:
    """A percentile interval and how many resamples were usable (finite)."""

    low: float | None
    high: float | None
    valid: int
    invalid: int


def percentile_interval(values: Sequence[float] | np.ndarray, confidence: float) -> Interval:
    """Percentile bootstrap interval: the (1-c)/2 and (1+c)/2 quantiles (numpy 'linear')."""
    array = np.asarray(values, dtype=np.float64)
    finite = array[np.isfinite(array)]
    invalid = int(array.size - finite.size)
    if finite.size == 0:
        return Interval(None, None, 0, invalid)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(finite, [alpha, 1.0 - alpha])
    return Interval(float(low), float(high), int(finite.size), invalid)


def two_sided_p_value(differences: Sequence[float] | np.ndarray) -> float | None:
    """Two-sided bootstrap p-value of 'no difference' from a paired bootstrap distribution.

    ``p = min(1, 2 * min(#(d <= 0) + 1, #(d >= 0) + 1) / (m + 1))`` over the m finite resampled
    differences: twice the smaller tail beyond zero, the inversion of the percentile interval
    (the largest level at which the interval still contains 0), with the usual +1 so that a
    finite bootstrap never claims p = 0.  Identical runs give d = 0 everywhere and p = 1.
    """
    array = np.asarray(differences, dtype=np.float64)
    finite = array[np.isfinite(array)]
    if finite.size == 0:
        return None
    m = finite.size
    below = int((finite <= 0).sum())
    above = int((finite >= 0).sum())
    return float(min(1.0, 2.0 * (min(below, above) + 1) / (m + 1)))

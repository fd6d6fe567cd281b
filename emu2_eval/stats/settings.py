"""Bootstrap settings, and a context that sets them for code paths we do not own.

``emu2-eval run`` and ``emu2-eval score`` reach the interval step through the engine, whose
signatures carry no bootstrap options; :func:`using` sets them for everything inside a ``with``
block (a ``ContextVar``, so threads and async tasks do not leak settings into each other).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from typing import Any

INTERVAL_KIND = "percentile"


@dataclass(frozen=True)
class BootstrapSettings:
    """How intervals are computed: resamples of the documents, RNG seed, confidence level."""

    resamples: int = 1000
    seed: int = 0
    confidence: float = 0.95

    def __post_init__(self) -> None:
        if type(self.resamples) is not int or self.resamples < 1:
            raise ValueError(f"--resamples must be a positive integer, got {self.resamples!r}")
        if not 0.0 < self.confidence < 1.0:
            raise ValueError(f"--confidence must be between 0 and 1, got {self.confidence!r}")

    def describe(self) -> dict[str, Any]:
        """What results.json records next to every interval."""
        return {**asdict(self), "interval": INTERVAL_KIND}


_CURRENT: ContextVar[BootstrapSettings | None] = ContextVar(
    "emu2_eval_bootstrap_settings", default=None
)


def current() -> BootstrapSettings:
    """The settings in force (defaults: 1000 resamples, seed 0, 95 %)."""
    return _CURRENT.get() or BootstrapSettings()


@contextmanager
def using(settings: BootstrapSettings) -> Iterator[BootstrapSettings]:
    """Use ``settings`` for every interval computed inside the block."""
    token = _CURRENT.set(settings)
    try:
        yield settings
    finally:
        _CURRENT.reset(token)

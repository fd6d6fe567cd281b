"""Bootstrap settings: resamples, seed and confidence of every interval, recorded beside it."""

from __future__ import annotations

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


def current() -> BootstrapSettings:
    """The settings the engine's scoring uses: the defaults (1000 resamples, seed 0, 95 %).

    ``emu2-eval report`` recomputes intervals with other settings, passed explicitly."""
    return BootstrapSettings()

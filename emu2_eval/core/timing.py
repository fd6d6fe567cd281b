"""Time to first answer: the model's load time and, after the first batches, the run's total.

Both are printed on stderr by the main process when progress is shown (the CLI's default), so a
long evaluation says within its first minutes whether it will take an hour or a day; the load
time is also kept in results.json (``manifest.execution.model_load_seconds``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from tqdm.auto import tqdm

#: batches timed before the estimate: the first one also pays warm-up (allocations, kernels)
ESTIMATE_AFTER_BATCHES = 3


def say(message: str) -> None:
    """One line on stderr that does not tear the progress bars."""
    tqdm.write(message, file=sys.stderr)


def format_seconds(seconds: float) -> str:
    """``42s``, ``3m05s``, ``2h07m``: readable at a glance."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class TotalEstimate:
    """Counts finished requests over all of a run's work and estimates the whole once, after
    :data:`ESTIMATE_AFTER_BATCHES` batches (or at the end of a shorter run)."""

    def __init__(self, total: int, show: bool, after_batches: int = ESTIMATE_AFTER_BATCHES) -> None:
        self.total = total
        self.show = show and total > 0
        self.after = after_batches
        self.done = 0
        self.batches = 0
        self.start = time.perf_counter()
        self.estimate_s: float | None = None

    def batch_done(self, n_requests: int) -> None:
        self.done += n_requests
        self.batches += 1
        if self.estimate_s is None and (self.batches >= self.after or self.done >= self.total):
            elapsed = time.perf_counter() - self.start
            self.estimate_s = elapsed * self.total / max(self.done, 1)
            if self.show:
                say(
                    f"estimated model time: {format_seconds(self.estimate_s)} for {self.total} "
                    f"requests ({self.done / max(elapsed, 1e-9):.2f} requests/s over the first "
                    f"{self.batches} batch(es))"
                )


#: what the progress bars of the current work are part of (a sweep cell), shown before their label
_BAR_PREFIX: ContextVar[str] = ContextVar("emu2_eval_bar_prefix", default="")


@contextmanager
def bar_prefix(prefix: str) -> Iterator[None]:
    """Label every progress bar (and resume line) started inside with ``prefix`` (a sweep cell:
    ``vqav2_val 4-shot seed 1``), so a grid's identical-looking bars say which cell runs."""
    token = _BAR_PREFIX.set(prefix)
    try:
        yield
    finally:
        _BAR_PREFIX.reset(token)


def bar_label(label: str) -> str:
    """``label`` under the current :func:`bar_prefix` (``[cell] label``), else unchanged."""
    prefix = _BAR_PREFIX.get()
    return f"[{prefix}] {label}" if prefix else label


def resume_line(task: str, n_cached: int, n_pending: int, n_errors: int = 0) -> str:
    """``task: N cached, M to compute`` (plus docs whose prompt could not be built)."""
    line = f"{task}: {n_cached} cached, {n_pending} to compute"
    if n_errors:
        line += f", {n_errors} with data errors (recorded, not run)"
    return bar_label(line)

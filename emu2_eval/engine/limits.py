"""``--limit``: a number of documents per task, or a fraction of each task's documents."""

from __future__ import annotations

import math

from emu2_eval.core.errors import UserError


class LimitError(UserError, ValueError):
    """A --limit that is neither a count >= 1 nor a fraction in (0, 1)."""


def parse_limit(value: str | int | float | None) -> int | float | None:
    """``"500"`` -> 500, ``"0.1"`` -> 0.1 (10% of each task); anything else is refused."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise LimitError(f"--limit must be a count or a fraction, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise LimitError(
            f"--limit must be a number of docs (e.g. 100) or a fraction in (0, 1) (e.g. 0.1), "
            f"got {value!r}"
        ) from None
    if number.is_integer() and number >= 1:
        return int(number)
    if 0 < number < 1:
        return number
    raise LimitError(
        f"--limit must be at least 1 (a number of docs) or a fraction in (0, 1), got {value!r}"
    )


def doc_count(limit: int | float | None, n_docs: int) -> int:
    """How many of a task's ``n_docs`` documents a limit keeps (a fraction rounds up, >= 1)."""
    if limit is None:
        return n_docs
    if isinstance(limit, float):
        return min(n_docs, max(1, math.ceil(limit * n_docs)))
    return min(n_docs, limit)

"""Number and cell formatting shared by every report format (one rule: ``value [low, high]``)."""

from __future__ import annotations

import json
import math
from typing import Any


def fmt(value: Any, digits: int | None = None) -> str:
    """A number for a table: ``digits`` decimals, by default 2 (3 below 1 in magnitude)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if digits is None:
        digits = 3 if 0 < abs(value) < 1 else 2
    return f"{value:.{digits}f}"


def fmt_interval(value: Any, low: Any, high: Any, digits: int | None = None) -> str:
    """``value [low, high]``, or the value alone when there is no interval."""
    if low is None or high is None:
        return fmt(value, digits)
    if digits is None:
        digits = 3 if 0 < max(abs(value or 0), abs(low), abs(high)) < 1 else 2
    return f"{fmt(value, digits)} [{fmt(low, digits)}, {fmt(high, digits)}]"


def short(value: Any, width: int = 120) -> str:
    """A one-line text form of an answer or field (lists/dicts as compact JSON)."""
    if isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def md_cell(value: Any, width: int = 120) -> str:
    """A Markdown table cell: one line, pipes escaped."""
    return short(value, width).replace("|", "\\|")

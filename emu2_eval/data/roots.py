"""Where real datasets live: ``{data_root}`` in task paths."""

from __future__ import annotations

from pathlib import Path

from emu2_eval.core.environment import DATA
from emu2_eval.core.environment import cache_home as cache_home  # the data loaders' import


def data_root() -> Path:
    """Directory of downloaded benchmarks: ``EMU2_EVAL_DATA``, default ~/data/emu2_eval."""
    return DATA.get(Path.home() / "data" / "emu2_eval")

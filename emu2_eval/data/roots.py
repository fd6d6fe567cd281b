"""Where real datasets live: ``{data_root}`` in task paths."""

from __future__ import annotations

import os
from pathlib import Path


def data_root() -> Path:
    """Directory of downloaded benchmarks: ``EMU2_EVAL_DATA``, default ~/data/emu2_eval."""
    return Path(os.environ.get("EMU2_EVAL_DATA", Path.home() / "data" / "emu2_eval"))


def cache_home() -> Path:
    """Where generated demo data and built-in models are kept (``EMU2_EVAL_HOME``)."""
    return Path(os.environ.get("EMU2_EVAL_HOME", Path.home() / ".cache" / "emu2_eval"))

"""Where real datasets live: ``{data_root}`` in task paths."""

from __future__ import annotations

from pathlib import Path

from emu2_eval.core.environment import DATA, HOME


def data_root() -> Path:
    """Directory of downloaded benchmarks: ``EMU2_EVAL_DATA``, default ~/data/emu2_eval."""
    return DATA.get(Path.home() / "data" / "emu2_eval")


def cache_home() -> Path:
    """Where generated demo data and built-in models are kept (``EMU2_EVAL_HOME``)."""
    return HOME.get(Path.home() / ".cache" / "emu2_eval")

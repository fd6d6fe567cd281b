"""Where real datasets live: ``{data_root}`` in task paths."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from emu2_eval.core.environment import DATA
from emu2_eval.core.environment import cache_home as cache_home  # the data loaders' import
from emu2_eval.core.staging import staging_dir


def data_root() -> Path:
    """Directory of downloaded benchmarks: ``EMU2_EVAL_DATA``, default ~/data/emu2_eval."""
    return DATA.get(Path.home() / "data" / "emu2_eval")


def generated_dir(
    name: str, version: str, generate: Callable[[Path], None], folder: str = ""
) -> Path:
    """``cache_home()/NAME-VERSION/FOLDER``, written by ``generate`` on first use.

    ``generate`` writes into a staging directory renamed into place with a ``COMPLETE`` marker,
    so processes racing to build it and killed set-ups never leave a half-written folder.
    """
    home = cache_home() / f"{name}-{version}"
    if (home / "COMPLETE").exists():
        return home / folder
    with staging_dir(home.parent, name) as staging:  # sweeps killed set-ups
        generate(staging / folder)
        (staging / "COMPLETE").write_text(version)
        try:
            os.replace(staging, home)
        except OSError:  # another process finished first (target exists and is not empty)
            if not (home / "COMPLETE").exists():
                raise
    return home / folder

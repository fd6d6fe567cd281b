"""Reading task and profile YAML files, and the error that names the file.

Shared by :mod:`emu2_eval.tasks.config` and :mod:`emu2_eval.tasks.profiles` (which config uses),
so neither imports the other to read a file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from emu2_eval.core.errors import UserError
from emu2_eval.core.safe_yaml import safe_load_bounded


class TaskConfigError(UserError, ValueError):
    """One or more problems in a task file; ``problems`` lists them, the message names the file."""

    def __init__(self, path: str | Path, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


def read_yaml(path: str | Path) -> Any:
    """``yaml.safe_load`` a file, naming the file (and line) on a syntax error or an alias
    bomb (refused before anything walks the data: :mod:`emu2_eval.core.safe_yaml`)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return safe_load_bounded(handle)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise TaskConfigError(path, [f"invalid YAML{where}: {exc}"]) from None

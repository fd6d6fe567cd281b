"""``EMU2_EVAL_*`` settings read from the environment, refused by name when invalid.

A limit such as ``EMU2_EVAL_MAX_IMAGE_PIXELS=lots`` must stop the run before any model work with
the variable, its value and what is accepted; read lazily inside image decoding it would instead
turn every image into a "sample error" and let the run finish with exit status 0.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MAX_IMAGE_PIXELS = 64_000_000
DEFAULT_MAX_IMAGE_BYTES = 256 * 1024 * 1024


class EnvironmentSettingError(ValueError):
    """An environment variable holds a value the harness cannot use; names it and the fix."""


@dataclass(frozen=True)
class IntSetting:
    """A positive integer read from an environment variable (unset or empty: the default)."""

    name: str
    default: int
    meaning: str

    def get(self) -> int:
        raw = os.environ.get(self.name)
        if raw is None or raw.strip() == "":
            return self.default
        try:
            value = int(raw.strip().replace("_", ""))
        except ValueError:
            value = 0
        if value < 1:
            raise EnvironmentSettingError(
                f"environment variable {self.name}={raw!r} is invalid: expected a positive "
                f"integer ({self.meaning}, default {self.default}); unset it or fix the value"
            )
        return value


@dataclass(frozen=True)
class PathSetting:
    """A directory named by an environment variable (unset: the default).

    An empty value (``EMU2_EVAL_HOME=$TYPO``) would silently mean the current directory, and
    an existing file would fail later with a raw OS error: both are refused by name.
    """

    name: str
    meaning: str

    def get(self, default: Path) -> Path:
        raw = os.environ.get(self.name)
        if raw is None:
            return default
        return _directory(self.name, raw, self.meaning, must_exist=False)


@dataclass(frozen=True)
class PathListSetting:
    """Existing directories separated by ``os.pathsep`` (unset or empty: none)."""

    name: str
    meaning: str

    def get(self) -> list[Path]:
        raw = os.environ.get(self.name, "")
        return [
            _directory(self.name, part, self.meaning, must_exist=True, whole=raw)
            for part in raw.split(os.pathsep)
            if part
        ]


def _directory(name: str, raw: str, meaning: str, must_exist: bool, whole: str = "") -> Path:
    shown = f"{name}={(whole or raw)!r}"
    if not raw.strip():
        raise EnvironmentSettingError(
            f"environment variable {shown} is empty: expected a directory ({meaning}); "
            "unset it or give a path"
        )
    path = Path(raw).expanduser()
    if path.exists() and not path.is_dir():
        raise EnvironmentSettingError(
            f"environment variable {shown}: {path} is not a directory ({meaning})"
        )
    if must_exist and not path.exists():
        raise EnvironmentSettingError(
            f"environment variable {shown}: directory {path} does not exist ({meaning}); "
            f"fix or remove the entry (entries are separated by {os.pathsep!r})"
        )
    return path


MAX_IMAGE_PIXELS = IntSetting(
    "EMU2_EVAL_MAX_IMAGE_PIXELS", DEFAULT_MAX_IMAGE_PIXELS, "largest image decoded, in pixels"
)
MAX_IMAGE_BYTES = IntSetting(
    "EMU2_EVAL_MAX_IMAGE_BYTES", DEFAULT_MAX_IMAGE_BYTES, "largest image file read, in bytes"
)
DATA = PathSetting("EMU2_EVAL_DATA", "where downloaded benchmarks live")
HOME = PathSetting("EMU2_EVAL_HOME", "where demo data and built-in models are kept")
DREAMBENCH = PathSetting("EMU2_EVAL_DREAMBENCH", "the DreamBench dataset folder")
TASKS = PathListSetting("EMU2_EVAL_TASKS", "extra directories of task YAML files")


def cache_home() -> Path:
    """Where generated demo data and built-in models are kept (``EMU2_EVAL_HOME``)."""
    return HOME.get(Path.home() / ".cache" / "emu2_eval")


def check_environment() -> None:
    """Read every ``EMU2_EVAL_*`` setting once, raising ``EnvironmentSettingError`` on the first
    bad one (before a model is loaded, rather than midway through a run)."""
    for number in (MAX_IMAGE_PIXELS, MAX_IMAGE_BYTES):
        number.get()
    for path in (DATA, HOME, DREAMBENCH):
        path.get(Path("."))
    TASKS.get()

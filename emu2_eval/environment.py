"""``EMU2_EVAL_*`` numeric settings read from the environment, refused by name when invalid.

A limit such as ``EMU2_EVAL_MAX_IMAGE_PIXELS=lots`` must stop the run before any model work with
the variable, its value and what is accepted; read lazily inside image decoding it would instead
turn every image into a "sample error" and let the run finish with exit status 0.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

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


MAX_IMAGE_PIXELS = IntSetting(
    "EMU2_EVAL_MAX_IMAGE_PIXELS", DEFAULT_MAX_IMAGE_PIXELS, "largest image decoded, in pixels"
)
MAX_IMAGE_BYTES = IntSetting(
    "EMU2_EVAL_MAX_IMAGE_BYTES", DEFAULT_MAX_IMAGE_BYTES, "largest image file read, in bytes"
)
SETTINGS = (MAX_IMAGE_PIXELS, MAX_IMAGE_BYTES)


def check_environment() -> None:
    """Read every numeric setting once, raising ``EnvironmentSettingError`` on the first bad one."""
    for setting in SETTINGS:
        setting.get()

"""Read third-party pickles (RefCOCO's ``refs(unc).p``) without running code from them.

A pickle can name any importable callable and call it while loading, so ``pickle.load`` on a
downloaded file runs whatever the file says. The refer toolkit's files hold only lists, dicts,
strings and numbers (Python 2 pickles, protocol 2), so the unpickler here refuses every global
except the builtin containers those files need; a refused global is named with the file.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

from emu2_eval.data.docs import DataFormatError

# Python 2 pickles name builtins ``__builtin__``; protocol 2 rebuilds sets through REDUCE.
ALLOWED_GLOBALS = {
    (module, name)
    for module in ("builtins", "__builtin__")
    for name in ("set", "frozenset", "list", "dict", "tuple")
}


class _ContainersOnly(pickle.Unpickler):
    def __init__(self, handle: io.BufferedReader, path: Path) -> None:
        # py2 ``str`` objects are bytes: decode them as UTF-8 (what the refer files hold)
        super().__init__(handle, encoding="utf-8", errors="strict")
        self.path = path

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise DataFormatError(
            self.path,
            f"the pickle references {module}.{name}, which is not a builtin container; only "
            "lists, dicts, tuples, sets, strings and numbers are read from annotation pickles "
            "(is this the official refer file?)",
        )


def load_containers(path: str | Path) -> Any:
    """The object in a pickle of plain containers, or a DataFormatError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, "file not found")
    try:
        with open(path, "rb") as handle:
            return _ContainersOnly(handle, path).load()
    except DataFormatError:
        raise
    except UnicodeDecodeError as exc:
        reason = f"a string in the pickle is not UTF-8 ({exc.reason})"
        raise DataFormatError(path, reason) from None
    except Exception as exc:  # a damaged pickle fails in many ways (EOF, memo KeyError...)
        reason = f"not a readable pickle ({type(exc).__name__}: {exc})"
        raise DataFormatError(path, reason) from None

"""The base class of errors a user can fix: a bad file, option, argument or environment.

The CLI catches these once (``emu2_eval.cli``) and prints one ``Error:`` block naming the file or
option and the fix, without a traceback (``emu2-eval -v`` adds it). Anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """An error caused by input the user controls; its message names the input and the fix."""

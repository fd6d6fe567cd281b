"""What a rerun into an existing run directory may not do silently.

- Replace a task's result with one on fewer documents (a smaller ``--limit``): refused, naming
  both counts, unless ``--overwrite``.
- Mix models: the refusal says which model settings differ (:mod:`emu2_eval.settings_diff`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emu2_eval.errors import UserError
from emu2_eval.settings_diff import settings_diff


class SmallerRerunError(UserError, ValueError):
    """A rerun would replace a task's result with one on fewer documents."""


def refuse_smaller(
    output: Path, task: str, previous: dict[str, Any] | None, n_docs: int
) -> None:
    """Refuse replacing ``previous`` (a task block of results.json) by a result on ``n_docs``."""
    before = (previous or {}).get("n_samples")
    if isinstance(before, int) and n_docs < before:
        raise SmallerRerunError(
            f"{output} already holds {task!r} on {before} docs and this run has {n_docs} "
            f"(a smaller --limit): it would replace the fuller result. Use another --output, "
            "the same --limit, or --overwrite to replace it"
        )


def model_difference(
    previous: dict[str, Any], model: str, model_args: dict[str, Any], fingerprint: str
) -> str:
    """``"; what differs: model.args.dtype: ..."`` (empty when nothing shows)."""
    current = {"model": {"name": model, "args": model_args, "fingerprint": fingerprint}}
    recorded = previous.get("model", {})
    earlier = {"model": {k: recorded.get(k) for k in ("name", "args", "fingerprint")}}
    rows = [row for row in settings_diff(earlier, current) if row[0].startswith("model.")]
    if not rows:
        return ""
    shown = ", ".join(f"{key}: {a} (there) vs {b} (this run)" for key, a, b in rows)
    return f"; what differs: {shown}"

"""What a rerun into an existing run directory may not do silently.

- Replace a task's result with one on fewer documents (a smaller ``--limit``): refused, naming
  both counts, unless ``--overwrite``, before any task runs (and again per task, should the
  data have changed meanwhile).
- Mix models: the refusal says which model settings differ (:mod:`emu2_eval.rundir.settings_diff`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emu2_eval.core.errors import UserError
from emu2_eval.engine.limits import doc_count
from emu2_eval.rundir.settings_diff import settings_diff
from emu2_eval.tasks.task import Task


class SmallerRerunError(UserError, ValueError):
    """A rerun would replace a task's result with one on fewer documents."""


def refuse_smaller(output: Path, task: str, previous: dict[str, Any] | None, n_docs: int) -> None:
    """Refuse replacing ``previous`` (a task block of results.json) by a result on ``n_docs``."""
    before = (previous or {}).get("n_samples")
    if isinstance(before, int) and n_docs < before:
        raise SmallerRerunError(
            f"{output} already holds {task!r} on {before} docs and this run has {n_docs} "
            f"(a smaller --limit): it would replace the fuller result. Use another --output, "
            "the same --limit, or --overwrite to replace it"
        )


def refuse_smaller_limit(
    output: Path, tasks: list[Task], previous: dict[str, Any], limit: int | float | None
) -> None:
    """Before any task runs (so no samples file is rewritten), refuse a smaller ``limit``.

    A count is compared with the recorded ``n_samples`` directly; a fraction needs the task's
    doc count, so those tasks' data are read here (only tasks already in ``output``).
    """
    if limit is None:
        return
    for task in tasks:
        block = previous.get(task.name)
        if not block:
            continue
        n_docs = limit if isinstance(limit, int) else doc_count(limit, len(task.load().docs))
        refuse_smaller(output, task.name, block, n_docs)


def refuse_smaller_limit_before_loading(
    output: Path,
    tasks: list[Task],
    limit: int | float | None,
    model: str,
    model_args: dict[str, Any],
) -> None:
    """The smaller-limit refusal on ``output``'s recorded tasks, before the model loads.

    Only when the directory records the same model name and arguments: then the fuller result
    is said in seconds rather than after the model load. Another model, or an unreadable
    results.json, is left to the checks after loading (they name what differs, or the file).
    """
    from emu2_eval.rundir.schema import RunResultsError, read_run_results, results_path

    if limit is None or not results_path(output).is_file():
        return
    try:
        previous = read_run_results(output)
    except RunResultsError:
        return  # named, with "move it aside", by the check after loading (_previous_tasks)
    same_model = (previous.model_name, previous.model.get("args")) == (model, model_args)
    if same_model:
        refuse_smaller_limit(output, tasks, previous.raw["tasks"], limit)


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

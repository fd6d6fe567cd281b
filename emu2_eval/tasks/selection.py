"""``--tasks`` entries to task names: exact names, shell-style wildcards and groups.

An entry is, in this order: a task name; a shell-style pattern (``demo_*``, ``*vqa*``: any entry
holding ``*``, ``?`` or ``[``) matched against every task name; or a group, the value of the
``group:`` key of task files (``demo``, ``vqa``, ``generation``...). The result keeps the order
of the entries (tasks of a pattern or group sorted), each task once.
"""

from __future__ import annotations

import difflib
import fnmatch
from pathlib import Path

from emu2_eval.core.registry import UnknownNameError
from emu2_eval.tasks.config import TaskConfigError, read_yaml
from emu2_eval.tasks.locations import TaskIndex
from emu2_eval.tasks.registry import task_index

WILDCARDS = ("*", "?", "[")


def task_groups(index: dict[str, Path] | None = None) -> dict[str, list[str]]:
    """Group name -> sorted task names, from the ``group:`` key of each task file."""
    groups: dict[str, list[str]] = {}
    for name, path in (index if index is not None else task_index()).items():
        try:
            raw = read_yaml(path)
        except TaskConfigError:
            continue  # unreadable files are reported when the task itself is asked for
        group = raw.get("group") if isinstance(raw, dict) else None
        if isinstance(group, str) and group:
            groups.setdefault(group, []).append(name)
    return {group: sorted(names) for group, names in groups.items()}


def expand_task_names(entries: list[str], tasks: TaskIndex | None = None) -> list[str]:
    """The task names that ``entries`` select; an entry selecting nothing is an error.

    A plain name that is neither a task nor a group is passed through unchanged, so the task
    registry reports it (with its "did you mean" and any unreadable task file).
    """
    index = task_index(tasks)
    groups = task_groups(index)
    selected: list[str] = []
    for entry in entries:
        if entry in index:
            names = [entry]
        elif any(c in entry for c in WILDCARDS):
            names = sorted(n for n in index if fnmatch.fnmatchcase(n, entry))
            if not names:
                raise UnknownNameError(
                    f"--tasks pattern {entry!r} matches no task; `emu2-eval run --tasks list` "
                    "lists tasks and groups"
                )
        elif entry in groups:
            names = groups[entry]
        else:
            close = difflib.get_close_matches(entry, list(groups), n=2)
            if close and not difflib.get_close_matches(entry, list(index), n=1):
                raise UnknownNameError(
                    f"unknown task or group {entry!r} (did you mean group {', '.join(close)}?); "
                    f"groups: {', '.join(sorted(groups))}"
                )
            names = [entry]
        selected += [n for n in names if n not in selected]
    return selected


def task_listing(tasks: TaskIndex | None = None) -> str:
    """What ``--tasks list`` prints: each task with its group and file, then the groups."""
    index = task_index(tasks)
    groups = task_groups(index)
    group_of = {task: group for group, tasks in groups.items() for task in tasks}
    lines = [f"{'task':32s} {'group':16s} file"]
    lines += [f"{n:32s} {group_of.get(n, '-'):16s} {p}" for n, p in sorted(index.items())]
    lines.append("")
    lines.append("groups (--tasks GROUP runs all of its tasks; wildcards: --tasks 'demo_*'):")
    lines += [f"  {group:16s} {', '.join(tasks)}" for group, tasks in sorted(groups.items())]
    return "\n".join(lines)

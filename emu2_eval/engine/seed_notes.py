"""Say when a grid's seeds cannot change anything, before the grid spends time on them.

The run seed only picks few-shot demonstrations (and Flamingo's 0-shot text examples) with the
``random`` strategy. ``rices`` picks the most similar pool images, whatever the seed, and a
0-shot prompt has no demonstrations: several seeds then give identical runs, and a "std over
seeds" of 0 would read as a stable model rather than as the same run repeated.
"""

from __future__ import annotations

from collections.abc import Iterable

from emu2_eval.tasks.task import Task


def seed_matters(task: Task, shots: int) -> bool:
    """Whether the seed changes what ``task`` runs at ``shots`` demonstrations."""
    spec = task.config.fewshot
    if spec is None or spec.strategy != "random":
        return False
    return shots > 0 or spec.zero_shot_text_examples > 0


def seed_warnings(tasks: Iterable[Task], shots_list: list[int], seeds: list[int]) -> list[str]:
    """One line per task whose cells at some shots would be identical across ``seeds``."""
    distinct = list(dict.fromkeys(seeds))
    if len(distinct) < 2:
        return []
    lines = []
    for task in tasks:
        idle = [k for k in dict.fromkeys(shots_list) if not seed_matters(task, k)]
        if not idle:
            continue
        spec = task.config.fewshot
        reasons = []
        if 0 in idle:
            reasons.append("at 0 shots no demonstrations are drawn")
        if any(k > 0 for k in idle):
            strategy = spec.strategy if spec is not None else "none"
            reasons.append(f"strategy {strategy!r} chooses demonstrations without the seed")
        shots = ", ".join(str(k) for k in idle)
        lines.append(
            f"warning: task {task.name!r}, shots {shots}: {'; '.join(reasons)}, so seeds "
            f"{', '.join(str(s) for s in distinct)} will give identical runs (a std over seeds "
            "of 0 by construction); give one seed for these cells, or use strategy 'random'"
        )
    return lines

"""Run-wide overrides of task settings: ``--gen-kwargs k=v,...``.

The override replaces the named keys of every generating task's ``generation`` block, is checked
with the same rules as task YAML (:mod:`emu2_eval.tasks.checks`), and goes into the task's
recorded config (so its ``config_hash``) and its requests' options (so the cache key): answers
of one setting are never served for another.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import yaml

from emu2_eval.core.errors import UserError
from emu2_eval.tasks.checks import check_generation
from emu2_eval.tasks.config import GENERATION_KEYS
from emu2_eval.tasks.task import Task


class GenKwargsError(UserError, ValueError):
    """A ``--gen-kwargs`` entry that is malformed, unknown or out of range."""


def parse_gen_kwargs(text: str | None) -> dict[str, Any]:
    """``num_beams=1,max_new_tokens=20`` -> a checked mapping; values read as YAML scalars."""
    if not text:
        return {}
    values: dict[str, Any] = {}
    for item in (p.strip() for p in text.split(",")):
        if not item:
            continue
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise GenKwargsError(f"--gen-kwargs: {item!r} is not key=value (e.g. num_beams=1)")
        try:
            values[key] = yaml.safe_load(raw.strip()) if raw.strip() else None
        except yaml.YAMLError:
            values[key] = raw.strip()
    unknown = sorted(set(values) - GENERATION_KEYS)
    problems = (
        [f"unknown setting(s) {', '.join(unknown)}; valid: {', '.join(sorted(GENERATION_KEYS))}"]
        if unknown
        else []
    )
    problems += check_generation(values)
    if problems:
        raise GenKwargsError("--gen-kwargs: " + "; ".join(problems))
    return values


def apply_gen_kwargs(task: Task, gen_kwargs: dict[str, Any]) -> Task:
    """A task whose generation settings are overridden (loglikelihood tasks are unchanged)."""
    if not gen_kwargs or task.config.request == "loglikelihood":
        return task
    generation = {**task.config.generation, **gen_kwargs}
    raw = {**task.config.raw, "generation": generation}
    return Task(dataclasses.replace(task.config, generation=generation, raw=raw), task.profiles)

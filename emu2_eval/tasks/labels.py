"""Labelled or not: the fields a task's metrics need, checked when its data is loaded.

A split without public labels (VQAv2 test-dev, VizWiz test, MMMU test) loads from questions
alone, so its docs lack what the metrics read (``answers``, ``label``...). Found at load time,
before any model work on the task, the run stops with the fix (``--predict-only`` or
``labels: false``) instead of crashing at scoring with a ``KeyError``; scoring and ``score``
refuse such a split for the same reason, naming the task.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from emu2_eval.core.errors import UserError
from emu2_eval.core.registry import METRICS


class UnlabelledSplitError(UserError, ValueError):
    """A task's docs lack a field its metrics need: the split cannot be scored here."""


def required_fields(config: Any) -> list[tuple[str, str]]:
    """(metric, field) for every field the task's metrics read from each doc (a metric built
    with the task's options: CLIP-T's field is its ``text_field`` option)."""
    return [
        (spec.name, name)
        for spec in config.metrics
        for name in METRICS.get(spec.name)(**spec.options).required_fields
    ]


def first_missing(
    config: Any, docs: Iterable[tuple[str, Mapping[str, Any]]]
) -> tuple[str, str, str] | None:
    """(doc id, metric, field) of the first doc lacking a required field, else None."""
    needed = required_fields(config)
    if not needed:
        return None
    for doc_id, fields in docs:
        for metric, name in needed:
            if name not in fields:
                return doc_id, metric, name
    return None


def unlabelled_message(config: Any, where: str, missing: tuple[str, str, str]) -> str:
    """The refusal: which task, doc and field, and the two ways to run such a split."""
    doc_id, metric, name = missing
    return (
        f"task {config.name!r}: doc {doc_id} of {where} has no {name!r}, which metric "
        f"{metric!r} needs, so this split has no labels and cannot be scored here. Run it with "
        "--predict-only (Python: evaluate(..., predict_only=True)) to write its responses and "
        f"submission file, or mark the task `labels: false` in {config.path}; scores of such a "
        "split come from its evaluation server (e.g. EvalAI), or run the labelled split "
        "(e.g. the val task)"
    )


def check_labelled(config: Any, docs: Iterable[tuple[str, Mapping[str, Any]]], where: str) -> None:
    """Raise :class:`UnlabelledSplitError` when a doc lacks a field the metrics need."""
    missing = first_missing(config, docs)
    if missing is not None:
        raise UnlabelledSplitError(unlabelled_message(config, where, missing))

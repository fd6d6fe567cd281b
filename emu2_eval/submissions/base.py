"""Write a task's submission file from its sample rows, and describe it for results.json.

A writer is ``writer(rows, **args) -> (payload, info)``: ``rows`` are the run's sample rows
(``doc_id``, ``doc``, ``filtered`` prediction, ``error``), ``payload`` the JSON the server takes
and ``info`` what results.json records beside the file (counts, the full-list file used).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from emu2_eval.core.atomic import write_atomic
from emu2_eval.core.registry import SUBMISSION_WRITERS
from emu2_eval.data.docs import DataFormatError
from emu2_eval.tasks.config import TaskConfig, resolve_roots


def answer_of(row: dict[str, Any]) -> str:
    """The submitted answer of a row: its filtered prediction; "" for a failed request."""
    value = row.get("filtered")
    return value if isinstance(value, str) else ""


def record_values(
    source: str | Path, records: list[Any], key: str, valid: Callable[[Any], bool], rule: str
) -> list[Any]:
    """``record[key]`` of each record of the server's full list (read from ``source``); a record
    without a ``valid`` value is refused with ``rule``, naming its index."""
    values = []
    for index, record in enumerate(records):
        value = record.get(key) if isinstance(record, dict) else None
        if not valid(value):
            raise DataFormatError(source, rule, index)
        values.append(value)
    return values


def answers_by_id(
    rows: Sequence[dict[str, Any]],
    expected: Sequence[Any],
    key_of: Callable[[dict[str, Any]], Any],
    answer: Callable[[dict[str, Any]], str],
    source: str | Path,
    fix: str,
) -> dict[Any, str]:
    """``{id: answer}`` of the run's rows; a row whose id the server's full list (``expected``,
    read from ``source``) lacks is refused, naming it and ``fix``: the file would be rejected."""
    known = set(expected)
    answers: dict[Any, str] = {}
    for row in rows:
        key = key_of(row)
        if key not in known:
            raise DataFormatError(source, f"question {key} of the run is not in this file: {fix}")
        answers[key] = answer(row)
    return answers


def coverage(n_entries: int, n_run: int) -> dict[str, int]:
    """The counts results.json records beside a submission file."""
    return {"n_entries": n_entries, "n_run": n_run, "n_filled_empty": n_entries - n_run}


def submission_name(task: str) -> str:
    return f"submission_{task}.json"


def write_submission(
    config: TaskConfig, rows: Sequence[dict[str, Any]], output: Path
) -> dict[str, Any] | None:
    """Write ``submission_<task>.json`` into ``output`` when the task names a writer."""
    spec = config.submission
    if spec is None:
        return None
    args = resolve_roots(spec.args)
    payload, info = SUBMISSION_WRITERS.get(spec.writer)(list(rows), **args)
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    path = output / submission_name(config.name)
    write_atomic(path, lambda handle: handle.write(text))
    return {
        "file": path.name,
        "writer": spec.writer,
        "args": spec.args,
        "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "n_errors": sum(1 for r in rows if r.get("error") is not None),
        **info,
    }

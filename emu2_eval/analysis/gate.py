"""Score-regression gate: ``emu2-eval baseline`` writes expected scores, ``check`` enforces them.

A baseline stores, per task and metric, the value, its bootstrap interval and a tolerance
``max(half-width of the interval, floor)``: a drop smaller than the sampling noise of the
(usually small) gate subset is not a regression, and the floor keeps zero-width intervals (a
metric stuck at 0 on a tiny model) from failing on rounding.  It also stores what the numbers
are about: the run's ``--limit``, each task's document ids (sha256 and, up to
``MAX_STORED_IDS``, the ids themselves), dataset fingerprint and config hash, and the model
fingerprint.  ``check`` refuses to compare a run on other documents (exit 2), fails (exit 1)
when a metric is worse than baseline - tolerance (baseline + tolerance for lower-is-better
metrics; the direction comes from the metric class), when a task or metric is missing, or when
a task has more errored samples than the baseline; otherwise it passes (exit 0).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emu2_eval.core.registry import METRICS, UnknownNameError
from emu2_eval.rundir.read import RunDir, ids_digest
from emu2_eval.scoring.stats.intervals import task_intervals
from emu2_eval.scoring.stats.resamplers import higher_is_better
from emu2_eval.scoring.stats.settings import BootstrapSettings

FORMAT = "emu2_eval.baseline/1"
MAX_STORED_IDS = 5000
DEFAULT_FLOOR = 1.0


class BaselineMismatchError(ValueError):
    """The run and the baseline are not about the same documents: no comparison is made."""


def make_baseline(
    run: RunDir, settings: BootstrapSettings | None = None, floor: float = DEFAULT_FLOOR
) -> dict[str, Any]:
    """The baseline of a run (see the module docstring); intervals recomputed from samples."""
    settings = settings or BootstrapSettings()
    if floor < 0:
        raise ValueError("--floor must be 0 or more")
    tasks: dict[str, Any] = {}
    for task, block in run.typed.tasks.items():
        ids = run.all_ids(task)
        intervals = task_intervals(block.metric_options, block.metrics, run.samples(task), settings)
        metrics = {}
        for key, value in block.metrics.items():
            interval = intervals.get(key, {})
            low, high = interval.get("low"), interval.get("high")
            half = None if low is None or high is None else (high - low) / 2.0
            tolerance = floor if half is None else max(half, floor)
            metrics[key] = {
                "value": value,
                "low": low,
                "high": high,
                "tolerance": tolerance,
                "tolerance_from": "floor" if half is None or half <= floor else "half-width",
                "metric": interval.get("metric"),
                "higher_is_better": interval.get("higher_is_better", True),
                "units": block.units.get(key, ""),
            }
        tasks[task] = {
            "dataset_fingerprint": block.dataset.get("fingerprint"),
            "config_hash": block.config_hash,
            "n_docs": len(ids),
            "n_errors": block.errors,
            "doc_ids_sha256": ids_digest(ids),
            "doc_ids": ids if len(ids) <= MAX_STORED_IDS else None,
            "metrics": metrics,
        }
    return {
        "format": FORMAT,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "source_run": str(run.path),
        "model": {"name": run.typed.model_name, "fingerprint": run.typed.fingerprint},
        "limit": run.typed.limit,
        "tolerance": {
            "rule": "max(half-width of the bootstrap interval, floor)",
            "half_width": "(high - low) / 2",
            "floor": floor,
            **settings.describe(),
        },
        "tasks": tasks,
    }


def read_baseline(path: Path) -> dict[str, Any]:
    """Load a baseline file; errors name the file."""
    if not path.is_file():
        raise FileNotFoundError(f"baseline {path} not found (write one with `emu2-eval baseline`)")
    try:
        baseline = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"baseline {path} is not valid JSON ({exc})") from None
    if not isinstance(baseline, dict) or baseline.get("format") != FORMAT:
        raise ValueError(f"baseline {path} is not a {FORMAT} file")
    return baseline


@dataclass
class CheckRow:
    """One line of the check table."""

    task: str
    metric: str
    baseline: float | None
    tolerance: float | None
    threshold: float | None
    value: float | None
    low: float | None
    high: float | None
    direction: str
    status: str
    note: str = ""


def _direction(metric_name: str | None, key: str, recorded: bool) -> bool:
    """Higher-is-better from the metric class; the baseline's record if the class is unknown."""
    if metric_name:
        try:
            METRICS.get(metric_name)
        except UnknownNameError:
            return recorded
        return higher_is_better(metric_name, key)
    return recorded


def verify_same_documents(run: RunDir, baseline: dict[str, Any], source: Path) -> list[str]:
    """Raise BaselineMismatchError when documents differ; return warnings (e.g. model)."""
    problems = []
    limit = run.typed.limit
    if limit != baseline.get("limit"):
        problems.append(f"--limit is {limit} in the run but {baseline.get('limit')} in {source}")
    for task, expected in baseline.get("tasks", {}).items():
        if task not in run.typed.tasks:
            continue  # reported as missing by check_run
        fingerprint = run.task(task).dataset.get("fingerprint")
        if fingerprint != expected.get("dataset_fingerprint"):
            problems.append(
                f"{task}: dataset fingerprint {str(fingerprint)[:12]} differs from the "
                f"baseline's {str(expected.get('dataset_fingerprint'))[:12]}"
            )
        ids = run.all_ids(task)
        if ids_digest(ids) != expected.get("doc_ids_sha256"):
            detail = f"{len(ids)} documents in the run, {expected.get('n_docs')} in the baseline"
            if expected.get("doc_ids") is not None:
                missing = [d for d in expected["doc_ids"] if d not in set(ids)]
                extra = [d for d in ids if d not in set(expected["doc_ids"])]
                detail += f"; missing {missing[:5]}, extra {extra[:5]}"
                if not missing and not extra:
                    detail += " (same ids, different order)"
            problems.append(f"{task}: other documents than the baseline ({detail})")
    if problems:
        raise BaselineMismatchError(
            f"refusing to check {run.path} against {source}: the run is not on the baseline's "
            "documents:\n  " + "\n  ".join(problems)
        )
    warnings = []
    fingerprint = run.typed.fingerprint
    if fingerprint != baseline.get("model", {}).get("fingerprint"):
        warnings.append(
            f"model fingerprint {str(fingerprint)[:12]} ({run.typed.model_name}) "
            f"differs from the baseline's {str(baseline['model'].get('fingerprint'))[:12]} "
            f"({baseline['model'].get('name')})"
        )
    return warnings


def check_run(run: RunDir, baseline: dict[str, Any]) -> list[CheckRow]:
    """Compare a run with a baseline (documents already verified); one row per check."""
    rows = []
    for task, expected in baseline.get("tasks", {}).items():
        if task not in run.typed.tasks:
            rows.append(
                CheckRow(
                    task,
                    "(task)",
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    "",
                    "FAIL",
                    "task missing from the run",
                )
            )
            continue
        block = run.task(task)
        for key, spec in expected.get("metrics", {}).items():
            higher = _direction(spec.get("metric"), key, spec.get("higher_is_better", True))
            direction = "higher is better" if higher else "lower is better"
            value = block.metrics.get(key)
            base, tol = spec.get("value"), spec.get("tolerance", 0.0)
            threshold = None if base is None else (base - tol if higher else base + tol)
            interval = block.interval(key)
            row = CheckRow(
                task,
                key,
                base,
                tol,
                threshold,
                value,
                interval.get("low"),
                interval.get("high"),
                direction,
                "PASS",
            )
            if value is None:
                row.status, row.note = "FAIL", "metric missing from the run"
            elif threshold is not None and (value < threshold if higher else value > threshold):
                row.status = "FAIL"
                row.note = f"{'below' if higher else 'above'} baseline {'-' if higher else '+'} tol"
            rows.append(row)
        errors, allowed = block.errors, expected.get("n_errors", 0)
        rows.append(
            CheckRow(
                task,
                "n_errors",
                allowed,
                0,
                allowed,
                errors,
                None,
                None,
                "lower is better",
                "FAIL" if errors > allowed else "PASS",
                "more errored samples than the baseline" if errors > allowed else "",
            )
        )
    return rows


def check_markdown(rows: list[CheckRow], warnings: list[str]) -> str:
    """The pass/fail table ``check`` prints."""
    from emu2_eval.reporting.format import fmt, fmt_interval

    lines = [
        "| task | metric | baseline | tolerance | threshold | run [CI] | direction | status "
        "| note |",
        "|:--|:--|--:|--:|--:|--:|:--|:--|:--|",
    ]
    for r in rows:
        lines.append(
            f"| {r.task} | {r.metric} | {fmt(r.baseline)} | {fmt(r.tolerance)} | "
            f"{fmt(r.threshold)} | {fmt_interval(r.value, r.low, r.high)} | {r.direction} | "
            f"**{r.status}** | {r.note} |"
        )
    failed = sum(r.status != "PASS" for r in rows)
    lines.append("")
    lines += [f"warning: {w}" for w in warnings]
    lines.append(f"{len(rows) - failed} passed, {failed} failed")
    return "\n".join(lines) + "\n"

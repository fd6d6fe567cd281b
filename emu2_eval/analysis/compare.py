"""``emu2-eval compare``: how run B differs from run A, and whether the difference is noise.

Per task and metric: the difference B - A on the documents both runs scored, with a *paired*
bootstrap interval (the same resampled document ids applied to both runs, so per-document
agreement cancels out) and a two-sided bootstrap p-value
(:func:`emu2_eval.scoring.stats.bootstrap.two_sided_p_value`).  Before that, the settings that
differ (:mod:`emu2_eval.rundir.settings_diff`), because they explain most gaps; after it, the
samples whose score changed, largest change first.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from emu2_eval.rundir.read import RunDir
from emu2_eval.rundir.settings_diff import settings_diff
from emu2_eval.scoring.stats.bootstrap import (
    paired_distribution,
    percentile_interval,
    two_sided_p_value,
)
from emu2_eval.scoring.stats.intervals import scored_docs
from emu2_eval.scoring.stats.resamplers import ScoredDoc, build_resampler, resampler_class
from emu2_eval.scoring.stats.settings import BootstrapSettings

P_VALUE_METHOD = (
    "two-sided paired bootstrap: p = min(1, 2 * min(#(d* <= 0) + 1, #(d* >= 0) + 1) / (m + 1)) "
    "over the m resampled differences d* (same document ids drawn for both runs)"
)


@dataclass
class MetricDiff:
    """One metric of one task: values on the shared documents, difference, interval, p."""

    task: str
    metric: str
    n_shared: int
    a: float | None
    b: float | None
    diff: float | None
    low: float | None
    high: float | None
    p_value: float | None
    method: str


@dataclass
class Flip:
    """A document whose per-sample outcome differs between the runs."""

    task: str
    metric: str
    doc_id: str
    answer_a: Any
    answer_b: Any
    score_a: float
    score_b: float


@dataclass
class Comparison:
    """Everything ``compare`` reports; ``to_markdown``/``to_json``/``metrics_frame`` render it."""

    run_a: str
    run_b: str
    settings: list[tuple[str, str, str]]
    metrics: list[MetricDiff]
    flips: dict[tuple[str, str], list[Flip]]
    flip_counts: dict[tuple[str, str], tuple[int, int]]
    flip_labels: dict[tuple[str, str], str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    bootstrap: dict[str, Any] = field(default_factory=dict)

    def metrics_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(m) for m in self.metrics])

    def to_json(self) -> dict[str, Any]:
        return {
            "run_a": self.run_a,
            "run_b": self.run_b,
            "settings_differ": [{"setting": s, "a": a, "b": b} for s, a, b in self.settings],
            "metrics": [asdict(m) for m in self.metrics],
            "p_value_method": P_VALUE_METHOD,
            "bootstrap": self.bootstrap,
            "changed_samples": {
                f"{task}/{metric}": {
                    "outcome": self.flip_labels.get((task, metric), "score"),
                    "up": self.flip_counts[(task, metric)][0],
                    "down": self.flip_counts[(task, metric)][1],
                    "shown": [asdict(f) for f in flips],
                }
                for (task, metric), flips in self.flips.items()
            },
            "notes": self.notes,
        }

    def to_markdown(self) -> str:
        from emu2_eval.reporting.format import fmt, fmt_interval, md_cell

        lines = [f"# Compare\n\nA: `{self.run_a}`  \nB: `{self.run_b}`\n"]
        lines.append("## Settings that differ\n")
        if self.settings:
            lines += ["| setting | A | B |", "|:--|:--|:--|"]
            lines += [f"| {s} | {md_cell(a)} | {md_cell(b)} |" for s, a, b in self.settings]
        else:
            lines.append("None of the recorded settings differ.")
        level = round(100 * self.bootstrap.get("confidence", 0.95))
        lines.append(f"\n## Metrics: B - A on the shared documents ({level}% paired bootstrap)\n")
        lines += [
            f"| task | metric | n shared | A | B | B - A [{level}% CI] | p |",
            "|:--|:--|--:|--:|--:|--:|--:|",
        ]
        for m in self.metrics:
            lines.append(
                f"| {m.task} | {m.metric} | {m.n_shared} | {fmt(m.a)} | {fmt(m.b)} | "
                f"{fmt_interval(m.diff, m.low, m.high)} | {fmt(m.p_value, 3)} |"
            )
        lines.append(
            f"\nResamples: {self.bootstrap.get('resamples')}, seed {self.bootstrap.get('seed')}; "
            f"intervals: percentile; p-value: {P_VALUE_METHOD}."
        )
        lines.append("\n## Samples whose score changed\n")
        if not self.flips:
            lines.append("No shared task to compare.")
        for (task, metric), flips in self.flips.items():
            up, down = self.flip_counts[(task, metric)]
            lines.append(
                f"### {task} / {metric} ({self.flip_labels.get((task, metric), 'score')}): "
                f"{up + down} changed ({up} up in B, {down} down)"
                + (f", showing {len(flips)}" if len(flips) < up + down else "")
                + "\n"
            )
            if flips:
                lines += [
                    "| doc | A answer | B answer | A score | B score |",
                    "|:--|:--|:--|--:|--:|",
                ]
                lines += [
                    f"| {f.doc_id} | {md_cell(f.answer_a)} | {md_cell(f.answer_b)} | "
                    f"{fmt(f.score_a)} | {fmt(f.score_b)} |"
                    for f in flips
                ]
            lines.append("")
        if self.notes:
            lines.append("## Notes\n")
            lines += [f"- {note}" for note in self.notes]
        return "\n".join(lines).rstrip() + "\n"


def _restricted(run: RunDir, tasks: list[str]) -> dict[str, Any]:
    """The run's results.json mapping with only ``tasks`` (settings_diff flattens it whole)."""
    return {**run.typed.raw, "tasks": {t: run.task(t).raw for t in tasks}}


def compare_runs(
    run_a: RunDir,
    run_b: RunDir,
    settings: BootstrapSettings | None = None,
    max_flips: int = 20,
) -> Comparison:
    """Compare two run directories task by task (see the module docstring)."""
    settings = settings or BootstrapSettings()
    if max_flips < 0:
        raise ValueError("--max-flips must be 0 or more")
    shared_tasks = [t for t in run_a.typed.tasks if t in run_b.typed.tasks]
    notes = []
    for name, run, other in (("A", run_a, run_b), ("B", run_b, run_a)):
        only = [t for t in run.typed.tasks if t not in other.typed.tasks]
        if only:
            notes.append(f"tasks only in {name}: {', '.join(only)} (not compared)")
    comparison = Comparison(
        run_a=str(run_a.path),
        run_b=str(run_b.path),
        settings=settings_diff(_restricted(run_a, shared_tasks), _restricted(run_b, shared_tasks)),
        metrics=[],
        flips={},
        flip_counts={},
        notes=notes,
        bootstrap=settings.describe(),
    )
    for task in shared_tasks:
        _compare_task(run_a, run_b, task, settings, max_flips, comparison)
    return comparison


def _compare_task(
    run_a: RunDir,
    run_b: RunDir,
    task: str,
    settings: BootstrapSettings,
    max_flips: int,
    out: Comparison,
) -> None:
    block_a, block_b = run_a.task(task), run_b.task(task)
    records_a = {str(r["doc_id"]): r for r in run_a.samples(task) if r.get("error") is None}
    records_b = {str(r["doc_id"]): r for r in run_b.samples(task) if r.get("error") is None}
    shared = [doc_id for doc_id in records_a if doc_id in records_b]
    if len(shared) < max(len(records_a), len(records_b)):
        out.notes.append(
            f"{task}: {len(shared)} documents scored in both runs (A {len(records_a)}, "
            f"B {len(records_b)}); values below are recomputed on the shared ones"
        )
    if not shared:
        out.notes.append(f"{task}: no document scored in both runs; nothing to compare")
        return
    docs_a = scored_docs(records_a[d] for d in shared)
    docs_b = scored_docs(records_b[d] for d in shared)
    options_a, options_b = block_a.metric_options, block_b.metric_options
    for name in [n for n in options_a if n in options_b]:
        if resampler_class(name) is None:
            for key, value in block_a.metrics.items():
                other = block_b.metrics.get(key)
                out.metrics.append(
                    MetricDiff(
                        task,
                        key,
                        len(shared),
                        value,
                        other,
                        None if other is None else other - value,
                        None,
                        None,
                        None,
                        f"not available: metric {name!r} has no resampler",
                    )
                )
            continue
        res_a = build_resampler(name, docs_a, block_a.metrics, options_a[name])
        res_b = build_resampler(name, docs_b, block_b.metrics, options_b[name])
        ones = np.ones((1, len(shared)))
        point_a, point_b = res_a.statistics(ones), res_b.statistics(ones)
        differences = paired_distribution(res_a, res_b, settings)
        methods = res_a.methods()
        for key, values in differences.items():
            interval = percentile_interval(values, settings.confidence)
            a, b = float(point_a[key][0]), float(point_b[key][0])
            out.metrics.append(
                MetricDiff(
                    task,
                    key,
                    len(shared),
                    a,
                    b,
                    b - a,
                    interval.low,
                    interval.high,
                    two_sided_p_value(values),
                    methods[key],
                )
            )
        out.flip_labels[(task, name)] = type(res_a).sample_label
        _flips(
            task,
            name,
            type(res_a).sample_outcomes(docs_a),
            type(res_b).sample_outcomes(docs_b),
            docs_a,
            docs_b,
            max_flips,
            out,
        )


def _flips(
    task: str,
    metric: str,
    scores_a: np.ndarray,
    scores_b: np.ndarray,
    docs_a: list[ScoredDoc],
    docs_b: list[ScoredDoc],
    max_flips: int,
    out: Comparison,
) -> None:
    """Count the documents whose outcome changed; keep the largest changes first."""
    delta = scores_b - scores_a
    changed = np.flatnonzero(np.abs(delta) > 1e-9)
    order = changed[np.argsort(-np.abs(delta[changed]), kind="stable")]
    out.flip_counts[(task, metric)] = (int((delta > 1e-9).sum()), int((delta < -1e-9).sum()))
    out.flips[(task, metric)] = [
        Flip(
            task,
            metric,
            docs_a[i].doc_id,
            docs_a[i].prediction,
            docs_b[i].prediction,
            float(scores_a[i]),
            float(scores_b[i]),
        )
        for i in order[:max_flips]
    ]

"""The report files of a run directory: report.csv/.md/.tex/.html, groups.csv, task_groups.csv.

Kept apart from :mod:`emu2_eval.reporting.tables` (the tables) so that the HTML page can build
on those tables without a cycle. ``run`` and ``score`` reach :func:`write_reports` through the
``RUN_OUTPUTS`` registry (the engine never imports the reporting layer); ``emu2-eval report``
calls it again with more options (paper model).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from emu2_eval.core.atomic import write_csv_atomic, write_text_atomic
from emu2_eval.reporting.grids import grids_markdown, write_grids  # image grids of generation tasks
from emu2_eval.reporting.html import _task_samples, html_report
from emu2_eval.reporting.tables import (
    CONSOLE_COLUMNS,
    groups_table,
    latex_report,
    markdown_report,
    report_frame,
    task_groups_table,
)
from emu2_eval.rundir.schema import RunResults, as_run_results, results_path


def write_reports(
    results: Mapping[str, Any] | RunResults,
    run_dir: Path,
    paper_model: str | None = None,
    max_failures: int = 200,
    samples: Mapping[str, list[dict[str, Any]]] | None = None,
) -> pd.DataFrame:
    """Write report.csv/.md/.tex/.html (and groups.csv when there are groups); return the table.

    The HTML report reads the run's samples files for its failure browser and image grids,
    unless ``samples`` (task -> records, as just written) already holds them.
    """
    run_dir = Path(run_dir)
    results = as_run_results(results, results_path(run_dir))
    samples = {task: _task_samples(run_dir, task, samples) for task in results.tasks}
    table = report_frame(results)
    write_csv_atomic(run_dir / "report.csv", table)
    groups = groups_table(results, samples)
    if not groups.empty:
        write_csv_atomic(run_dir / "groups.csv", groups)
    aggregates = task_groups_table(results, samples)
    if not aggregates.empty:
        write_csv_atomic(run_dir / "task_groups.csv", aggregates)
    grids = grids_markdown(write_grids(results, run_dir))
    markdown = markdown_report(results, paper_model, samples) + grids
    write_text_atomic(run_dir / "report.md", markdown)
    write_text_atomic(run_dir / "report.tex", latex_report(results, paper_model, samples))
    write_text_atomic(
        run_dir / "report.html",
        html_report(
            results, run_dir, paper_model=paper_model, max_failures=max_failures, samples=samples
        ),
    )
    return table[CONSOLE_COLUMNS]

"""A self-contained HTML report of a run (or a sweep): one file, no server, no network.

Sections: the run (checkpoint, shots/prompt/strategy/seed per task, manifest summary), results
with intervals, the paper comparison (when a paper model is given), per-group values with n and
intervals, the few-shot plot (sweeps), generated images (generation tasks), a Samples browser
(inputs, few-shot demonstrations, the response or generated image, scores in the tables' units)
and a browser of failures (errors, and wrong answers where the task has a pass/fail rule) with a
little inline JavaScript for filtering.  CSS, JS and images are inline
(images as base64 data URIs), so the file opens from ``file://`` and can be mailed around.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emu2_eval.reporting.format import fmt, fmt_interval, short
from emu2_eval.reporting.images import (
    dataset_dirs,
    doc_image,
    generated_images,
    looks_like_image,
    png_uri,
    thumbnail_uri,
)
from emu2_eval.reporting.scales import sample_scales, score_scale
from emu2_eval.reporting.settings import SETTING_COLUMNS, checkpoint_label, settings_line
from emu2_eval.rundir.schema import RunResults, TaskResult, as_run_results, results_path

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;
max-width:1500px}
h1{font-size:1.5em;margin-bottom:4px}h2{font-size:1.2em;margin-top:28px;border-bottom:1px solid
#ddd;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
th,td{border:1px solid #ddd;padding:4px 8px;vertical-align:top;text-align:left}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.meta{color:#555;font-size:13px}.note{color:#555;font-size:12px;margin:2px 0}
.ok{color:#1a7f37}.bad{color:#c62828}.err{background:#fff4f4}
.controls{display:flex;gap:14px;align-items:center;flex-wrap:wrap;margin:8px 0;font-size:13px}
.grid{display:flex;flex-wrap:wrap;gap:12px}.grid figure{margin:0;width:220px;font-size:12px}
.grid img{width:220px;height:auto;border:1px solid #ccc}
#failures td,#samples td{font-size:12px;max-width:220px;overflow-wrap:anywhere}
#failures td.fields{min-width:240px;max-width:380px}.scroll{overflow-x:auto}
#failures td.scores{white-space:nowrap;max-width:none}
td.prompt{max-width:360px;font-family:ui-monospace,monospace;white-space:pre-wrap}
.demo{display:flex;gap:4px;margin-bottom:4px}td.demos{min-width:200px;max-width:320px}
pre{white-space:pre-wrap;font-size:12px}nav a{margin-right:12px;font-size:13px}
"""

SCRIPT = """
function applyFilters(){
  var task=document.getElementById('f-task').value;
  var errorsOnly=document.getElementById('f-errors').checked;
  var maxText=document.getElementById('f-max').value;
  var max=maxText===''?NaN:parseFloat(maxText);
  var query=document.getElementById('f-text').value.toLowerCase();
  var rows=document.querySelectorAll('#failures tbody tr');var shown=0;
  for(var i=0;i<rows.length;i++){
    var r=rows[i];var ok=true;
    if(task&&r.getAttribute('data-task')!==task)ok=false;
    if(errorsOnly&&r.getAttribute('data-error')!=='1')ok=false;
    if(!isNaN(max)){var s=r.getAttribute('data-score');
      if(s===''||parseFloat(s)>max)ok=false;}
    if(query&&r.textContent.toLowerCase().indexOf(query)<0)ok=false;
    r.style.display=ok?'':'none';if(ok)shown++;
  }
  document.getElementById('f-count').textContent=shown+' of '+rows.length+' shown';
}
document.addEventListener('DOMContentLoaded',applyFilters);
"""


def _table(header: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    """An HTML table; cells are pre-escaped HTML strings."""
    numeric = numeric or set()
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{cell}</td>' if i in numeric else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _run_summary(results: RunResults, where: Path) -> str:
    model = results.model
    manifest = results.manifest
    git = manifest.get("git", {})
    packages = manifest.get("packages", {})
    device = manifest.get("device", {})
    items = [
        ("run directory", str(where)),
        (
            "model",
            f"{checkpoint_label(results)} (fingerprint {str(model.get('fingerprint', ''))[:12]})",
        ),
        *(("settings", line) for line in settings_line(results)),
        ("model args", json.dumps(results.model_args)),
        ("limit", str(results.limit or "none (all documents)")),
        ("created", str(manifest.get("created", ""))),
        ("git", f"{str(git.get('commit'))[:12]}{' (dirty)' if git.get('dirty') else ''}"),
        ("seed", str(manifest.get("seed"))),
        (
            "packages",
            ", ".join(f"{k} {v}" for k, v in packages.items() if v and k in _SHOWN_PACKAGES),
        ),
        ("device", ", ".join(str(v) for v in [device.get("platform"), *device.get("gpus", [])])),
    ]
    return "".join(
        f'<div class="meta"><b>{escape(k)}:</b> {escape(v)}</div>' for k, v in items if v
    )


_SHOWN_PACKAGES = ("emu2_eval", "torch", "transformers", "pycocoevalcap", "numpy")


def _results_section(results: RunResults) -> str:
    from emu2_eval.reporting.tables import (
        confidence_label,
        display_rows,
        interval_notes,
        protocol_notes,
    )

    label = confidence_label(results)
    rows = []
    for row in display_rows(results):
        method = str(row.get("interval_method") or "")
        kind = "approximation" if method.startswith("approximation") else "exact"
        if not method or method.startswith(("not ", "none")):
            kind = "n/a"
        rows.append(
            [
                escape(str(row["task"])),
                *(escape(str(row[c])) for c in SETTING_COLUMNS),
                escape(str(row["metric"])),
                escape(row["shown"]),
                escape(str(row["units"])),
                escape(str(row["n"])),
                escape(str(row["errors"])),
                f'<span title="{escape(method)}">{escape(kind)}</span>',
            ]
        )
    shown = interval_notes(results) + protocol_notes(results)
    notes = "".join(f'<p class="note">{escape(n)}</p>' for n in shown)
    header = ["task", *SETTING_COLUMNS, "metric", f"value [{label}]", "units", "n", "errors"]
    header.append("interval")
    table = _table(header, rows, numeric={1, 4, 7, 9, 10})
    return f'<h2 id="results">Results</h2>{table}{notes}'


def _groups_section(results: RunResults, samples: Mapping[str, list[dict[str, Any]] | None]) -> str:
    from emu2_eval.reporting.groups import groups_label
    from emu2_eval.reporting.tables import confidence_label, groups_table

    groups = groups_table(results, samples)
    if groups.empty:
        return _task_groups_section(results, samples)
    rows = [
        [
            escape(str(r.task)),
            escape(str(r.group_by)),
            escape(str(r.group)),
            escape(fmt_interval(r.value, _none(r.low), _none(r.high))),
            escape("n/a" if _none(r.n) is None else str(int(r.n))),
        ]
        for r in groups.itertuples(index=False)
    ]
    header = ["task", "group_by", "group", f"value [{confidence_label(results)}]", "n"]
    return (
        f"<h2>Groups</h2><details><summary>{escape(groups_label(groups))} "
        f"({len(rows)} rows)</summary>{_table(header, rows, numeric={3, 4})}</details>"
    ) + _task_groups_section(results, samples)


def _task_groups_section(
    results: RunResults, samples: Mapping[str, list[dict[str, Any]] | None]
) -> str:
    """Task groups' aggregate rows: the unweighted mean over each group's tasks."""
    from emu2_eval.reporting.tables import confidence_label, task_groups_table

    table = task_groups_table(results, samples)
    if table.empty:
        return ""
    rows = [
        [
            escape(str(r["group"])),
            escape(str(r["metric"])),
            escape(fmt_interval(r["value"], _none(r["low"]), _none(r["high"]))),
            escape(str(r["units"])),
            escape(str(r["tasks"])),
            escape(str(r["interval"])),
        ]
        for r in table.to_dict("records")
    ]
    header = ["group", "metric", f"value [{confidence_label(results)}]", "units", "tasks",
              "interval"]  # fmt: skip
    return (
        '<h2 id="task-groups">Task groups</h2><p class="note">Unweighted mean over the '
        f"group's tasks.</p>{_table(header, rows, numeric={2})}"
    )


def _none(value: Any) -> Any:
    """pandas' NaN/NA as None (for :func:`fmt_interval`)."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    return value


def _paper_section(results: RunResults, paper_model: str | None) -> str:
    if not paper_model:
        return ""
    from emu2_eval.reporting.paper import reproduction_table
    from emu2_eval.reporting.tables import comparison_verdict

    table = reproduction_table(results, paper_model)
    if table.empty:
        return (
            f"<h2>Paper ({escape(paper_model)})</h2><p>No task of this run names a paper row "
            "(<code>reference:</code> in its YAML).</p>"
        )
    rows = []
    for r in table.to_dict("records"):
        inside = r["paper_in_interval"]
        mark = {True: '<span class="ok">yes</span>', False: '<span class="bad">no</span>'}.get(
            inside, "n/a"
        )
        if r["comparable"] is False:
            mark = f'<span class="bad">{escape(comparison_verdict(r))}</span>'
        rows.append(
            [
                escape(str(r["task"])),
                escape(str(r["benchmark"])),
                escape(str(r["measured_split"])),
                escape(str(r["paper_split"])),
                escape(str(r["metric"])),
                escape(str(r["shots"])),
                escape(fmt_interval(r["measured"], r["low"], r["high"])),
                escape(fmt(r["paper"])),
                escape(fmt(r["diff"])),
                mark,
                escape(str(r["source"])),
            ]
        )
    header = [
        "task",
        "paper benchmark",
        "measured split",
        "paper split",
        "metric",
        "shots",
        "measured [CI]",
        "paper",
        "diff",
        "paper in CI",
        "source",
    ]
    return (
        f"<h2>Reproduction of {escape(paper_model)}</h2>"
        f"{_table(header, rows, numeric={5, 6, 7, 8})}"
        '<p class="note">Paper numbers: results/paper/ (typed in from the Emu2 paper). The '
        "paper publishes no uncertainty; 'paper in CI' asks whether its number lies inside "
        "this run's bootstrap interval.</p>"
    )


def _outcomes(block: TaskResult, records: list[dict[str, Any]]):
    """Per-doc outcome of the task's first metric with a resampler, and what it means."""
    from emu2_eval.scoring.stats.intervals import scored_docs
    from emu2_eval.scoring.stats.resamplers import resampler_class

    for name in block.metric_options:
        cls = resampler_class(name)
        if cls is not None:
            docs = scored_docs(records)
            values = cls.sample_outcomes(docs) if docs else np.zeros(0)
            scale = score_scale(block, name, list(values))
            return dict(zip([d.doc_id for d in docs], values, strict=True)), cls, scale
    return {}, None, 1.0


def _failure_rows(
    task: str,
    block: TaskResult,
    records: list[dict[str, Any]],
    limit: int,
    run_dir: Path | None = None,
) -> tuple[list[str], int, str]:
    """<tr> strings of the task's failures (errors first, then lowest outcome first).

    A task with no per-sample pass/fail rule (generation, corpus metrics) has only its errors
    here: its samples are not failures and are shown under Samples."""
    outcomes, cls, scale = _outcomes(block, records)
    scales = sample_scales(block, records)
    perfect = cls.perfect if cls is not None else None
    errored = [r for r in records if r.get("error") is not None]
    scored = [r for r in records if r.get("error") is None]
    wrong = [
        r
        for r in scored
        if perfect is not None and not outcomes.get(str(r["doc_id"]), np.nan) >= perfect
    ]
    wrong.sort(key=lambda r: _sort_key(outcomes.get(str(r["doc_id"]))))
    chosen = (errored + wrong)[:limit]
    row = _row_maker(task, block, run_dir, scales)
    rows = [row(r, _scaled(outcomes.get(str(r["doc_id"])), scale)) for r in chosen]
    label = cls.sample_label if cls is not None else "score"
    if scale == 100.0:
        label = label.replace("(0-1)", "").strip() + " (%, as in the tables)"
    if perfect is None:
        what = f"{task}: no per-sample pass/fail rule, so failures = errors only (see Samples)"
    else:
        what = f"{task}: {label}; failures = errors + outcome below {scale * perfect:g}"
    return rows, len(errored) + len(wrong), what


def _row_maker(task: str, block: TaskResult, run_dir: Path | None, scales: Any):
    """A function record, outcome -> <tr>, with the task's image directories resolved once."""
    config = block.config
    dirs = dataset_dirs(config)
    demo_dirs = dataset_dirs(config, "fewshot") + dirs

    def row(record: dict[str, Any], outcome: Any) -> str:
        return _failure_row(task, record, outcome, dirs, scales, run_dir, demo_dirs)

    return row


def _scaled(value: Any, scale: float) -> Any:
    return None if value is None else float(value) * scale


def _sort_key(value: Any) -> float:
    return float("inf") if value is None or np.isnan(value) else float(value)


def _failure_row(
    task: str,
    record: dict[str, Any],
    outcome: Any,
    dirs: list[Path],
    scales: Mapping[str, float] | None = None,
    run_dir: Path | None = None,
    demo_dirs: list[Path] | None = None,
) -> str:
    error = record.get("error")
    fields = record.get("doc") or {}
    image = doc_image(fields, dirs)
    uri = thumbnail_uri(str(image)) if image is not None else None
    picture = f'<img src="{uri}" alt="input image" width="80">' if uri else "—"
    field_lines = "<br>".join(
        f"<b>{escape(str(k))}</b>: {escape(short(v, 200))}"
        for k, v in fields.items()
        if not looks_like_image(v)
    )
    scales = scales or {}
    scores = "<br>".join(
        escape(f"{k}={fmt(v * scales.get(k, 1.0) if isinstance(v, int | float) else v)}")
        for k, v in (record.get("scores") or {}).items()
    )
    score_text = "" if outcome is None or np.isnan(outcome) else f"{float(outcome):g}"
    error_text = f"{error.get('type', '')}: {error.get('message', '')}" if error else ""
    cells = [
        escape(task),
        escape(str(record.get("doc_id"))),
        picture,
        f'<td class="prompt">{escape(short(record.get("prompt", ""), 600))}</td>',
        _demonstrations_cell(record, demo_dirs or dirs),
        f'<td class="fields">{field_lines}</td>',
        _response_cell(record.get("response"), run_dir),
        _response_cell(record.get("filtered"), None if record.get("response") else run_dir),
        f'<td class="num">{escape(score_text)}</td>',
        f'<td class="scores">{scores}</td>',
        f'<span class="bad">{escape(error_text)}</span>' if error else "",
    ]
    tds = "".join(c if c.startswith("<td") else f"<td>{c}</td>" for c in cells)
    css = ' class="err"' if error else ""
    return (
        f'<tr data-task="{escape(task)}" data-error="{1 if error else 0}" '
        f'data-score="{escape(score_text)}"{css}>{tds}</tr>'
    )


def _demonstrations_cell(record: dict[str, Any], dirs: list[Path]) -> str:
    """The few-shot demonstrations in prompt order: thumbnail and text fields of each."""
    demos = record.get("demonstration_docs") or []
    if not demos:
        ids = record.get("demonstrations") or []
        return f'<td class="demos">{escape(", ".join(map(str, ids))) if ids else "—"}</td>'
    parts = []
    for fields in demos:
        image = doc_image(fields, dirs)
        uri = thumbnail_uri(str(image), 96) if image is not None else None
        picture = f'<img src="{uri}" alt="demonstration image" width="64">' if uri else ""
        text = "; ".join(
            f"{k}: {short(v, 80)}" for k, v in fields.items() if not looks_like_image(v)
        )
        parts.append(f'<div class="demo">{picture}<span>{escape(short(text, 240))}</span></div>')
    return f'<td class="demos">{"".join(parts)}</td>'


def _response_cell(response: Any, run_dir: Path | None) -> str:
    """A generated image's thumbnail (not its JSON record), or the response text; an image
    reference without ``run_dir`` (the filtered copy of a shown image) reads as its file name."""
    images = generated_images(response, run_dir) if run_dir is not None else []
    if run_dir is None and isinstance(response, list | dict):
        names = [Path(t).name for t in _image_names(response)]
        if names:
            return escape(", ".join(names))
    uris = [u for u in (thumbnail_uri(str(p), 160) for p in images) if u]
    if uris:
        return "".join(f'<img src="{u}" alt="generated image" width="120">' for u in uris)
    return escape(short(response, 300))


def _image_names(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if looks_like_image(value) else []
    if isinstance(value, Mapping):
        value = list(value.values())
    if not isinstance(value, list | tuple):
        return []
    return [n for item in value for n in _image_names(item)]


def _task_samples(
    run_dir: Path, task: str, samples: Mapping[str, list[dict[str, Any]]] | None
) -> list[dict[str, Any]] | None:
    """The task's per-sample records: in memory when the caller has them (a run that just
    wrote them), else read from ``samples_<task>.jsonl``; None when neither exists."""
    from emu2_eval.rundir.read import read_samples

    if samples is not None and task in samples:
        return samples[task]
    path = run_dir / f"samples_{task}.jsonl"
    return read_samples(path) if path.is_file() else None


def _failures_section(
    results: RunResults,
    run_dir: Path,
    limit: int,
    samples: Mapping[str, list[dict[str, Any]]] | None = None,
) -> str:
    rows: list[str] = []
    notes: list[str] = []
    tasks = list(results.tasks)
    for task, block in results.tasks.items():
        records = _task_samples(run_dir, task, samples)
        if records is None:
            notes.append(f"{task}: samples_{task}.jsonl not found, no samples to show")
            continue
        task_rows, total, what = _failure_rows(task, block, records, limit, run_dir)
        rows += task_rows
        notes.append(f"{what} ({total} in all, {len(task_rows)} shown)")
    options = "".join(f'<option value="{escape(t)}">{escape(t)}</option>' for t in tasks)
    controls = (
        '<div class="controls">'
        f'<label>task <select id="f-task" onchange="applyFilters()"><option value="">all'
        f"</option>{options}</select></label>"
        '<label><input type="checkbox" id="f-errors" onchange="applyFilters()"> errors only'
        "</label>"
        '<label>score &le; <input type="number" id="f-max" step="any" style="width:6em" '
        'oninput="applyFilters()"></label>'
        '<label>search <input type="search" id="f-text" placeholder="doc id, answer, prompt" '
        'oninput="applyFilters()"></label><span id="f-count"></span></div>'
    )
    head = "".join(f"<th>{escape(h)}</th>" for h in ROW_HEADER)
    table = (
        f'<table id="failures"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )
    note_html = "".join(f'<p class="note">{escape(n)}</p>' for n in notes)
    return f'<h2 id="failures-h">Failures</h2>{note_html}{controls}{table}'


ROW_HEADER = [
    "task",
    "doc",
    "image",
    "prompt",
    "demonstrations",
    "doc fields",
    "response",
    "filtered",
    "outcome",
    "scores",
    "error",
]


def _samples_section(
    results: RunResults,
    run_dir: Path,
    limit: int,
    samples: Mapping[str, list[dict[str, Any]]] | None = None,
) -> str:
    """The first ``limit`` scored samples of each task, right or wrong: inputs, demonstrations,
    the response (the generated image for generation tasks) and its scores."""
    rows: list[str] = []
    for task, block in results.tasks.items():
        records = _task_samples(run_dir, task, samples) or []
        outcomes, _, scale = _outcomes(block, records)
        row = _row_maker(task, block, run_dir, sample_scales(block, records))
        scored = [r for r in records if r.get("error") is None][:limit]
        rows += [row(r, _scaled(outcomes.get(str(r["doc_id"])), scale)) for r in scored]
    if not rows:
        return ""
    head = "".join(f"<th>{escape(h)}</th>" for h in ROW_HEADER)
    return (
        f'<h2 id="samples-h">Samples</h2><p class="note">The first {limit} scored samples of '
        "each task (errors are under Failures).</p><details><summary>"
        f'{len(rows)} samples</summary><div class="scroll"><table id="samples"><thead><tr>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div></details>"
    )


def _generated_section(
    results: RunResults,
    run_dir: Path,
    limit: int,
    samples: Mapping[str, list[dict[str, Any]]] | None = None,
) -> str:
    figures = []
    for task, block in results.tasks.items():
        if block.request != "generate_images":
            continue
        for record in _task_samples(run_dir, task, samples) or []:
            for image in generated_images(record.get("response"), run_dir):
                uri = thumbnail_uri(str(image), 256)
                if uri and len(figures) < limit:
                    caption = f"{task} / {record.get('doc_id')}: {short(record.get('prompt'), 140)}"
                    figures.append(
                        f'<figure><img src="{uri}" alt="generated image">'
                        f"<figcaption>{escape(caption)}</figcaption></figure>"
                    )
    if not figures:
        return ""
    return f'<h2>Generated images</h2><div class="grid">{"".join(figures)}</div>'


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>{body}<script>{SCRIPT}</script></body></html>\n"
    )


def html_report(
    results: Mapping[str, Any] | RunResults,
    run_dir: Path,
    paper_model: str | None = None,
    max_failures: int = 200,
    max_generated: int = 48,
    max_samples: int = 24,
    samples: Mapping[str, list[dict[str, Any]]] | None = None,
) -> str:
    """The HTML report of one run directory (see the module docstring); ``samples`` (task ->
    per-sample records) spares re-reading the samples files the caller has just written."""
    run_dir = Path(run_dir)
    results = as_run_results(results, results_path(run_dir))
    model = checkpoint_label(results)
    manifest = json.dumps(results.manifest, indent=2, default=str)
    sweep_plot = ""
    if (run_dir / "sweep.png").is_file():
        uri = png_uri(run_dir / "sweep.png")
        sweep_plot = f'<h2>Few-shot sweep</h2><img src="{uri}" alt="few-shot sweep plot">'
    sections = [
        ("results", "Results"),
        ("samples-h", "Samples"),
        ("failures-h", "Failures"),
        ("manifest", "Manifest"),
    ]
    nav = "<nav>" + "".join(f'<a href="#{a}">{t}</a>' for a, t in sections) + "</nav>"
    body = (
        f"<h1>emu2_eval report: {escape(model)}</h1>"
        + nav
        + _run_summary(results, run_dir)
        + _results_section(results)
        + _paper_section(results, paper_model)
        + _groups_section(results, {t: _task_samples(run_dir, t, samples) for t in results.tasks})
        + sweep_plot
        + _generated_section(results, run_dir, max_generated, samples)
        + _samples_section(results, run_dir, max_samples, samples)
        + _failures_section(results, run_dir, max_failures, samples)
        + '<h2 id="manifest">Manifest</h2><details><summary>results.json manifest</summary>'
        + f"<pre>{escape(manifest)}</pre></details>"
    )
    return _page(f"emu2_eval: {model} ({run_dir.name})", body)


def sweep_html_report(sweep_dir: Path, paper_model: str | None = None) -> str:
    """The HTML report of a ``sweep`` output: summary table, plot, every cell's results."""
    from emu2_eval.rundir.read import load_run

    sweep_dir = Path(sweep_dir)
    summary_path = sweep_dir / "sweep_summary.csv"
    if not summary_path.is_file():
        raise FileNotFoundError(f"{summary_path} not found: {sweep_dir} is not a sweep directory")
    summary = pd.read_csv(summary_path)
    rows = [
        [escape(fmt(v) if isinstance(v, float) else str(v)) for v in r]
        for r in summary.itertuples(index=False)
    ]
    parts = [
        f"<h1>emu2_eval sweep report: {escape(sweep_dir.name)}</h1>",
        f'<div class="meta"><b>sweep directory:</b> {escape(str(sweep_dir))}</div>',
        "<h2>Summary (mean and std over seeds)</h2>",
        _table(list(summary.columns), rows),
    ]
    if (sweep_dir / "sweep.png").is_file():
        uri = png_uri(sweep_dir / "sweep.png")
        parts.append(f'<h2>Few-shot plot</h2><img src="{uri}" alt="few-shot sweep plot">')
    for cell_file in sorted((sweep_dir / "cells").glob("*/*/results.json")):
        cell = load_run(cell_file.parent)
        name = f"{cell_file.parent.parent.name} / {cell_file.parent.name}"
        parts.append(f"<h2>Cell {escape(name)}</h2>")
        parts.append(_results_section(cell.typed).replace('<h2 id="results">Results</h2>', ""))
        parts.append(_paper_section(cell.typed, paper_model))
    return _page(f"emu2_eval sweep: {sweep_dir.name}", "".join(parts))

"""Finish a GPT-judged task of a run: the official submission file, then (opt-in) the judge.

Reads the run's samples (checked against results.json) and the task's dataset (for the complete,
ordered list of questions the official files need), writes ``submission_<task>.json`` (MM-Vet)
or ``.tsv`` (TouchStone) in the run directory, and, only when :class:`JudgeSettings` are given,
grades every answer and writes ``judge_<task>.json``: the judge settings (endpoint, model, key
variable name), the protocol, every reply and score, and the summary scores.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from emu2_eval.core.errors import UserError
from emu2_eval.judge import mmvet, touchstone
from emu2_eval.judge.client import ChatJudge, JudgeSettings
from emu2_eval.rundir.read import load_run
from emu2_eval.rundir.schema import TaskResult, results_path


class JudgeTaskError(UserError, ValueError):
    """The run or task cannot be finished (not a GPT-judged task, answers missing...)."""


def _benchmark(block: TaskResult, run_dir: Path, task: str) -> str:
    options = block.metric_options.get("gpt_judge") or {}
    if "benchmark" not in options:
        raise JudgeTaskError(
            f"{results_path(run_dir)}: task {task!r} has no gpt_judge metric; "
            "`emu2-eval judge` serves MM-Vet and TouchStone tasks (chat_mmvet, chat_touchstone)"
        )
    return str(options["benchmark"])


def _responses(records: list[dict[str, Any]], run_dir: Path, task: str) -> dict[str, str]:
    failed = [str(r["doc_id"]) for r in records if r.get("error") is not None]
    if failed:
        raise JudgeTaskError(
            f"{run_dir}/samples_{task}.jsonl: {len(failed)} sample(s) failed "
            f"({', '.join(failed[:5])}); re-run the task so that every question has an answer"
        )
    return {str(r["doc_id"]): str(r.get("filtered", r.get("response", ""))) for r in records}


def finish(run_dir: str | Path, task: str, judge: JudgeSettings | None = None) -> dict[str, Any]:
    """Write the submission file (and grade it with ``judge``); returns what was written."""
    from emu2_eval.tasks.registry import get_task

    run_dir = Path(run_dir)
    run = load_run(run_dir)
    block = run.task(task)
    benchmark = _benchmark(block, run_dir, task)
    responses = _responses(run.samples(task), run_dir, task)
    docs = get_task(task).load().docs
    out: dict[str, Any] = {"task": task, "benchmark": benchmark}
    try:
        if benchmark == "mmvet":
            out["submission"] = str(run_dir / f"submission_{task}.json")
            mmvet.write_results(responses, [d.doc_id for d in docs], Path(out["submission"]))
        else:
            out["submission"] = str(run_dir / f"submission_{task}.tsv")
            rows = [{"index": d.doc_id, **d.fields} for d in docs]
            touchstone.write_submission(rows, responses, Path(out["submission"]))
    except ValueError as exc:
        raise JudgeTaskError(f"{run_dir} task {task!r}: {exc}") from None
    if judge is None:
        return out
    client = ChatJudge(judge)
    if benchmark == "mmvet":
        grades = {
            d.doc_id: mmvet.grade(client, d["question"], d["answer"], responses[d.doc_id])
            for d in docs
        }
        scores = mmvet.summarize(
            {k: g["score"] for k, g in grades.items()}, {d.doc_id: d["capability"] for d in docs}
        )
        protocol = mmvet.PROTOCOL
    else:
        grades = {
            d.doc_id: touchstone.grade(client, {"index": d.doc_id, **d.fields}, responses[d.doc_id])
            for d in docs
        }
        scores = touchstone.summarize(grades, {d.doc_id: d["category"] for d in docs})
        protocol = touchstone.PROTOCOL
    out.update(judge=judge.record(), protocol=protocol, scores=scores, per_sample=grades)
    path = run_dir / f"judge_{task}.json"
    path.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    out["judge_file"] = str(path)
    return out

"""The settings a reader needs beside every number: checkpoint, shots, prompt, strategy, seed,
how demonstrations were made (``demos``: RICES encoder and its weights hash, one example per
image or per question, which crowd answer a demonstration shows) and scorer (the metric's
convention, e.g. the VQA accuracy variant).

results.json records them per task; every table format shows them from here so that a score is
never read without the setting that produced it (a 0-shot and an 8-shot number look alike).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from emu2_eval.rundir.schema import RunResults, TaskResult, as_run_results, as_task_result

SETTING_COLUMNS = ["shots", "prompt", "strategy", "seed", "demos", "scorer"]
_SOURCE_KEYS = ("pretrained", "path", "checkpoint", "model", "model_id", "repo_id")


def checkpoint_label(results: Mapping[str, Any] | RunResults) -> str:
    """``adapter (checkpoint)``: the adapter name plus the basename of the weights it loaded
    (a local path or a hub id such as ``BAAI/Emu2`` -> ``Emu2``); the adapter alone when none."""
    run = as_run_results(results)
    name = str(run.model.get("name", ""))
    info, args = run.model_info, run.model_args
    for source in [info.get(k) for k in _SOURCE_KEYS] + [args.get(k) for k in _SOURCE_KEYS]:
        if isinstance(source, str) and source.strip("/"):
            base = PurePosixPath(source.replace("\\", "/").rstrip("/")).name
            return name if base == name else f"{name} ({base})"
    return name


def demos_setting(fewshot: Mapping[str, Any]) -> str:
    """``clip@1a2b3c4d, per image, answer first``: the few-shot options of a run with
    demonstrations ('' without); options a results.json predating them does not record are left
    out, never guessed."""
    if not (fewshot.get("shots") or fewshot.get("zero_shot_text_examples")):
        return ""
    parts = []
    if fewshot.get("strategy") == "rices" and fewshot.get("encoder"):
        identity = str(fewshot.get("encoder_fingerprint") or "")
        digest = identity.rpartition("-")[2][:8]
        parts.append(f"{fewshot['encoder']}@{digest}" if digest else str(fewshot["encoder"]))
    if "one_example_per_image" in fewshot:
        parts.append("per image" if fewshot["one_example_per_image"] else "per question")
    if fewshot.get("demo_answer"):
        parts.append(f"answer {fewshot['demo_answer']}")
    return ", ".join(parts)


def scorers(block: TaskResult | Mapping[str, Any]) -> dict[str, str]:
    """``{metric name: scoring convention}`` of a task block: its ``scorer`` key, or for a run
    directory written before that key existed, derived from the recorded ``metric_options``."""
    block = as_task_result(block)
    if block.scorer is not None:
        return {str(k): str(v) for k, v in block.scorer.items()}
    from emu2_eval.scoring.metrics.base import scorer_label

    return {name: scorer_label(name, opts or {}) for name, opts in block.metric_options.items()}


def scorer_text(block: TaskResult | Mapping[str, Any], metric_key: str | None = None) -> str:
    """The scorer of one table row: that of the metric which produced ``metric_key`` (named by
    its interval record), else the task's: ``official`` for one metric, ``name: label; ...``."""
    block = as_task_result(block)
    scorer = scorers(block)
    if metric_key is not None:
        producer = block.interval(metric_key).get("metric")
        if producer in scorer:
            return scorer[producer]
    if len(scorer) == 1:
        return next(iter(scorer.values()))
    return "; ".join(f"{name}: {label}" for name, label in scorer.items())


def task_settings(block: TaskResult | Mapping[str, Any]) -> dict[str, Any]:
    """Shots, prompt profile, few-shot strategy, seed, demonstration options and scorer of one
    task block of results.json."""
    block = as_task_result(block)
    fewshot = block.fewshot
    shots = fewshot.get("shots")
    name = block.prompt_name
    profile = block.prompt_profile
    version = profile.get("version") if isinstance(profile, Mapping) else None
    prompt = f"{name} v{version}" if name and version not in (None, "") else (name or "")
    strategy = fewshot.get("strategy") if shots else None
    return {
        "shots": shots if shots is not None else "",
        "prompt": prompt,
        "strategy": strategy or ("none" if shots == 0 else ""),
        "seed": fewshot.get("seed", ""),
        "demos": demos_setting(fewshot),
        "scorer": scorer_text(block),
    }


def settings_line(results: Mapping[str, Any] | RunResults) -> list[str]:
    """One line per task: ``task: N-shot, prompt P, strategy S, seed K[, demos D], scorer X``
    (for captions/headers)."""
    lines = []
    for task, block in as_run_results(results).tasks.items():
        s = task_settings(block)
        demos = f", demos {s['demos']}" if s["demos"] else ""
        lines.append(
            f"{task}: {s['shots']}-shot, prompt {s['prompt'] or 'n/a'}, "
            f"strategy {s['strategy'] or 'n/a'}, seed {s['seed']}{demos}, "
            f"scorer {s['scorer'] or 'n/a'}"
        )
    return lines

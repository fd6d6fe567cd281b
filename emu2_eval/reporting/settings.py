"""The settings a reader needs beside every number: checkpoint, shots, prompt, strategy, seed
and scorer (the metric's convention, e.g. the VQA accuracy variant).

results.json records them per task; every table format shows them from here so that a score is
never read without the setting that produced it (a 0-shot and an 8-shot number look alike).
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

SETTING_COLUMNS = ["shots", "prompt", "strategy", "seed", "scorer"]
_SOURCE_KEYS = ("pretrained", "path", "checkpoint", "model", "model_id", "repo_id")


def checkpoint_label(results: dict[str, Any]) -> str:
    """``adapter (checkpoint)``: the adapter name plus the basename of the weights it loaded
    (a local path or a hub id such as ``BAAI/Emu2`` -> ``Emu2``); the adapter alone when none."""
    model = results.get("model", {}) or {}
    name = str(model.get("name", ""))
    info = model.get("info") or {}
    args = model.get("args") or {}
    for source in [info.get(k) for k in _SOURCE_KEYS] + [args.get(k) for k in _SOURCE_KEYS]:
        if isinstance(source, str) and source.strip("/"):
            base = PurePosixPath(source.replace("\\", "/").rstrip("/")).name
            return name if base == name else f"{name} ({base})"
    return name


def scorer_text(block: dict[str, Any]) -> str:
    """The task's scorer setting: ``official`` for one metric, ``name=label; ...`` for several.

    Read from ``scorer`` in the task block (``{metric: label}``); a run directory written before
    that key existed gets it from the recorded ``metric_options``.
    """
    scorer = block.get("scorer")
    if not isinstance(scorer, dict):
        from emu2_eval.metrics.base import scorer_label

        options = block.get("metric_options") or {}
        scorer = {name: scorer_label(name, opts or {}) for name, opts in options.items()}
    if len(scorer) == 1:
        return str(next(iter(scorer.values())))
    return "; ".join(f"{name}={label}" for name, label in scorer.items())


def task_settings(block: dict[str, Any]) -> dict[str, Any]:
    """Shots, prompt profile, few-shot strategy, seed and scorer of one task block."""
    fewshot = block.get("fewshot") or {}
    profile = block.get("prompt_profile") or {}
    shots = fewshot.get("shots")
    name = profile.get("name") if isinstance(profile, dict) else profile
    version = profile.get("version") if isinstance(profile, dict) else None
    prompt = f"{name} v{version}" if name and version not in (None, "") else (name or "")
    strategy = fewshot.get("strategy") if shots else None
    return {
        "shots": shots if shots is not None else "",
        "prompt": prompt,
        "strategy": strategy or ("none" if shots == 0 else ""),
        "seed": fewshot.get("seed", ""),
        "scorer": scorer_text(block),
    }


def settings_line(results: dict[str, Any]) -> list[str]:
    """One line per task: ``task: N-shot, prompt P, strategy S, seed K, scorer X`` (headers)."""
    lines = []
    for task, block in results.get("tasks", {}).items():
        s = task_settings(block)
        lines.append(
            f"{task}: {s['shots']}-shot, prompt {s['prompt'] or 'n/a'}, "
            f"strategy {s['strategy'] or 'n/a'}, seed {s['seed']}, scorer {s['scorer'] or 'n/a'}"
        )
    return lines

"""The settings a reader needs beside every number: checkpoint, shots, prompt, strategy, seed,
how demonstrations were made (``demos``: RICES encoder and its weights hash, one example per
image or per question, which crowd answer a demonstration shows) and scorer (the metric's
convention, e.g. the VQA accuracy variant).

results.json records them per task; every table format shows them from here so that a score is
never read without the setting that produced it (a 0-shot and an 8-shot number look alike).
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

SETTING_COLUMNS = ["shots", "prompt", "strategy", "seed", "demos", "scorer"]
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


def demos_setting(fewshot: dict[str, Any]) -> str:
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


def scorers(block: dict[str, Any]) -> dict[str, str]:
    """``{metric name: scoring convention}`` of a task block: its ``scorer`` key, or for a run
    directory written before that key existed, derived from the recorded ``metric_options``."""
    scorer = block.get("scorer")
    if isinstance(scorer, dict):
        return {str(k): str(v) for k, v in scorer.items()}
    from emu2_eval.scoring.metrics.base import scorer_label

    options = block.get("metric_options") or {}
    return {name: scorer_label(name, opts or {}) for name, opts in options.items()}


def scorer_text(block: dict[str, Any], metric_key: str | None = None) -> str:
    """The scorer of one table row: that of the metric which produced ``metric_key`` (named by
    its interval record), else the task's: ``official`` for one metric, ``name: label; ...``."""
    scorer = scorers(block)
    if metric_key is not None:
        producer = ((block.get("intervals") or {}).get(metric_key) or {}).get("metric")
        if producer in scorer:
            return scorer[producer]
    if len(scorer) == 1:
        return next(iter(scorer.values()))
    return "; ".join(f"{name}: {label}" for name, label in scorer.items())


def task_settings(block: dict[str, Any]) -> dict[str, Any]:
    """Shots, prompt profile, few-shot strategy, seed, demonstration options and scorer of one
    task block of results.json."""
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
        "demos": demos_setting(fewshot),
        "scorer": scorer_text(block),
    }


def settings_line(results: dict[str, Any]) -> list[str]:
    """One line per task: ``task: N-shot, prompt P, strategy S, seed K[, demos D], scorer X``
    (for captions/headers)."""
    lines = []
    for task, block in results.get("tasks", {}).items():
        s = task_settings(block)
        demos = f", demos {s['demos']}" if s["demos"] else ""
        lines.append(
            f"{task}: {s['shots']}-shot, prompt {s['prompt'] or 'n/a'}, "
            f"strategy {s['strategy'] or 'n/a'}, seed {s['seed']}{demos}, "
            f"scorer {s['scorer'] or 'n/a'}"
        )
    return lines

"""What differs between two runs' settings: the first thing to read when their scores differ.

Package versions, git commit, seed, device, model (name, arguments, fingerprint) and per task the
prompt profile, generation settings, filters, metric options, few-shot settings, dataset
fingerprint and config hash are flattened to dotted keys and compared.  Fields that differ
between any two runs without meaning anything (creation time, command line, cache path, load
time) are left out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

#: Dotted keys (or prefixes) that always differ and explain nothing.
IGNORED = (
    "manifest.created",
    "manifest.command",
    "run.cache",
    "model.info.load_seconds",
)
_MISSING = "(absent)"


def flatten(value: Any, prefix: str) -> dict[str, Any]:
    """Nested mappings to ``{"a.b.c": leaf}``; lists stay leaves (compared as a whole)."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def run_settings(results: Mapping[str, Any]) -> dict[str, Any]:
    """The settings of a results.json that can explain a score difference, flattened."""
    manifest = results.get("manifest", {})
    settings: dict[str, Any] = {}
    settings.update(flatten(results.get("model", {}), "model"))
    settings.update(flatten(results.get("run", {}), "run"))
    for key in ("seed", "packages", "git", "device"):
        settings.update(flatten(manifest.get(key), f"manifest.{key}"))
    for task, block in results.get("tasks", {}).items():
        config = block.get("config", {})
        relevant = {
            "config_hash": block.get("config_hash"),
            "request": config.get("request"),
            "prompt_profile": block.get("prompt_profile"),
            "generation": config.get("generation"),
            "continuations": config.get("continuations"),
            "filters": block.get("filters"),
            "metric_options": block.get("metric_options"),
            "fewshot": block.get("fewshot"),
            "dataset_fingerprint": block.get("dataset", {}).get("fingerprint"),
            "n_samples": block.get("n_samples"),
        }
        settings.update(flatten(relevant, f"task.{task}"))
    return {
        key: value
        for key, value in settings.items()
        if not any(key == ignored or key.startswith(ignored + ".") for ignored in IGNORED)
    }


def settings_diff(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """Rows (setting, value in A, value in B) for every setting that differs, sorted."""
    left, right = run_settings(a), run_settings(b)
    rows = []
    for key in sorted(set(left) | set(right)):
        va, vb = left.get(key, _MISSING), right.get(key, _MISSING)
        if va != vb:
            rows.append((key, show(va), show(vb)))
    return rows


def show(value: Any, width: int = 80) -> str:
    """A short printable form of a setting value."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"

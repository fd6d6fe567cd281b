"""The evaluation loop: docs -> requests -> (cache | model, batched) -> records -> scores.

Order of work never changes results: batches are formed in doc order, responses are stored by
content key, and a request that fails because of its data (an unreadable image, a prompt field
that is missing) is recorded as that sample's error while the run goes on.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from emu2_eval.data.docs import Doc
from emu2_eval.data.roots import cache_home
from emu2_eval.engine.cache import ResponseCache, cache_key
from emu2_eval.engine.scoring import score_records
from emu2_eval.fewshot.feature_store import FeatureStore
from emu2_eval.models.base import ModelAdapter
from emu2_eval.prompts import ImageLoadError, ImagePart, prompt_text
from emu2_eval.requests import Request
from emu2_eval.tasks.profiles import PromptError
from emu2_eval.tasks.task import Task

logger = logging.getLogger(__name__)
DATA_ERRORS = (ImageLoadError, PromptError)
CONTEXT_POLICIES = ("error", "drop_demonstrations")


@dataclass
class TaskOutcome:
    """Per-sample records of one task plus its counts."""

    records: list[dict[str, Any]]
    dataset_fingerprint: str
    n_cached: int = 0
    n_computed: int = 0
    sources: list[str] = field(default_factory=list)


def doc_to_json(doc: Doc) -> dict[str, Any]:
    """JSON-safe doc fields for logs and re-scoring (images become their keys)."""
    return {k: (v.key if isinstance(v, ImagePart) else v) for k, v in doc.fields.items()}


def _error(exc: Exception) -> dict[str, str]:
    return {"type": type(exc).__name__, "message": str(exc)}


def _run_batch(adapter: ModelAdapter, kind: str, batch: list[Request]) -> list[tuple[Any, Any]]:
    """(response, error) per request; a data error in a batch is isolated by retrying singly."""
    try:
        return [(r, None) for r in adapter.run(kind, batch)]
    except DATA_ERRORS as exc:
        if len(batch) == 1:
            return [(None, _error(exc))]
    results = []
    for request in batch:
        try:
            results.append((adapter.run(kind, [request])[0], None))
        except DATA_ERRORS as exc:
            results.append((None, _error(exc)))
    return results


@dataclass(frozen=True)
class FewShotSettings:
    """Shots, the demonstration seed and what to do when a prompt is too long for the model."""

    shots: int = 0
    seed: int = 0
    context_policy: str = "error"

    def __post_init__(self) -> None:
        if self.shots < 0:
            raise ValueError("--shots must be >= 0")
        if self.context_policy not in CONTEXT_POLICIES:
            raise ValueError(
                f"unknown context policy {self.context_policy!r}; valid: "
                + ", ".join(CONTEXT_POLICIES)
            )


class ContextLengthError(ValueError):
    """A prompt does not fit the model's context; raised before any model work starts."""


def _fit_to_context(
    task: Task,
    adapter: ModelAdapter,
    doc: Doc,
    demos: list[Doc],
    text_only: bool,
    policy: str,
) -> tuple[Request, list[Doc]]:
    """Build the request; under ``drop_demonstrations`` drop the least relevant (first) demos
    until it fits. Never truncates silently: ``error`` raises, the other policy is recorded."""
    limit = adapter.context_length()
    while True:
        request = task.build_request(doc, demos, text_only)
        n_tokens = adapter.count_tokens(request) if limit is not None else None
        if n_tokens is None or n_tokens <= limit:
            return request, demos
        if policy == "error" or not demos:
            raise ContextLengthError(
                f"task {task.name!r}, doc {doc.doc_id}: the prompt needs {n_tokens} tokens "
                f"({len(demos)} demonstrations) but the model takes {limit}; use fewer --shots "
                f"or --context-policy drop_demonstrations"
            )
        demos = demos[1:]


def run_task(
    task: Task,
    adapter: ModelAdapter,
    cache: ResponseCache,
    limit: int | None = None,
    batch_size: int = 1,
    progress: bool = True,
    fewshot: FewShotSettings | None = None,
) -> TaskOutcome:
    """Compute (or fetch from cache) the response to every doc of ``task``.

    All requests are built (and checked against the context length) before the model runs.
    """
    fewshot = fewshot or FewShotSettings()
    data = task.load()
    docs = data.docs[:limit] if limit is not None else data.docs
    fingerprint = adapter.fingerprint()
    selector = None
    spec = task.config.fewshot
    if fewshot.shots > 0 or (spec is not None and spec.zero_shot_text_examples):
        selector = task.selector(
            data.fingerprint, FeatureStore(cache_home() / "features"), progress
        )
        selector.prepare(docs, progress=progress)
    records: list[dict[str, Any]] = []
    requests: list[Request | None] = []
    for doc in docs:
        record: dict[str, Any] = {
            "task": task.name,
            "doc_id": doc.doc_id,
            "doc": doc_to_json(doc),
            "response": None,
            "error": None,
            "cached": False,
        }
        try:
            demos, text_only = task.demonstrations(doc, fewshot.shots, fewshot.seed, selector)
            request, demos = _fit_to_context(
                task, adapter, doc, demos, text_only, fewshot.context_policy
            )
            record["demonstrations"] = [d.doc_id for d in demos]
            record["prompt"] = prompt_text(request.prompt)
            record["request_hash"] = request.content_hash()
        except DATA_ERRORS as exc:
            request, record["error"] = None, _error(exc)
        records.append(record)
        requests.append(request)
    keys = [cache_key(fingerprint, r) if r is not None else None for r in requests]
    cached = cache.get_many(k for k in keys if k is not None)
    pending: list[int] = []
    for index, key in enumerate(keys):
        if key is None:
            continue
        if key in cached:
            records[index]["response"] = cached[key]
            records[index]["cached"] = True
        else:
            pending.append(index)
    n_cached = sum(r["cached"] for r in records)
    bar = tqdm(total=len(pending), desc=task.name, unit="req", disable=not progress)
    for start in range(0, len(pending), batch_size):
        indices = pending[start : start + batch_size]
        batch = [requests[i] for i in indices]
        outcomes = _run_batch(adapter, task.config.request, batch)  # type: ignore[arg-type]
        to_store = []
        for index, (response, error) in zip(indices, outcomes, strict=True):
            records[index]["response"], records[index]["error"] = response, error
            request = requests[index]
            if error is None and request is not None and adapter.is_deterministic(request):
                to_store.append((keys[index], fingerprint, request.kind, response))
        cache.put_many(to_store)
        bar.update(len(indices))
    bar.close()
    return TaskOutcome(
        records=records,
        dataset_fingerprint=data.fingerprint,
        n_cached=n_cached,
        n_computed=len(pending),
        sources=data.sources,
    )


def write_jsonl_atomic(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """Write JSON lines to a temp file and rename, so a crash never leaves half a log."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    os.replace(tmp, path)


def write_json_atomic(path: Path, payload: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2, ensure_ascii=False, default=str)
    os.replace(tmp, path)


def finalize_task(task_config: Any, outcome_records: list[dict[str, Any]]) -> tuple[dict, list]:
    """Score records and attach filtered responses and per-sample scores to each record."""
    scored = score_records(task_config, outcome_records)
    rows = []
    for record in outcome_records:
        row = dict(record)
        row["filtered"] = scored["filtered"].get(record["doc_id"])
        row["scores"] = scored["per_sample"].get(record["doc_id"], {})
        rows.append(row)
    block = {k: v for k, v in scored.items() if k not in ("filtered", "per_sample")}
    return block, rows

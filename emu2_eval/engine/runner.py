"""The evaluation loop: docs -> requests -> (cache | model, batched) -> records -> scores.

Order of work never changes results: batches are formed longest prompt first (less padding),
responses are stored by content key and put back in doc order, and a request that fails because
of its data (an unreadable image, a prompt field that is missing) is recorded as that sample's
error while the run goes on. Data parallel runs shard the pending requests (``coordination``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from emu2_eval.core.prompts import ImageLoadError, ImagePart, VideoPart, prompt_text
from emu2_eval.core.requests import Request
from emu2_eval.core.timing import TotalEstimate, bar_label, resume_line, say
from emu2_eval.data.docs import Doc
from emu2_eval.data.roots import cache_home
from emu2_eval.engine.batching import BatchSettings, BatchSizer
from emu2_eval.engine.cache import ResponseCache, cache_key
from emu2_eval.engine.coordination import Coordinator, keys_digest
from emu2_eval.engine.distributed import DistributedError
from emu2_eval.engine.limits import doc_count
from emu2_eval.engine.ordering import estimate_length, shard
from emu2_eval.engine.prefetch import ImagePrefetcher
from emu2_eval.engine.records import SampleInput, SampleRow
from emu2_eval.engine.scoring import predict_only_block, score_records
from emu2_eval.fewshot.feature_store import FeatureStore
from emu2_eval.models.base import ModelAdapter, PreparedImages
from emu2_eval.rundir.images import request_identity, stale_image_responses, store_images
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
    protocol: dict[str, Any] = field(default_factory=dict)  # the loader's recorded choices
    ranks: list[dict[str, Any]] = field(default_factory=list)  # what each rank computed
    # every answer a pure function of its request (else not cached, and the run is marked)
    deterministic: bool = True
    prepare_seconds: float = 0.0  # loading docs, building requests, reading the cache

    @property
    def model_seconds(self) -> float:
        """The task's model time: the slowest rank's (ranks run side by side)."""
        return max((float(r.get("model_seconds") or 0.0) for r in self.ranks), default=0.0)

    @property
    def batch_size_used(self) -> int | None:
        """The smallest batch size any rank ended with (None: nothing was computed)."""
        sizes = [r["batch_size_used"] for r in self.ranks if r.get("batch_size_used")]
        return min(sizes) if sizes else None


def doc_to_json(doc: Doc) -> dict[str, Any]:
    """JSON-safe doc fields for logs and re-scoring (images become their keys; videos their
    key and frame sampling)."""
    return {
        k: (v.key if isinstance(v, ImagePart) else v.to_json() if isinstance(v, VideoPart) else v)
        for k, v in doc.fields.items()
    }


def _error(exc: Exception) -> dict[str, str]:
    return {"type": type(exc).__name__, "message": str(exc)}


def _run_batch(
    adapter: ModelAdapter, kind: str, batch: list[Request], images: PreparedImages
) -> list[tuple[Any, Any]]:
    """(response, error) per request; a data error in a batch is isolated by retrying singly."""
    try:
        return [(r, None) for r in adapter.run(kind, batch, images)]
    except DATA_ERRORS as exc:
        if len(batch) == 1:
            return [(None, _error(exc))]
    results = []
    for request in batch:
        try:
            results.append((adapter.run(kind, [request], images)[0], None))
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
) -> tuple[Request, list[Doc], int | None]:
    """Build the request; under ``drop_demonstrations`` drop the least relevant (first) demos
    until it fits. Never truncates silently: ``error`` raises, the other policy is recorded.
    Also returns the token count when the adapter gave one (it orders the work)."""
    limit = adapter.context_length()
    while True:
        request = task.build_request(doc, demos, text_only)
        n_tokens = adapter.count_tokens(request) if limit is not None else None
        if n_tokens is None or n_tokens <= limit:  # type: ignore[operator]
            return request, demos, n_tokens
        if policy == "error" or not demos:
            raise ContextLengthError(
                f"task {task.name!r}, doc {doc.doc_id}: the prompt needs {n_tokens} tokens "
                f"({len(demos)} demonstrations) but the model takes {limit}; use fewer --shots "
                f"or --context-policy drop_demonstrations"
            )
        demos = demos[1:]


@dataclass
class PreparedTask:
    """A task's requests, built and checked, with what the cache answered (``cached``, by doc
    index) and what is still to compute (``pending``)."""

    task: Task
    data_fingerprint: str
    sources: list[str]
    samples: list[SampleInput]
    requests: list[Request | None]
    keys: list[str | None]
    lengths: list[int]
    pending: list[int]
    cached: dict[int, Any] = field(default_factory=dict)
    protocol: dict[str, Any] = field(default_factory=dict)  # the loader's recorded choices
    seconds: float = 0.0  # time to prepare it


def run_task(
    task: Task,
    adapter: ModelAdapter,
    cache: ResponseCache,
    limit: int | float | None = None,
    batch_size: int = 1,
    progress: bool = True,
    fewshot: FewShotSettings | None = None,
    batching: BatchSettings | None = None,
    coordinator: Coordinator | None = None,
    run_dir: Path | None = None,
) -> TaskOutcome | None:
    """Compute (or fetch from cache) the response to every doc of ``task``.

    ``run_dir`` receives generated images (``generate_images`` tasks): responses are stored as
    references to PNGs there, and a cached reference whose file is gone or altered is recomputed.

    All requests are built (and checked against the context length) before the model runs.
    Pending requests run longest first in batches (``batching``; ``batch_size`` when it is not
    given); results are stored by doc index, so the order never shows in the outputs. Under a
    ``coordinator`` (data parallel), the main process decides what is pending, every rank
    computes its shard, and the main process merges: it alone gets the outcome, other ranks
    get None.
    """
    outcomes = run_tasks(
        [task], adapter, cache, limit, progress, fewshot, batching or BatchSettings(batch_size),
        coordinator, run_dir,
    )  # fmt: skip
    return outcomes[task.name] if outcomes is not None else None


def run_tasks(
    tasks: list[Task],
    adapter: ModelAdapter,
    cache: ResponseCache,
    limit: int | None = None,
    progress: bool = True,
    fewshot: FewShotSettings | None = None,
    batching: BatchSettings | None = None,
    coordinator: Coordinator | None = None,
    run_dir: Path | None = None,
    pool: bool = True,
) -> dict[str, TaskOutcome] | None:
    """:func:`run_task` for several tasks, their work pooled across tasks.

    Every task's requests are built first (so a bad prompt in the last task stops the run before
    any model work); then the pending requests of all tasks that the model can batch together
    (same request kind and generation options: :func:`pool_key`) run as one list, longest
    first, so batches stay full and similar in length across task boundaries. Answers never
    depend on the batch, so outcomes are those of per-task runs; ``pool=False`` (and data
    parallel runs) run the tasks one after the other. Returns {task name: outcome}, or None on
    ranks other than the main one.
    """
    fewshot = fewshot or FewShotSettings()
    batching = batching or BatchSettings()
    # Data parallel runs go task by task (plan, compute, merge): a worker then still waits for
    # the main process's next plan, which is how it learns that the main process failed.
    pool = pool and coordinator is None
    is_main = coordinator is None or coordinator.is_main

    def prepare(task: Task) -> PreparedTask:
        started = time.perf_counter()
        prepared = _prepare(task, adapter, cache, limit, progress, fewshot, coordinator, run_dir)
        prepared.seconds = time.perf_counter() - started
        return prepared

    def run(group: list[PreparedTask]) -> dict[str, TaskOutcome]:
        return _run_group(group, adapter, cache, progress, batching, coordinator, run_dir)

    outcomes: dict[str, TaskOutcome] = {}
    if pool:
        outcomes = run([prepare(task) for task in tasks])
    else:
        for task in tasks:
            outcomes.update(run([prepare(task)]))
    return outcomes if is_main else None


def _run_group(
    group: list[PreparedTask],
    adapter: ModelAdapter,
    cache: ResponseCache,
    progress: bool,
    batching: BatchSettings,
    coordinator: Coordinator | None,
    run_dir: Path | None,
) -> dict[str, TaskOutcome]:
    """Compute the pooled pending work of ``group``, then merge each task's outcome."""
    results: dict[str, dict[int, tuple[Any, Any]]] = {p.task.name: {} for p in group}
    stats: dict[str, dict[str, Any]] = {}
    is_main = coordinator is None or coordinator.is_main
    units = _pools(group)
    world = coordinator.context.world_size if coordinator else 1
    # this rank's share of the work: shards take every world-th request of each pool
    estimate = TotalEstimate(sum(-(-len(u) // world) for u in units), progress and is_main)
    for unit in units:
        computed, unit_stats = _compute_pool(
            adapter, unit, coordinator, cache, batching, progress and is_main, run_dir,
            estimate,
        )  # fmt: skip
        for name, found in computed.items():
            results[name].update(found)
            info = stats.setdefault(name, {"computed": 0, "model_seconds": 0.0})
            info["computed"] += unit_stats["computed"][name]
            info["model_seconds"] += unit_stats["seconds"][name]
            if unit_stats["batch_size_used"] is not None:
                sizes = [info.get("batch_size_used"), unit_stats["batch_size_used"]]
                info["batch_size_used"] = min(s for s in sizes if s is not None)
            info.setdefault("oom_reductions", []).extend(unit_stats["oom_reductions"])
    outcomes = {}
    for prepared in group:
        name = prepared.task.name
        done = stats.get(name, {})
        info = {
            "computed": done.get("computed", 0),
            "batch_size_used": done.get("batch_size_used"),
            "oom_reductions": done.get("oom_reductions", []),
            **throughput(done.get("computed", 0), done.get("model_seconds", 0.0)),
        }
        outcome = _finish(prepared, adapter, cache, results[name], info, coordinator)
        if outcome is not None:
            outcomes[name] = outcome
    return outcomes


def throughput(computed: int, seconds: float) -> dict[str, Any]:
    """``model_seconds`` and ``requests_per_second`` of some computed requests (a rate only
    when something was computed: a resumed task that computed nothing has no speed)."""
    return {
        "model_seconds": round(seconds, 3),
        "requests_per_second": round(computed / seconds, 3) if computed and seconds > 0 else None,
    }


def pool_key(request: Request) -> tuple[Any, ...]:
    """Requests one adapter call can take together: one kind, one set of generation options."""
    return (request.kind, repr(request.options))  # repr: option values may be lists


def _pools(group: list[PreparedTask]) -> list[list[tuple[PreparedTask, int]]]:
    """The pending (task, index) items of ``group`` split by :func:`pool_key`, in first-seen
    order of keys; each pool ordered longest first, ties by task order then doc index."""
    pools: dict[Any, list[tuple[int, PreparedTask, int]]] = {}
    for position, prepared in enumerate(group):
        for index in prepared.pending:
            request = prepared.requests[index]
            assert request is not None
            pools.setdefault(pool_key(request), []).append((position, prepared, index))
    ordered = []
    for items in pools.values():
        items.sort(key=lambda item: (-item[1].lengths[item[2]], item[0], item[2]))
        ordered.append([(prepared, index) for _, prepared, index in items])
    return ordered


def _prepare(
    task: Task,
    adapter: ModelAdapter,
    cache: ResponseCache,
    limit: int | None,
    progress: bool,
    fewshot: FewShotSettings,
    coordinator: Coordinator | None,
    run_dir: Path | None,
) -> PreparedTask:
    """Build and check every request of ``task``; find (or, off the main rank, read) what is
    pending."""
    data = task.load()
    docs = data.docs[: doc_count(limit, len(data.docs))]  # a count or a fraction
    fingerprint = adapter.fingerprint()
    selector = _demonstration_selector(task, docs, data.fingerprint, fewshot, progress)
    samples: list[SampleInput] = []
    requests: list[Request | None] = []
    lengths: list[int] = []
    for doc in docs:
        sample, request, n_tokens = _build_sample(task, adapter, doc, fewshot, selector)
        samples.append(sample)
        requests.append(request)
        lengths.append(estimate_length(request, n_tokens) if request is not None else 0)
    keys = [
        cache_key(fingerprint, r, sample.request_hash) if r is not None else None
        for r, sample in zip(requests, samples, strict=True)
    ]
    cached: dict[int, Any] = {}
    if coordinator is None or coordinator.is_main:
        cached = _read_cache(cache, keys)
        for index in stale_image_responses(task.config.request, cached, run_dir):
            del cached[index]  # its image files are gone or altered: computed again
        pending = [i for i, key in enumerate(keys) if key is not None and i not in cached]
        if coordinator is not None:
            coordinator.publish_plan(task.name, pending, keys_digest(keys))
        if progress:
            n_errors = sum(key is None for key in keys)
            say(resume_line(task.name, len(keys) - n_errors - len(pending), len(pending), n_errors))
    else:
        pending = coordinator.read_plan(task.name, keys_digest(keys))
    return PreparedTask(
        task,
        data.fingerprint,
        data.sources,
        samples,
        requests,
        keys,
        lengths,
        pending,
        cached=cached,
        protocol=data.protocol,
    )


def _demonstration_selector(
    task: Task, docs: list[Doc], data_fingerprint: str, fewshot: FewShotSettings, progress: bool
) -> Any:
    """The task's demonstration selector, prepared for ``docs`` (None: no demonstrations)."""
    spec = task.config.fewshot
    if fewshot.shots <= 0 and (spec is None or not spec.zero_shot_text_examples):
        return None
    selector = task.selector(data_fingerprint, FeatureStore(cache_home() / "features"), progress)
    selector.prepare(docs, progress=progress)
    return selector


def _build_sample(
    task: Task, adapter: ModelAdapter, doc: Doc, fewshot: FewShotSettings, selector: Any
) -> tuple[SampleInput, Request | None, int | None]:
    """One doc's sample and request (None, with the sample's error, on a data error) and the
    request's token count when the adapter gave one."""
    try:
        demos, text_only = task.demonstrations(doc, fewshot.shots, fewshot.seed, selector)
        request, demos, n_tokens = _fit_to_context(
            task, adapter, doc, demos, text_only, fewshot.context_policy
        )
        sample = SampleInput(
            task.name,
            doc.doc_id,
            doc_to_json(doc),
            demonstrations=tuple(d.doc_id for d in demos),
            # their fields (image keys, answers) let the report show them
            demonstration_docs=tuple(doc_to_json(d) for d in demos),
            prompt=prompt_text(request.prompt),
            request_hash=request_identity(request),
        )
        return sample, request, n_tokens
    except DATA_ERRORS as exc:
        return SampleInput(task.name, doc.doc_id, doc_to_json(doc), error=_error(exc)), None, None


def _compute_pool(
    adapter: ModelAdapter,
    unit: list[tuple[PreparedTask, int]],
    coordinator: Coordinator | None,
    cache: ResponseCache,
    batching: BatchSettings,
    progress: bool,
    run_dir: Path | None,
    estimate: TotalEstimate | None = None,
) -> tuple[dict[str, dict[int, tuple[Any, Any]]], dict[str, Any]]:
    """This rank's shard of one pool, computed; results per task name and what was done."""
    rank, world = (
        (coordinator.context.rank, coordinator.context.world_size) if coordinator else (0, 1)
    )
    mine = shard(list(range(len(unit))), rank, world)  # ``unit`` is already in length order
    requests = [unit[p][0].requests[unit[p][1]] for p in range(len(unit))]
    keys = [unit[p][0].keys[unit[p][1]] for p in range(len(unit))]
    names = list(dict.fromkeys(prepared.task.name for prepared, _ in unit))
    kind = requests[0].kind if requests else ""
    label = "+".join(names) if len(names) <= 3 else f"{kind}: {len(names)} tasks"
    computed, stats = _compute(
        adapter, kind, label, requests, keys, mine, cache, batching, progress, run_dir, estimate
    )
    per_task: dict[str, dict[int, tuple[Any, Any]]] = {name: {} for name in names}
    counts = dict.fromkeys(names, 0)
    seconds = dict.fromkeys(names, 0.0)
    for position, outcome in computed.items():
        prepared, index = unit[position]
        per_task[prepared.task.name][index] = outcome
        counts[prepared.task.name] += 1
        seconds[prepared.task.name] += stats["seconds"].get(position, 0.0)
    return per_task, {**stats, "computed": counts, "seconds": seconds}


def _finish(
    prepared: PreparedTask,
    adapter: ModelAdapter,
    cache: ResponseCache,
    computed: dict[int, tuple[Any, Any]],
    stats: dict[str, Any],
    coordinator: Coordinator | None,
) -> TaskOutcome | None:
    """Merge the ranks' results into the task's records (main rank); others hand theirs over."""
    task, requests, keys = prepared.task, prepared.requests, prepared.keys
    if coordinator is not None and not coordinator.is_main:
        coordinator.submit(task.name, computed, stats)
        return None
    fingerprint = adapter.fingerprint()
    ranks = [{"rank": 0, **stats}]
    if coordinator is not None:
        others, infos = coordinator.collect(task.name)
        computed.update(others)
        ranks += infos
        # Ranks on other machines committed to their own caches: keep everything in this one
        # too, so a resumed run finds it (on one machine this rewrites the same rows).
        cache.put_many(_cacheable(adapter, fingerprint, requests, keys, others))
    pending = prepared.pending
    missing = [prepared.samples[i].doc_id for i in pending if i not in computed]
    if missing:
        raise DistributedError(
            f"task {task.name!r}: no response came back for doc(s) {missing[:5]} "
            f"({len(missing)} in all)"
        )
    return TaskOutcome(
        records=[row.to_json() for row in _rows(prepared, computed)],
        dataset_fingerprint=prepared.data_fingerprint,
        n_cached=len(prepared.cached),
        n_computed=len(pending),
        sources=prepared.sources,
        protocol=prepared.protocol,
        ranks=ranks,
        prepare_seconds=round(prepared.seconds, 3),
        deterministic=all(adapter.is_deterministic(r) for r in requests if r is not None),
    )


def _rows(prepared: PreparedTask, computed: dict[int, tuple[Any, Any]]) -> list[SampleRow]:
    """Each doc's record, complete: computed now, from the cache, or its data error."""
    rows = []
    for index, sample in enumerate(prepared.samples):
        if index in computed:
            response, error = computed[index]
            rows.append(SampleRow(sample, response, error))
        elif index in prepared.cached:
            rows.append(SampleRow(sample, prepared.cached[index], cached=True))
        else:
            rows.append(SampleRow(sample, error=sample.error))
    return rows


def _read_cache(cache: ResponseCache, keys: list[str | None]) -> dict[int, Any]:
    """The cached responses of the built requests, by doc index."""
    found = cache.get_many(k for k in keys if k is not None)
    return {i: found[key] for i, key in enumerate(keys) if key is not None and key in found}


def _compute(
    adapter: ModelAdapter,
    kind: str,
    label: str,
    requests: list[Request | None],
    keys: list[str | None],
    indices: list[int],
    cache: ResponseCache,
    batching: BatchSettings,
    progress: bool,
    run_dir: Path | None = None,
    estimate: TotalEstimate | None = None,
) -> tuple[dict[int, tuple[Any, Any]], dict[str, Any]]:
    """Run ``indices`` (in this order) through the model in batches, committing each batch to
    the cache; returns {index: (response, error)} and what this rank did."""
    fingerprint = adapter.fingerprint()
    work = [requests[i] for i in indices]
    results: dict[int, tuple[Any, Any]] = {}
    seconds: dict[int, float] = {}  # each request's share of its batch's time
    sizer = BatchSizer(batching)
    bar = tqdm(total=len(indices), desc=bar_label(label), unit="req", disable=not progress)

    def run_batch(positions: list[int]) -> None:
        started = time.perf_counter()
        images = PreparedImages(prefetcher.take(positions, ahead=sizer.size), adapter.prepare_image)
        batch = [work[p] for p in positions]
        outcomes = _run_batch(adapter, kind, batch, images)  # type: ignore[arg-type]
        outcomes = store_images(kind, outcomes, run_dir)  # images -> PNG references
        share = (time.perf_counter() - started) / len(positions)
        seconds.update((indices[position], share) for position in positions)
        batch_results = {
            indices[position]: outcome
            for position, outcome in zip(positions, outcomes, strict=True)
        }
        results.update(batch_results)
        cache.put_many(_cacheable(adapter, fingerprint, requests, keys, batch_results))
        bar.update(len(positions))
        if estimate is not None:
            estimate.batch_done(len(positions))

    with ImagePrefetcher(
        work,  # type: ignore[arg-type]
        batching.prefetch_workers,
        prepare=adapter.prepare_image,
        needed=adapter.needs_image,
    ) as prefetcher:
        sizer.run(list(range(len(work))), run_batch)
    bar.close()
    stats = {
        "computed": len(indices),
        "batch_size_used": sizer.size if indices else None,
        "oom_reductions": sizer.reductions,
        "seconds": seconds,
    }
    return results, stats


def _cacheable(
    adapter: ModelAdapter,
    fingerprint: str,
    requests: list[Request | None],
    keys: list[str | None],
    results: dict[int, tuple[Any, Any]],
) -> list[tuple[str, str, str, Any]]:
    """Cache rows of ``results`` ({index: (response, error)}): failed or non-deterministic
    requests are never stored."""
    rows = []
    for index, (response, error) in sorted(results.items()):
        request, key = requests[index], keys[index]
        if error is None and request is not None and key is not None:
            if adapter.is_deterministic(request):
                rows.append((key, fingerprint, request.kind, response))
    return rows


def finalize_task(
    task_config: Any,
    outcome_records: list[dict[str, Any]],
    predict_only: bool = False,
    run_dir: Path | None = None,
) -> tuple[dict, list]:
    """Score records (``predict_only``: only filter them) and attach filtered responses and
    per-sample scores to each record; generated images are read from ``run_dir``."""
    if predict_only:
        scored = predict_only_block(task_config, outcome_records)
    else:
        scored = score_records(task_config, outcome_records, run_dir)
    rows = []
    for record in outcome_records:
        row = dict(record)
        row["filtered"] = scored["filtered"].get(record["doc_id"])
        row["scores"] = scored["per_sample"].get(record["doc_id"], {})
        rows.append(row)
    block = {k: v for k, v in scored.items() if k not in ("filtered", "per_sample")}
    return block, rows

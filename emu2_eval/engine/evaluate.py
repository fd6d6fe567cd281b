"""Whole runs: build the model, run every task, write the run directory; re-score a run."""

from __future__ import annotations

import os
import random
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from emu2_eval.core.atomic import write_jsonl_atomic
from emu2_eval.core.environment import check_environment
from emu2_eval.core.registry import RUN_OUTPUTS
from emu2_eval.core.timing import format_seconds, say
from emu2_eval.engine.batching import DEFAULT_PREFETCH_WORKERS, BatchSettings
from emu2_eval.engine.cache import ResponseCache
from emu2_eval.engine.coordination import Coordinator
from emu2_eval.engine.distributed import DistributedContext, create_context
from emu2_eval.engine.manifest import build_manifest
from emu2_eval.engine.paths import portable_results
from emu2_eval.engine.preflight import preflight
from emu2_eval.engine.rerun_guard import (
    model_difference,
    refuse_smaller,
    refuse_smaller_limit,
    refuse_smaller_limit_before_loading,
)
from emu2_eval.engine.run_config import RunConfig
from emu2_eval.engine.runner import (
    FewShotSettings,
    finalize_task,
    run_tasks,
)
from emu2_eval.models.base import ModelAdapter, build_adapter
from emu2_eval.models.topology import Topology, apply_placement, placement
from emu2_eval.rundir.lock import run_dir_lock
from emu2_eval.rundir.read import read_verified_samples, samples_record
from emu2_eval.rundir.schema import (
    RunResultsError,
    read_run_results,
    results_path,
    write_run_results,
)
from emu2_eval.submissions.base import write_submission
from emu2_eval.tasks.config import parse_task
from emu2_eval.tasks.labels import UnlabelledSplitError
from emu2_eval.tasks.locations import TaskIndex
from emu2_eval.tasks.overrides import apply_gen_kwargs
from emu2_eval.tasks.registry import get_task
from emu2_eval.tasks.task import Task


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    try:
        import numpy as np
        import torch

        np.random.seed(seed)
        torch.manual_seed(seed)
    except ImportError:
        pass


def _previous_tasks(
    output: Path, fingerprint: str, model: str = "", model_args: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Task results already in ``output`` (kept when a later run adds or re-runs tasks).

    A run directory belongs to one model: results of another fingerprint are never mixed in.
    """
    if not results_path(output).is_file():
        return {}
    try:
        previous = read_run_results(output).raw
    except RunResultsError as exc:
        raise RunResultsError(f"{exc}; move it aside or choose another --output") from None
    if previous.get("model", {}).get("fingerprint") != fingerprint:
        raise ValueError(
            f"{output} holds results of another model or settings "
            f"({previous.get('model', {}).get('name')}); choose another --output"
            + model_difference(previous, model, model_args or {}, fingerprint)
        )
    return dict(previous.get("tasks", {}))


def load_adapter(
    model: str,
    model_args: dict[str, Any],
    topology: Topology,
    context: DistributedContext,
) -> ModelAdapter:
    """Build the adapter of this process's replica: its GPUs come from the topology and the
    process's place on its machine (``context``)."""
    from emu2_eval.core.registry import MODELS

    extra = placement(topology, context.local_rank, context.local_world_size, _visible_gpus())
    return build_adapter(model, apply_placement(MODELS.get(model), model, model_args, extra))


def _visible_gpus() -> int:
    try:
        import torch

        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except ImportError:
        return 0


def evaluate(
    config: RunConfig,
    adapter: ModelAdapter | None = None,
    context: DistributedContext | None = None,
) -> dict[str, Any] | None:
    """Run ``config.tasks`` on a model and write results.json, samples_<task>.jsonl and reports.

    ``adapter`` is an already loaded model (the API's objects, a sweep's one load); without it
    ``config.model`` is built. ``context`` is the run's place in a launch, made by the caller
    that runs several evaluations in step (a sweep); without it one is made here, once.

    Paths in results.json are relative to ``config.output`` or to a named root
    (``{data_root}``...: :mod:`emu2_eval.engine.paths`) unless ``absolute_paths``.

    ``predict_only`` (and any task marked ``labels: false``) writes responses and the task's
    submission file (``submission_<task>.json``) without scoring: no metric numbers. Otherwise
    a task whose docs lack the fields its metrics need stops when its data is loaded.

    ``limit`` is a number of docs per task or a fraction (0.1: a tenth of each task's docs).
    ``gen_kwargs`` overrides the generation settings of every generating task (recorded in its
    config, so in the cache key). A task already in ``output`` on more docs than this run
    would give is refused unless ``overwrite``. Data, few-shot pools, metric backbones and
    Java are checked (:mod:`emu2_eval.engine.preflight`) before the model loads.

    Tasks are resolved (and their configs validated) before the model is loaded, so a typo in a
    task name fails in a second, not after minutes of loading weights. Launched on several
    processes (accelerate launch / torchrun), every process computes a shard of each task's
    pending requests and the main process writes the run directory, byte-identical to a
    single-process run but for ``manifest.execution`` (world size, work per rank...) and
    ``manifest.created``; the other processes return None.

    The main process holds the run directory's lock (:mod:`emu2_eval.rundir.lock`) from before the
    model loads until the last file is written: another run into ``output`` stops with an error
    naming it, or with ``wait_for_lock`` waits and then keeps both runs' tasks.
    """
    check_environment()  # EMU2_EVAL_* limits: a bad value stops here, not as sample errors
    # overlap decoding with accelerator work; on a CPU, don't
    batching = config.batching(DEFAULT_PREFETCH_WORKERS if _visible_gpus() else 0)
    fewshot, output = config.fewshot, config.output
    tasks = [
        apply_gen_kwargs(get_task(name, config.task_index), config.gen_kwargs)
        for name in config.tasks
    ]
    for task in tasks:
        task.predict_only = task.predict_only or config.predict_only
        task.profile  # noqa: B018 - fail early on a missing profile
        if fewshot.shots > 0 and task.config.fewshot is None:
            raise ValueError(f"task {task.name!r} has no 'fewshot' pool: it runs 0-shot only")
    _preflight(tasks, fewshot, config.model, adapter, config.model_args)
    for task in tasks:  # read now (kept for the run): a split without labels stops before
        if not task.predict_only:  # the model loads, naming the fix
            task.load()
    if not config.overwrite:
        refuse_smaller_limit_before_loading(
            output, tasks, config.limit, config.model, config.model_args
        )
    context = context or create_context(config.dist_timeout)
    _check_cache_placement(context, config.cache_path)
    output.mkdir(parents=True, exist_ok=True)
    coordinator = (
        Coordinator(output / ".dist" / context.next_call_id(), context)
        if context.distributed
        else None
    )
    try:
        with run_dir_lock(output, config.wait_for_lock) if context.is_main else nullcontext():
            return _evaluate(config, tasks, batching, adapter, context, coordinator)
    except BaseException as exc:
        if coordinator is not None:
            coordinator.fail(exc)
        raise
    finally:
        if coordinator is not None:
            coordinator.close()


def _preflight(
    tasks: list[Task],
    fewshot: FewShotSettings,
    model: str,
    adapter: ModelAdapter | None,
    model_args: dict[str, Any] | None = None,
) -> None:
    """Everything but the model, checked before it loads (see :mod:`preflight`)."""
    from emu2_eval.core.registry import MODELS

    model_class = type(adapter) if adapter is not None else MODELS.get(model)
    preflight(tasks, fewshot.shots, model_class, model, None if adapter else model_args)


def _check_cache_placement(context: DistributedContext, cache_path: Path | None) -> None:
    """Refuse the default cache (inside the run directory) when ranks span several machines.

    SQLite's write-ahead log keeps its index in shared memory, which processes on different
    machines do not share: one cache file written from several machines (a run directory on a
    network filesystem) can be corrupted. Every rank reaches the same verdict, before any model
    loads, so none waits for the others.
    """
    machines = context.world_size // max(context.local_world_size, 1)
    if machines > 1 and cache_path is None:
        raise ValueError(
            f"this run spans {machines} machines ({context.world_size} processes, "
            f"{context.local_world_size} per machine) and the response cache would be one SQLite "
            "file in the shared run directory, which several machines cannot write safely: give "
            "--cache a path on a local disk (the same path on every machine)"
        )


def _evaluate(
    config: RunConfig,
    tasks: list[Task],
    batching: BatchSettings,
    adapter: ModelAdapter | None,
    context: DistributedContext,
    coordinator: Coordinator | None,
) -> dict[str, Any] | None:
    model, model_args, output = config.model, config.model_args, config.output
    fewshot, limit, progress = config.fewshot, config.limit, config.progress
    run_started = time.perf_counter()
    _seed_everything(config.seed)
    load_seconds = None
    if adapter is None:
        started = time.perf_counter()
        adapter = load_adapter(model, model_args, config.topology, context)
        load_seconds = round(time.perf_counter() - started, 2)
        if progress and context.is_main:
            say(f"model {model} loaded in {format_seconds(load_seconds)} ({load_seconds:.1f}s)")
    for task in tasks:
        if task.config.request not in adapter.supported_kinds:
            raise ValueError(
                f"task {task.name!r} needs {task.config.request!r} requests, which model "
                f"{model!r} does not support ({', '.join(sorted(adapter.supported_kinds))})"
            )
        if not adapter.supports_prompt_mode(task.profile.mode):
            raise ValueError(
                f"task {task.name!r} uses the {task.profile.mode!r} prompt mode, which model "
                f"{model!r} does not render ({adapter.describe().get('variant', adapter.name)})"
            )
    previous = _previous_tasks(output, adapter.fingerprint(), model, model_args)
    for task in tasks:
        earlier = previous.get(task.name, {}).get("fewshot", {})
        if earlier and (earlier.get("shots"), earlier.get("seed")) != (fewshot.shots, fewshot.seed):
            raise ValueError(
                f"{output} already holds {task.name!r} at {earlier.get('shots')} shots, seed "
                f"{earlier.get('seed')}; use another --output (`emu2-eval sweep` makes a "
                "directory per cell)"
            )
    if not config.overwrite:
        refuse_smaller_limit(output, tasks, previous, limit)
    cache = ResponseCache(config.cache_path or output / "cache.sqlite")
    if not context.is_main:
        try:
            run_tasks(
                tasks, adapter, cache, limit=limit, progress=False, fewshot=fewshot,
                batching=batching, coordinator=coordinator, run_dir=output,
            )  # fmt: skip
        finally:
            cache.close()
        return None
    results: dict[str, Any] = {
        "model": {
            "name": model,
            "args": model_args,
            "fingerprint": adapter.fingerprint(),
            **{"info": adapter.describe()},
        },
        "run": {
            "limit": limit,
            **({"gen_kwargs": config.gen_kwargs} if config.gen_kwargs else {}),
            "batch_size": batching.describe(),
            "cache": os.path.abspath(cache.path),  # recorded relative to the run directory
            "paths": "absolute" if config.absolute_paths else "relative",
        },
        "tasks": previous,
        "manifest": build_manifest(sys.argv, config.seed),
    }
    work: dict[str, list[dict[str, Any]]] = {}
    used: dict[str, int | None] = {}
    timing: dict[str, dict[str, Any]] = {}
    written: dict[str, list[dict[str, Any]]] = {}  # samples rows, handed on to the reports
    try:
        # all tasks' requests first, then one pass over their pooled work (``run_tasks``)
        outcomes = run_tasks(
            tasks, adapter, cache, limit=limit, progress=progress, fewshot=fewshot,
            batching=batching, coordinator=coordinator, run_dir=output,
        )  # fmt: skip
        assert outcomes is not None  # the main process always gets the outcomes
        if not config.overwrite:  # before any task rewrites its samples file
            for task in tasks:
                count = len(outcomes[task.name].records)
                refuse_smaller(output, task.name, previous.get(task.name), count)
        for task in tasks:
            outcome = outcomes[task.name]
            work[task.name] = outcome.ranks
            used[task.name] = outcome.batch_size_used
            scoring_started = time.perf_counter()
            # generated images are read from the run directory
            block, rows = finalize_task(task.config, outcome.records, task.predict_only, output)
            timing[task.name] = task_timing(outcome, time.perf_counter() - scoring_started)
            digest = write_jsonl_atomic(output / f"samples_{task.name}.jsonl", rows)
            written[task.name] = rows
            submission = write_submission(task.config, rows, output)
            results["tasks"][task.name] = {
                **block,
                "predict_only": task.predict_only,
                "labels": task.config.labels,
                **({"submission": submission} if submission else {}),
                "n_cached": outcome.n_cached,
                "n_computed": outcome.n_computed,
                "deterministic": outcome.deterministic,
                "samples_file": samples_record(digest, rows),
                "config": task.config.raw,
                "config_path": os.path.abspath(task.config.path),
                "config_hash": task.config.config_hash,
                "prompt_profile": (
                    task.fewshot_profile if fewshot.shots else task.profile
                ).describe(),
                "fewshot": {
                    "shots": fewshot.shots,
                    "seed": fewshot.seed,
                    "context_policy": fewshot.context_policy,
                    **(task.config.fewshot.describe() if task.config.fewshot else {}),
                    **task.selector_description(),
                },
                "reference": task.config.reference,
                "filters": list(task.config.filters),
                "dataset": {
                    "fingerprint": outcome.dataset_fingerprint,
                    "sources": outcome.sources,
                    "protocol": outcome.protocol,
                },
            }
    finally:
        cache.close()
    # False when some answers (sampling without a seed) are not reproducible and were not cached.
    results["run"]["deterministic"] = all(
        block.get("deterministic", True) for block in results["tasks"].values()
    )
    # How the run was executed: what may differ between runs with identical results.
    results["manifest"]["execution"] = {
        **context.describe(),
        "model_load_seconds": load_seconds,
        "wall_seconds": round(time.perf_counter() - run_started, 3),
        "timing": timing,
        "topology": config.topology.describe(),
        "batching": {**batching.describe_all(), "batch_size_used": used},
        "work": work,
    }
    if not config.absolute_paths:
        results = portable_results(results, output)
    results = write_run_results(output, results)
    write_run_outputs(results, output, written)
    if coordinator is not None:
        coordinator.finish()
    return results


def task_timing(outcome: Any, score_seconds: float) -> dict[str, Any]:
    """Where one task's time went in this run (``manifest.execution.timing``): preparing its
    requests, the model (the slowest process; a pooled batch's time is shared equally among its
    requests), scoring; ``wall_seconds`` is their sum and the rate is over the model time."""
    from emu2_eval.engine.runner import throughput

    model = outcome.model_seconds
    return {
        "prepare_seconds": round(outcome.prepare_seconds, 3),
        "score_seconds": round(score_seconds, 3),
        "wall_seconds": round(outcome.prepare_seconds + model + score_seconds, 3),
        "computed": outcome.n_computed,
        **throughput(outcome.n_computed, model),
    }


def write_run_outputs(
    results: dict[str, Any], run_dir: Path, samples: dict[str, list[dict[str, Any]]]
) -> None:
    """The registered outputs after results.json (the reports): by name, not by import."""
    for name in RUN_OUTPUTS:
        RUN_OUTPUTS.get(name)(results, run_dir, samples=samples)


def rescore(run_dir: Path, task_index: TaskIndex | None = None) -> dict[str, Any]:
    """Re-apply filters and metrics to a run directory's raw responses, without a model.

    The task configs recorded in results.json are used (not today's files), so a re-score
    reproduces the run unless the scoring code itself changed; their profile names are
    checked against ``task_index`` (default: the bundled tasks).
    """
    read_run_results(run_dir)  # a missing or damaged results.json is named before the lock
    with run_dir_lock(run_dir):
        return _rescore(run_dir, task_index or TaskIndex())


def refuse_predict_only(run_dir: Path, results: dict[str, Any]) -> None:
    """``score`` re-scores every task of a run directory: one run predict-only (an unlabelled
    split) has nothing to score, so it stops before anything is rewritten, naming the task."""
    for name, block in results.get("tasks", {}).items():
        if block.get("predict_only"):
            why = (
                "its split has no labels (labels: false)"
                if block.get("labels") is False
                else "it was run with --predict-only"
            )
            submission = (block.get("submission") or {}).get("file")
            where = f"; its answers are in {run_dir / submission}" if submission else ""
            raise UnlabelledSplitError(
                f"{run_dir}: task {name!r} holds responses only, {why}, so `score` cannot "
                f"score it{where}. Scores of an unlabelled split come from its evaluation "
                "server; to score a labelled split run it without --predict-only into its own "
                "--output (a run directory with a predict-only task is not re-scored)"
            )


def _rescore(run_dir: Path, task_index: TaskIndex) -> dict[str, Any]:
    path = results_path(run_dir)
    results = read_run_results(run_dir).raw  # names the file when missing, damaged or newer
    refuse_predict_only(run_dir, results)
    written: dict[str, list[dict[str, Any]]] = {}
    # every samples file is checked before anything is rewritten: a damaged one stops it all
    loaded = {
        name: read_verified_samples(run_dir, name, block)
        for name, block in results["tasks"].items()
    }
    for name, block in results["tasks"].items():
        config = parse_task(block["config"], f"{path} (task {name})", task_index.profiles)
        new_block, rows = finalize_task(config, loaded[name], run_dir=run_dir)
        block.update(new_block)
        digest = write_jsonl_atomic(run_dir / f"samples_{name}.jsonl", rows)
        block["samples_file"] = samples_record(digest, rows)
        written[name] = rows
    results = write_run_results(run_dir, results)
    write_run_outputs(results, run_dir, written)
    return results

"""Cross-task scheduling: a run's tasks share batches, and every output equals per-task runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emu2_eval.core.requests import Request
from tests.runs import evaluate_run

TASKS = ["demo_vqa", "demo_textvqa", "demo_hateful_memes"]
#: what legitimately differs between runs: when, how (batching, work per rank) and where
VOLATILE_TASK_KEYS = ("n_cached", "n_computed")


def _spy(adapter, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Record the tasks of every batch the model gets."""
    batches: list[list[str]] = []
    original = adapter.run

    def run(kind: str, requests: list[Request], images=None):
        batches.append([r.task for r in requests])
        return original(kind, requests, images)

    monkeypatch.setattr(adapter, "run", run)
    return batches


def _task_blocks(results: dict) -> dict:
    return {
        name: {k: v for k, v in block.items() if k not in VOLATILE_TASK_KEYS}
        for name, block in results["tasks"].items()
    }


def test_pooled_run_equals_separate_runs(
    tiny_adapter, demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three tasks (two generate tasks with the same options, one loglikelihood) in one run:
    batches mix the two VQA tasks, and samples files and task blocks of results.json are
    byte-identical to one run per task."""
    batches = _spy(tiny_adapter, monkeypatch)
    pooled = evaluate_run(
        "tiny-vlm", {}, TASKS, tmp_path / "pooled", limit=7, batch_size=4, progress=False,
        adapter=tiny_adapter,
    )  # fmt: skip
    mixed = [b for b in batches if len(set(b)) > 1]
    assert mixed and all(set(b) <= {"demo_vqa", "demo_textvqa"} for b in mixed)
    assert len(batches) == 4 + 2  # 14 VQA requests in 4 batches, 7 memes in 2 (per task: 2+2+2)
    separate: dict = {"tasks": {}}
    for task in TASKS:
        one = evaluate_run(
            "tiny-vlm", {}, [task], tmp_path / task, limit=7, batch_size=4, progress=False,
            adapter=tiny_adapter,
        )  # fmt: skip
        separate["tasks"].update(one["tasks"])
        samples = f"samples_{task}.jsonl"
        assert (tmp_path / "pooled" / samples).read_bytes() == (
            tmp_path / task / samples
        ).read_bytes()
    assert json.dumps(_task_blocks(pooled), sort_keys=True) == json.dumps(
        _task_blocks(separate), sort_keys=True
    )
    for task in TASKS:  # each computed, none from a cache
        assert pooled["tasks"][task]["n_computed"] == separate["tasks"][task]["n_computed"] == 7
    work = pooled["manifest"]["execution"]["work"]
    assert [w[0]["computed"] for w in work.values()] == [7, 7, 7]


def test_pool_off_runs_task_by_task(tiny_adapter, demo_dir, tmp_path, monkeypatch) -> None:
    from emu2_eval.engine.batching import BatchSettings
    from emu2_eval.engine.cache import ResponseCache
    from emu2_eval.engine.runner import run_tasks
    from emu2_eval.tasks.registry import get_task

    batches = _spy(tiny_adapter, monkeypatch)
    cache = ResponseCache(tmp_path / "cache.sqlite")
    try:
        tasks = [get_task(name) for name in TASKS[:2]]
        outcomes = run_tasks(
            tasks, tiny_adapter, cache, limit=3, progress=False, batching=BatchSettings(4),
            pool=False,
        )  # fmt: skip
    finally:
        cache.close()
    assert outcomes is not None and set(outcomes) == set(TASKS[:2])
    assert batches == [["demo_vqa"] * 3, ["demo_textvqa"] * 3]


def test_a_bad_prompt_in_a_later_task_stops_before_model_work(
    tiny_adapter, demo_dir, tmp_path, monkeypatch
) -> None:
    """All requests are built first: a context overflow in the second task is found before the
    first task's requests reach the model."""
    from emu2_eval.engine.runner import ContextLengthError

    batches = _spy(tiny_adapter, monkeypatch)
    real = tiny_adapter.count_tokens
    monkeypatch.setattr(
        tiny_adapter,
        "count_tokens",
        lambda r: 10**6 if r.task == "demo_textvqa" else real(r),
    )
    with pytest.raises(ContextLengthError, match="demo_textvqa"):
        evaluate_run("tiny-vlm", {}, TASKS[:2], tmp_path / "run", limit=3, progress=False,
                 adapter=tiny_adapter)  # fmt: skip
    assert batches == []

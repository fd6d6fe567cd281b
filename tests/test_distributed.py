"""Data parallel runs: 1 and 2 processes give the same run directory; uneven and empty shards;
a failed, dead or silent rank stops the others with a clear error instead of a hang."""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import sqlite3
import subprocess
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

import pytest

from emu2_eval.core.requests import Request
from emu2_eval.engine.coordination import Coordinator
from emu2_eval.engine.distributed import DistributedContext, DistributedError
from emu2_eval.models.base import ModelAdapter

#: The results.json fields a launch may change, and nothing else may differ.
LAUNCH_FIELDS = {("manifest", "created"), ("manifest", "execution")}
COMPARED_FILES = ("report.csv", "report.md", "groups.csv", "report.tex")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env() -> dict[str, str]:
    # CPU only, whatever the machine: the 1-process run uses the CPU, so must the others.
    return {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONUNBUFFERED": "1"}


def _run(cwd: Path, args: list[str], launcher: str = "single") -> None:
    """Run ``emu2-eval ARGS`` in ``cwd``: one process, or two through a real launcher."""
    module = ["-m", "emu2_eval", *args, "--no-progress"]
    if launcher == "single":
        command = [sys.executable, *module]
    elif launcher == "accelerate":
        command = [
            str(Path(sys.executable).with_name("accelerate")), "launch", "--multi_gpu",
            "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
            "--dynamo_backend", "no", "--main_process_port", str(_free_port()), *module,
        ]  # fmt: skip
    else:
        command = [
            sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
            "--master_port", str(_free_port()), *module,
        ]  # fmt: skip
    done = subprocess.run(command, cwd=cwd, env=_env(), capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-4000:]


def _cache_rows(path: Path) -> dict[str, str]:
    with sqlite3.connect(path) as db:
        return dict(db.execute("SELECT key, response FROM responses"))


def _assert_same_run(single: Path, parallel: Path) -> dict:
    """Byte-identical logs and reports; results.json equal once the launch fields are dropped.
    Returns the parallel run's results."""
    names = {p.name for p in single.iterdir()}
    assert names == {p.name for p in parallel.iterdir()}  # no leftovers (.dist) either
    samples = sorted(n for n in names if n.startswith("samples_"))
    assert samples
    for name in [*samples, *(n for n in COMPARED_FILES if n in names)]:
        assert (single / name).read_bytes() == (parallel / name).read_bytes(), name
    # report.html renders the manifest too (creation time, world size); not compared byte-wise.
    one = json.loads((single / "results.json").read_text())
    two = json.loads((parallel / "results.json").read_text())
    differing = {
        (top, key)
        for top in one
        if isinstance(one[top], dict)  # schema_version is an int
        for key in set(one[top]) | set(two[top])
        if one[top].get(key) != two[top].get(key)
    } | {(top, "") for top in one if not isinstance(one[top], dict) and one[top] != two[top]}
    assert ("manifest", "execution") in differing and differing <= LAUNCH_FIELDS, differing
    for top, key in LAUNCH_FIELDS:
        one[top].pop(key), two[top].pop(key)
    assert one == two
    assert _cache_rows(single / "cache.sqlite") == _cache_rows(parallel / "cache.sqlite")
    return json.loads((parallel / "results.json").read_text())


@pytest.mark.slow
def test_one_and_two_processes_write_the_same_run_directory(tmp_path, tiny_model_dir, demo_dir):
    """accelerate launch with 2 CPU processes (gloo) vs one process, same relative paths."""
    args = ["run", "--model", "tiny-vlm", "--tasks", "demo_vqa,demo_caption", "--limit", "12"]
    args += ["--batch-size", "4", "--output", "run"]
    for name, launcher in (("one", "single"), ("two", "accelerate")):
        (tmp_path / name).mkdir()
        _run(tmp_path / name, args, launcher)
    results = _assert_same_run(tmp_path / "one" / "run", tmp_path / "two" / "run")
    execution = results["manifest"]["execution"]
    assert execution["world_size"] == 2 and execution["backend"] == "gloo"
    for task in ("demo_vqa", "demo_caption"):
        assert [r["computed"] for r in execution["work"][task]] == [6, 6]


@pytest.mark.slow
def test_uneven_and_empty_shards(tmp_path, tiny_model_dir, demo_dir):
    """torchrun, 2 processes, limit 3: demo_vqa splits 2 + 1; demo_textvqa has 2 of its 3
    requests cached already, so rank 1 has nothing to do for it. Same run as one process."""
    from tests.runs import evaluate_run

    args = ["run", "--model", "tiny-vlm", "--tasks", "demo_vqa,demo_textvqa", "--limit", "3"]
    args += ["--batch-size", "2", "--output", "run"]
    for name, launcher in (("one", "single"), ("two", "torchrun")):
        (tmp_path / name).mkdir()
        evaluate_run(
            "tiny-vlm", {}, ["demo_textvqa"], tmp_path / name / "run", limit=2, progress=False
        )
        _run(tmp_path / name, args, launcher)
    results = _assert_same_run(tmp_path / "one" / "run", tmp_path / "two" / "run")
    work = results["manifest"]["execution"]["work"]
    assert [r["computed"] for r in work["demo_vqa"]] == [2, 1]
    assert [r["computed"] for r in work["demo_textvqa"]] == [1, 0]
    block = results["tasks"]["demo_textvqa"]
    assert (block["n_cached"], block["n_computed"]) == (2, 1)


# -- failures: in-process ranks (spawned, no launcher to kill the others for us) ---------------


class ScriptedAdapter(ModelAdapter):
    """Answers at once; on ``fail_rank`` it raises, or exits the process without a word."""

    name = "scripted"
    supported_kinds = frozenset({"generate"})

    def __init__(self, rank: int, fail_rank: int | None, how: str) -> None:
        self.rank, self.fail_rank, self.how = rank, fail_rank, how

    def fingerprint(self) -> str:
        return "scripted-model"

    def generate(self, requests: Sequence[Request]) -> list[str]:
        if self.how == "data-error" and any(r.doc_id == "11" for r in requests):
            from emu2_eval.core.prompts import ImageLoadError

            raise ImageLoadError("COCO_val2014_000000000001.jpg", "truncated file")
        if self.rank == self.fail_rank:
            if self.how == "exit":
                os._exit(3)  # like a segfault or the OOM killer: no cleanup, no message
            raise RuntimeError(f"boom on rank {self.rank}")
        return [f"answer {r.doc_id}" for r in requests]


def _rank_main(rank: int, port: int, output: str, fail_rank: int | None, how: str, log: str):
    machines = how == "two-machines"  # each rank alone on its "machine", with its own cache
    os.environ.update(
        RANK=str(rank), LOCAL_RANK="0" if machines else str(rank), WORLD_SIZE="2",
        LOCAL_WORLD_SIZE="1" if machines else "2",
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), CUDA_VISIBLE_DEVICES="",
    )  # fmt: skip
    from tests.runs import evaluate_run

    cache = Path(output).parent / f"local-disk-{rank}" / "cache.sqlite" if machines else None
    start = time.monotonic()
    try:
        evaluate_run(
            "scripted", {}, ["demo_vqa", "demo_textvqa"], Path(output), limit=6,
            adapter=ScriptedAdapter(rank, fail_rank, how), progress=False, dist_timeout=120,
            cache_path=cache,
        )  # fmt: skip
        outcome = {"ok": True}
    except BaseException as exc:  # reported to the test
        outcome = {"ok": False, "type": type(exc).__name__, "message": str(exc)}
        outcome["trace"] = traceback.format_exc()[-1500:]
    outcome["seconds"] = time.monotonic() - start
    Path(log).write_text(json.dumps(outcome))


def _spawn_ranks(tmp_path: Path, fail_rank: int | None, how: str) -> list[dict | None]:
    context = multiprocessing.get_context("spawn")
    port = _free_port()
    logs = [tmp_path / f"rank{r}.json" for r in range(2)]
    processes = [
        context.Process(
            target=_rank_main,
            args=(r, port, str(tmp_path / "run"), fail_rank, how, str(logs[r])),
        )
        for r in range(2)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=180)
        assert process.exitcode is not None, "a rank hung"
    return [json.loads(log.read_text()) if log.exists() else None for log in logs]


@pytest.mark.slow
@pytest.mark.parametrize(
    "fail_rank, how, expected",
    [
        (1, "raise", "rank 1 failed while this rank waited for the results of task 'demo_vqa'"),
        (1, "exit", "exited without finishing the results of task 'demo_vqa'"),
    ],
)
def test_a_failed_or_dead_rank_stops_the_main_process(tmp_path, demo_dir, fail_rank, how, expected):
    main, other = _spawn_ranks(tmp_path, fail_rank, how)
    assert main is not None and not main["ok"], main
    assert main["type"] == "DistributedError" and expected in main["message"], main
    assert main["seconds"] < 60
    if how == "raise":
        assert other is not None and "boom on rank 1" in other["message"]
    else:
        assert other is None  # it died before it could say anything
    assert not (tmp_path / "run" / "results.json").exists()


@pytest.mark.slow
def test_a_data_error_on_any_rank_is_that_sample_s_error(tmp_path, demo_dir):
    """Doc 11 cannot be read: whichever rank runs it, the main process logs it as its error."""
    main, other = _spawn_ranks(tmp_path, None, "data-error")
    assert main == {"ok": True, "seconds": main["seconds"]} and other is not None and other["ok"]
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["tasks"]["demo_vqa"]["n_errors"] == 1
    rows = [json.loads(line) for line in (tmp_path / "run" / "samples_demo_vqa.jsonl").open()]
    errors = {r["doc_id"]: r["error"] for r in rows if r["error"]}
    assert errors == {
        "11": {
            "type": "ImageLoadError",
            "message": "cannot read image COCO_val2014_000000000001.jpg: truncated file",
        }
    }
    assert all(r["response"] == f"answer {r['doc_id']}" for r in rows if not r["error"])
    assert not (tmp_path / "run" / ".dist").exists()


@pytest.mark.slow
def test_a_failed_main_process_stops_the_others(tmp_path, demo_dir):
    main, other = _spawn_ranks(tmp_path, 0, "raise")
    assert main is not None and "boom on rank 0" in main["message"]
    assert other is not None and other["type"] == "DistributedError", other
    assert "the main process stopped: RuntimeError: boom on rank 0" in other["message"]


# -- the wait itself --------------------------------------------------------------------------


def _context(rank: int, timeout: float) -> DistributedContext:
    return DistributedContext(rank=rank, world_size=2, local_world_size=2, timeout_s=timeout)


def test_a_silent_rank_times_out(tmp_path) -> None:
    main = Coordinator(tmp_path, _context(0, timeout=0.5))
    alive = tmp_path / "rank1.alive"
    alive.write_text(json.dumps({"pid": 1, "host": "another-machine", "rank": 1}))
    os.utime(alive, (time.time() - 10, time.time() - 10))
    start = time.monotonic()
    with pytest.raises(DistributedError, match="no sign of life from rank 1"):
        main.collect("task")
    assert time.monotonic() - start < 5


def test_a_busy_rank_is_not_a_silent_one(tmp_path, monkeypatch) -> None:
    """Work longer than the timeout (a big batch, a slow model load) is fine: the heartbeat
    thread keeps the rank visibly alive."""
    import threading

    from emu2_eval.engine import coordination

    monkeypatch.setattr(coordination, "HEARTBEAT_EVERY_S", 0.05)
    main = Coordinator(tmp_path, _context(0, timeout=0.5))
    worker = Coordinator(tmp_path, _context(1, timeout=0.5))
    worker.context.host = "another-machine"  # no pid check: only the heartbeat shows it lives
    alive = tmp_path / "rank1.alive"
    alive.write_text(json.dumps({"pid": 1, "host": "another-machine", "rank": 1}))
    late = threading.Timer(1.5, worker.submit, ("task", {0: ("done", None)}, {}))
    late.start()
    results, _ = main.collect("task")
    late.join()
    assert results == {0: ("done", None)}
    worker.close()
    main.close()


def test_a_rank_that_never_starts_times_out(tmp_path) -> None:
    main = Coordinator(tmp_path, _context(0, timeout=0.3))
    with pytest.raises(DistributedError, match="rank 1 never started"):
        main.collect("task")


def test_workers_wait_for_the_plan_and_check_it(tmp_path) -> None:
    main = Coordinator(tmp_path, _context(0, timeout=5))
    worker = Coordinator(tmp_path, _context(1, timeout=5))
    main.publish_plan("task", [4, 1, 7], digest="abc")
    assert worker.read_plan("task", "abc") == [4, 1, 7]
    with pytest.raises(DistributedError, match="built other requests"):
        worker.read_plan("task", "something else")
    worker.submit("task", {7: ("x", None), 1: (None, {"type": "E", "message": "m"})}, {"n": 2})
    results, infos = main.collect("task")
    assert results == {7: ("x", None), 1: (None, {"type": "E", "message": "m"})}
    assert infos == [{"rank": 1, "n": 2}]
    main.fail(RuntimeError("scoring broke"))
    with pytest.raises(DistributedError, match="the main process stopped: RuntimeError"):
        worker.read_plan("next-task", "abc")
    main.finish()
    assert not tmp_path.exists()


# -- the shared cache -------------------------------------------------------------------------


def _hammer_cache(path: str, writer: int, log: str) -> None:
    from emu2_eval.engine.cache import ResponseCache

    try:
        cache = ResponseCache(path)
        for batch in range(100):
            cache.put_many(
                (f"{writer}-{batch}-{i}", "model", "generate", f"r{i}") for i in range(5)
            )
            cache.get_many([f"{1 - writer}-{batch}-0"])
        cache.close()
        Path(log).write_text("ok")
    except BaseException as exc:  # reported to the test
        Path(log).write_text(f"{type(exc).__name__}: {exc}")


def test_concurrent_writers_share_one_cache(tmp_path) -> None:
    context = multiprocessing.get_context("spawn")
    path = tmp_path / "cache.sqlite"
    logs = [tmp_path / f"w{i}.log" for i in range(3)]
    processes = [
        context.Process(target=_hammer_cache, args=(str(path), i, str(logs[i]))) for i in range(3)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [log.read_text() for log in logs] == ["ok"] * 3
    assert len(_cache_rows(path)) == 3 * 100 * 5


def test_several_machines_need_a_local_cache(tmp_path) -> None:
    """Ranks on several machines must not share the run directory's SQLite file: every rank
    stops at once (before loading a model) and says to give --cache a local path."""
    from tests.runs import evaluate_run

    context = DistributedContext(rank=1, world_size=4, local_world_size=2, timeout_s=1)
    with pytest.raises(ValueError, match=r"spans 2 machines .* give --cache a path on a local"):
        evaluate_run(
            "tiny-vlm", {}, ["demo_vqa"], tmp_path / "run", progress=False, context=context
        )
    assert not (tmp_path / "run").exists()  # nothing written, no coordination started


@pytest.mark.slow
def test_two_machines_keep_every_response_in_the_main_cache(tmp_path, demo_dir):
    """Ranks on different machines write different cache files; the main process also stores
    what the other machine computed, so resuming from its cache recomputes nothing."""
    from emu2_eval.engine.cache import ResponseCache
    from tests.runs import evaluate_run

    main, other = _spawn_ranks(tmp_path, None, "two-machines")
    assert main is not None and main["ok"], main
    assert other is not None and other["ok"], other
    work = json.loads((tmp_path / "run" / "results.json").read_text())["manifest"]["execution"]
    assert all(r["computed"] > 0 for r in work["work"]["demo_vqa"])  # both machines worked
    main_cache = tmp_path / "local-disk-0" / "cache.sqlite"
    other_cache = ResponseCache(tmp_path / "local-disk-1" / "cache.sqlite")
    assert 0 < len(other_cache) < len(ResponseCache(main_cache))
    again = evaluate_run(
        "scripted", {}, ["demo_vqa", "demo_textvqa"], tmp_path / "resumed", limit=6,
        adapter=ScriptedAdapter(0, None, "none"), progress=False, cache_path=main_cache,
    )  # fmt: skip
    for task in ("demo_vqa", "demo_textvqa"):
        assert again["tasks"][task]["n_computed"] == 0, task
        assert again["tasks"][task]["n_cached"] == 6, task


def test_a_given_context_is_used_and_no_other_is_made(tmp_path, monkeypatch) -> None:
    """The distributed context is a value: evaluate uses the one it is given."""
    from emu2_eval.engine import evaluate as evaluate_module
    from tests.runs import evaluate_run

    def refuse(*args, **kwargs):
        raise AssertionError("evaluate made a context although it was given one")

    monkeypatch.setattr(evaluate_module, "create_context", refuse)
    context = DistributedContext()
    results = evaluate_run(
        "tiny-vlm", {}, ["demo_vqa"], tmp_path / "run", limit=2, progress=False, context=context
    )
    assert results is not None and results["manifest"]["execution"]["world_size"] == 1


def test_a_sweep_makes_one_context_for_all_its_cells(tmp_path, monkeypatch) -> None:
    from emu2_eval.engine import evaluate as evaluate_module
    from emu2_eval.engine import sweep as sweep_module
    from emu2_eval.engine.run_config import RunConfig

    made: list[DistributedContext] = []
    given: list[DistributedContext] = []

    def create(timeout_s=None) -> DistributedContext:
        made.append(DistributedContext(timeout_s=timeout_s))
        return made[-1]

    real_evaluate = sweep_module.evaluate

    def spy(config, adapter=None, context=None):
        given.append(context)
        return real_evaluate(config, adapter, context)

    monkeypatch.setattr(sweep_module, "create_context", create)
    monkeypatch.setattr(evaluate_module, "create_context", create)
    monkeypatch.setattr(sweep_module, "evaluate", spy)
    config = RunConfig(
        model="tiny-vlm", tasks=("demo_vqa",), output=tmp_path / "sweep", limit=2,
        progress=False, dist_timeout=7.0,
    )  # fmt: skip
    summary = sweep_module.run_sweep(config, [0, 1], [0, 1])
    assert summary is not None and len(given) == 4
    assert len(made) == 1 and made[0].timeout_s == 7.0
    assert all(context is made[0] for context in given)

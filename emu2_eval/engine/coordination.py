"""File-based exchange of work between the ranks of one ``evaluate`` call. Nothing here can hang.

Per task, in ``<output>/.dist/<call id>/``:

1. the main process (rank 0) looks the task's requests up in the response cache and writes
   ``<task>/plan.json``: the indices still pending and a digest of every request key (a rank that
   built different requests, e.g. from different data, stops with a clear error);
2. every rank computes its shard of the plan (see ``ordering``) and stores each finished batch in
   the shared response cache, so a killed run resumes; other ranks then write their responses and
   per-sample errors to ``<task>/rank<r>.json`` (responses that are never cached, e.g. sampling
   without a seed, travel this way too);
3. the main process merges them and builds the logs, results.json and reports.

No collective is used per batch or per task. Each wait polls for a file and, while waiting, checks
the ranks it waits for: a ``rank<r>.failed`` file (written by a rank that raised), a process that
no longer exists (same host), or no sign of life for ``timeout_s`` (``rank<r>.alive``, whose
mtime a daemon thread of each live process touches every few seconds, whatever the process is
busy with: loading weights, a long batch, scoring; it stops when the process dies, so a crash on
another machine shows as silence); an ``abort`` file written by the main process stops waiting
workers. Each of these raises :class:`DistributedError` naming the rank. Every rank
reaches every wait whatever its shard: an empty shard just writes an empty result file, and a
data error is a per-sample error inside the file.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from emu2_eval.core.atomic import write_text_atomic
from emu2_eval.core.processes import pid_alive
from emu2_eval.engine.distributed import DistributedContext, DistributedError

HEARTBEAT_EVERY_S = 2.0


def _write_atomic(path: Path, text: str) -> None:
    """Write then rename (``emu2_eval.core.atomic``), so a reader never sees half a file; no fsync:
    these files matter only while the run's processes live."""
    write_text_atomic(path, text, durable=False)


def _dumps(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False)


class Coordinator:
    """One rank's side of the exchange for one ``evaluate`` call."""

    def __init__(self, root: Path, context: DistributedContext, poll_s: float = 0.05) -> None:
        self.root = root
        self.context = context
        self.poll_s = poll_s
        root.mkdir(parents=True, exist_ok=True)
        alive = {"pid": os.getpid(), "host": context.host, "rank": context.rank}
        _write_atomic(self._alive(context.rank), _dumps(alive))
        self._stop = threading.Event()
        self._beat = threading.Thread(
            target=self._beat_until_stopped, name="emu2-eval-heartbeat", daemon=True
        )
        self._beat.start()

    # -- paths ------------------------------------------------------------------------------
    def _alive(self, rank: int) -> Path:
        return self.root / f"rank{rank}.alive"

    def _failed(self, rank: int) -> Path:
        return self.root / f"rank{rank}.failed"

    def _task_dir(self, task: str) -> Path:
        path = self.root / task
        path.mkdir(exist_ok=True)
        return path

    @property
    def is_main(self) -> bool:
        return self.context.is_main

    # -- liveness ---------------------------------------------------------------------------
    def _beat_until_stopped(self) -> None:
        """Show the other ranks that this process is alive, until :meth:`close`."""
        while not self._stop.wait(HEARTBEAT_EVERY_S):
            try:
                os.utime(self._alive(self.context.rank))
            except OSError:  # the main process already cleaned the directory up
                return

    def close(self) -> None:
        """Stop the heartbeat (the end of this rank's part of the call)."""
        self._stop.set()

    def _check(self, rank: int, waited_s: float, what: str) -> None:
        """Raise if ``rank`` failed, died or has been silent for longer than the timeout."""
        failed = self._failed(rank)
        if failed.exists():
            raise DistributedError(
                f"rank {rank} failed while this rank waited for {what}: "
                + failed.read_text(encoding="utf-8").strip()
            )
        timeout = self.context.timeout_s
        alive = self._alive(rank)
        try:
            info = json.loads(alive.read_text(encoding="utf-8"))
            silent_s = time.time() - alive.stat().st_mtime
        except (OSError, json.JSONDecodeError):
            if waited_s > timeout:
                raise DistributedError(
                    f"rank {rank} never started (no {alive.name} after {timeout:.0f}s) while "
                    f"this rank waited for {what}; raise --dist-timeout if start-up is slow"
                ) from None
            return
        if info.get("host") == self.context.host and not pid_alive(int(info["pid"])):
            raise DistributedError(
                f"rank {rank} (pid {info['pid']}) exited without finishing {what}; "
                "see its log for the cause. Responses it finished are cached: run the same "
                "command again to resume"
            )
        if silent_s > max(timeout, 3 * HEARTBEAT_EVERY_S):
            raise DistributedError(
                f"no sign of life from rank {rank} for {silent_s:.0f}s (--dist-timeout "
                f"{timeout:.0f}s) while waiting for {what}"
            )

    def _wait(self, paths: dict[int, Path], what: str) -> None:
        """Wait until every path exists, checking the rank that owes each one."""
        start = time.monotonic()
        delay = self.poll_s
        abort = self.root / "abort"
        while True:
            missing = {rank: path for rank, path in paths.items() if not path.exists()}
            if not missing:
                return
            if not self.is_main and abort.exists():
                raise DistributedError(
                    "the main process stopped: " + abort.read_text(encoding="utf-8").strip()
                )
            waited = time.monotonic() - start
            for rank in missing:
                self._check(rank, waited, what)
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)

    # -- the plan (main -> workers) ---------------------------------------------------------
    def publish_plan(self, task: str, pending: list[int], digest: str) -> None:
        _write_atomic(
            self._task_dir(task) / "plan.json", _dumps({"pending": pending, "digest": digest})
        )

    def read_plan(self, task: str, digest: str) -> list[int]:
        path = self._task_dir(task) / "plan.json"
        self._wait({0: path}, f"the plan of task {task!r}")
        plan = json.loads(path.read_text(encoding="utf-8"))
        if plan["digest"] != digest:
            raise DistributedError(
                f"rank {self.context.rank} built other requests for task {task!r} than the main "
                "process (different data, task files or model settings on this rank?)"
            )
        return [int(i) for i in plan["pending"]]

    # -- results (workers -> main) ----------------------------------------------------------
    def submit(self, task: str, results: dict[int, tuple[Any, Any]], info: dict[str, Any]) -> None:
        rows = [[index, response, error] for index, (response, error) in sorted(results.items())]
        _write_atomic(
            self._task_dir(task) / f"rank{self.context.rank}.json",
            _dumps({"rank": self.context.rank, "results": rows, "info": info}),
        )

    def collect(self, task: str) -> tuple[dict[int, tuple[Any, Any]], list[dict[str, Any]]]:
        """Every other rank's results and info for ``task`` (waits, never forever)."""
        directory = self._task_dir(task)
        others = range(1, self.context.world_size)
        paths = {rank: directory / f"rank{rank}.json" for rank in others}
        self._wait(paths, f"the results of task {task!r}")
        results: dict[int, tuple[Any, Any]] = {}
        infos = []
        for rank in others:
            payload = json.loads(paths[rank].read_text(encoding="utf-8"))
            for index, response, error in payload["results"]:
                results[int(index)] = (response, error)
            infos.append({"rank": rank, **payload["info"]})
        return results, infos

    # -- endings ----------------------------------------------------------------------------
    def fail(self, exc: BaseException) -> None:
        """Tell the other ranks this one failed (and, from the main process, to stop)."""
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        self.close()
        try:
            if self.is_main:  # first, so that workers report the main process stopping
                _write_atomic(self.root / "abort", detail)
            _write_atomic(self._failed(self.context.rank), detail)
        except OSError:
            pass

    def finish(self) -> None:
        """Main process, after a complete run: remove the exchange directory."""
        self.close()
        if self.is_main:
            shutil.rmtree(self.root, ignore_errors=True)
            try:
                self.root.parent.rmdir()  # .dist, when no other call left files there
            except OSError:
                pass


def keys_digest(keys: Iterable[str | None]) -> str:
    """A digest of a task's request keys, in doc order (None for requests that failed to build)."""
    from emu2_eval.core.requests import stable_hash

    return stable_hash([k or "" for k in keys])

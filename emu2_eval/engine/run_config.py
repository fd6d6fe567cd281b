"""One run's settings, built once from the command line or the Python API, then read-only.

``emu2-eval run``/``sweep``/``reproduce`` and :func:`emu2_eval.evaluate` each build one
:class:`RunConfig`; the engine takes it whole instead of a dozen keyword arguments, so a setting
cannot be forgotten on the way from the option to the code that uses it. A sweep or reproduction
cell is the grid's config with its task, shots, seed and output replaced
(:func:`dataclasses.replace`, which validates the new value again).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emu2_eval.core.errors import UserError
from emu2_eval.engine.batching import BatchSettings
from emu2_eval.engine.limits import parse_limit
from emu2_eval.engine.runner import FewShotSettings
from emu2_eval.models.topology import Topology
from emu2_eval.tasks.locations import TaskIndex


class RunConfigError(UserError, ValueError):
    """A run setting that cannot work; the message names the option (and its API keyword)."""


@dataclass(frozen=True)
class RunConfig:
    """Every setting of one run. Frozen: derive a variant with :func:`dataclasses.replace`.

    ``model_args`` and ``gen_kwargs`` are plain dicts (they are written to results.json as they
    are); the config holds its own copies, so the caller's dicts can change without effect.
    """

    # -- what runs: the adapter name and arguments, the task names, where results go ----------
    model: str
    model_args: dict[str, Any] = field(default_factory=dict)
    tasks: tuple[str, ...] = ()
    output: Path = Path("runs/run")
    #: where task names and prompt profiles are looked up (--include-path, entry points)
    task_index: TaskIndex = field(default_factory=TaskIndex)

    # -- how much and how: docs per task, few-shot, generation overrides, scoring ---------------
    #: a number of docs per task, a fraction of each task (0.1), or None for all
    limit: int | float | None = None
    #: the run seed (Python, NumPy, torch)
    seed: int = 0
    fewshot: FewShotSettings = field(default_factory=FewShotSettings)
    #: overrides of every generating task's generation settings (recorded, part of the cache key)
    gen_kwargs: dict[str, Any] = field(default_factory=dict)
    #: responses and submission files only, no metric numbers
    predict_only: bool = False

    # -- throughput and placement: batches, image decoding threads, GPUs per replica ------------
    #: requests per model call, or "auto" (halve on out-of-memory from ``max_batch_size``)
    batch_size: int | str = 1
    max_batch_size: int = 64
    #: threads decoding the next batch's images; None: 2 with a GPU, 0 on a CPU
    prefetch_workers: int | None = None
    topology: Topology = field(default_factory=Topology)
    #: seconds a process of a launched run waits for a silent peer
    dist_timeout: float | None = None

    # -- the run directory: response cache, lock, rewrite rules, recorded paths -----------------
    #: the response cache file (None: OUTPUT/cache.sqlite)
    cache_path: Path | None = None
    #: wait for another run holding OUTPUT's lock instead of stopping
    wait_for_lock: bool = False
    #: allow replacing a task's result by one on fewer docs
    overwrite: bool = False
    #: record this machine's absolute paths in results.json
    absolute_paths: bool = False

    # -- presentation ----------------------------------------------------------------------------
    progress: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model:
            raise RunConfigError(f"model (--model) must be an adapter name, got {self.model!r}")
        tasks = (self.tasks,) if isinstance(self.tasks, str) else tuple(self.tasks)
        if not all(isinstance(name, str) and name for name in tasks):
            raise RunConfigError(f"tasks (--tasks) must be task names, got {list(tasks)!r}")
        self._set("tasks", tasks)
        if not isinstance(self.task_index, TaskIndex):
            raise RunConfigError(
                "task_index must be a TaskIndex (--include-path), got "
                f"{type(self.task_index).__name__}"
            )
        self._set("model_args", dict(self.model_args or {}))
        self._set("output", Path(self.output))
        if self.cache_path is not None:
            self._set("cache_path", Path(self.cache_path))
        self._set("limit", parse_limit(self.limit))  # names --limit
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise RunConfigError(f"seed (--seed) must be an integer, got {self.seed!r}")
        if not isinstance(self.fewshot, FewShotSettings):
            raise RunConfigError(
                f"fewshot must be a FewShotSettings (--shots, --context-policy), got "
                f"{type(self.fewshot).__name__}"
            )
        self._set("gen_kwargs", self._checked_gen_kwargs(self.gen_kwargs))
        if self.prefetch_workers is not None and self.prefetch_workers < 0:
            raise RunConfigError(
                "prefetch_workers (--prefetch-workers) must be >= 0 (0: decode images in the "
                f"model loop), got {self.prefetch_workers}"
            )
        self.batching(0)  # --batch-size and --max-batch-size, checked now
        if not isinstance(self.topology, Topology):
            raise RunConfigError(
                "topology must be a Topology (--gpus-per-replica, --max-memory), got "
                f"{type(self.topology).__name__}"
            )
        if self.dist_timeout is not None and not self.dist_timeout > 0:
            raise RunConfigError(
                f"dist_timeout (--dist-timeout) must be positive, got {self.dist_timeout}"
            )

    def _set(self, name: str, value: Any) -> None:
        """Normalise a field of the frozen instance (only during ``__post_init__``)."""
        object.__setattr__(self, name, value)

    @staticmethod
    def _checked_gen_kwargs(values: dict[str, Any] | None) -> dict[str, Any]:
        from emu2_eval.tasks.checks import check_generation
        from emu2_eval.tasks.overrides import GenKwargsError

        values = dict(values or {})
        problems = check_generation(values)
        if problems:
            raise GenKwargsError("gen_kwargs (--gen-kwargs): " + "; ".join(problems))
        return values

    def batching(self, default_prefetch_workers: int) -> BatchSettings:
        """The batch settings, ``prefetch_workers`` defaulting to the machine's value."""
        workers = self.prefetch_workers
        try:
            return BatchSettings.parse(
                self.batch_size,
                self.max_batch_size,
                default_prefetch_workers if workers is None else workers,
            )
        except ValueError as exc:
            raise RunConfigError(str(exc)) from None

    def replace(self, **changes: Any) -> RunConfig:
        """:func:`dataclasses.replace`: a validated copy with ``changes``."""
        return dataclasses.replace(self, **changes)

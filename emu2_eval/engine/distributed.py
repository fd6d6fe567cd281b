"""Who this process is in a data-parallel run: rank, world size, and a run id shared by all ranks.

One process per model replica, started by a launcher that describes it in the environment
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``)::

    accelerate launch --multi_gpu --num_processes 8 -m emu2_eval run --model hf-vlm ...
    torchrun --nproc_per_node 8 -m emu2_eval run --model hf-vlm ...
    accelerate launch --multi_gpu --num_processes 4 -m emu2_eval run --model emu2 \
        --model-args pretrained=BAAI/Emu2 --gpus-per-replica 2 --max-memory 0:70GiB,1:70GiB ...

(On a machine without GPUs ``accelerate launch --multi_gpu --num_processes 2`` starts two CPU
processes; ``--cpu`` starts only one, which :func:`refuse_single_cpu_launch` refuses.)
When the variables are absent the run is a single
process and nothing here starts a process group: single-process behaviour is unchanged. All
processes must see the run directory (responses travel through files in it). SQLite's WAL needs
the processes sharing a cache on one host: across machines, point ``--cache`` at a local disk (the
same path on each; ``evaluate`` refuses the default there). The main process stores every
response handed over to it in its own cache, so a resumed run recomputes only work that other
machines had not handed over when the run stopped.

The only collective is one broadcast at start-up (before any model is loaded): rank 0's fresh run
id, which names the directory through which ranks exchange work (see ``coordination``). The
context is a value, not module state: :func:`create_context` makes it once per run (``evaluate``,
or a sweep or reproduction for all its cells) and it is passed to whoever needs it. The process
group uses gloo on the CPU whatever the accelerator, so it never allocates GPU memory on a device
that belongs to another replica, and it has a timeout, so a rank that never starts cannot hang the
others.
"""

from __future__ import annotations

import atexit
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from emu2_eval.core.errors import UserError

DEFAULT_TIMEOUT_S = 600.0


class DistributedError(RuntimeError):
    """Another rank failed, died or went silent; the message names the rank and what happened."""


@dataclass
class DistributedContext:
    """This process's place in the run. ``world_size == 1`` means a plain single-process run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    run_id: str = "single"
    timeout_s: float = DEFAULT_TIMEOUT_S
    backend: str | None = None
    host: str = field(default_factory=socket.gethostname)
    _calls: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def next_call_id(self) -> str:
        """A name for the next ``evaluate`` call, equal on every rank (they call it in step)."""
        self._calls += 1
        return f"{self.run_id}-{self._calls}"

    def describe(self) -> dict[str, Any]:
        """What the manifest records: the only results.json fields a launch may change."""
        return {
            "world_size": self.world_size,
            "local_world_size": self.local_world_size,
            "backend": self.backend,
        }


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} is not an integer") from None


def launched_world_size() -> int:
    """World size announced by a launcher (1 when the process was started directly)."""
    return _env_int("WORLD_SIZE", 1)


class LaunchError(UserError, ValueError):
    """A launcher asked for several processes but started one."""


def refuse_single_cpu_launch() -> None:
    """Stop ``accelerate launch --cpu --num_processes N`` (N > 1) instead of running one process.

    With ``--cpu``, accelerate's simple launcher starts a single process whatever
    ``--num_processes`` says (several CPU processes need mpirun); it sets ``ACCELERATE_USE_CPU``
    and, for more than one process, ``MASTER_ADDR``, but never ``WORLD_SIZE``. That combination
    cannot come from a real single-process launch, so it is refused with the working recipe.
    """
    cpu = os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true", "yes")
    if cpu and os.environ.get("MASTER_ADDR") and "WORLD_SIZE" not in os.environ:
        raise LaunchError(
            "`accelerate launch --cpu` started one process although more were asked for "
            "(--num_processes > 1 or --num_machines > 1; with --cpu, accelerate needs mpirun "
            "for several). For N CPU processes run `accelerate launch --multi_gpu "
            "--num_processes N -m emu2_eval run ...` (on a machine without GPUs it starts N "
            "CPU processes) or `torchrun --nproc_per_node N -m emu2_eval run ...`; for one "
            "process drop --num_processes"
        )


def create_context(timeout_s: float | None = None) -> DistributedContext:
    """This process's context for one run: a plain single-process one, or, under a launcher,
    the process group (joined once per process) and a fresh run id broadcast from rank 0.

    Every rank calls it at the same point (the start of a run), as the broadcast needs.
    """
    timeout_s = DEFAULT_TIMEOUT_S if timeout_s is None else timeout_s
    if timeout_s <= 0:
        raise ValueError("--dist-timeout must be positive")
    world = launched_world_size()
    if world <= 1:
        refuse_single_cpu_launch()
        return DistributedContext(timeout_s=timeout_s)
    import torch.distributed as dist
    from accelerate import PartialState

    # cpu=True: a gloo group for the one start-up broadcast, independent of where models live.
    state = PartialState(cpu=True, timeout=timedelta(seconds=timeout_s))
    box: list[Any] = [uuid.uuid4().hex[:16] if state.process_index == 0 else None]
    dist.broadcast_object_list(box, src=0)
    atexit.unregister(_shutdown)  # once, however many runs this process makes
    atexit.register(_shutdown)
    return DistributedContext(
        rank=state.process_index,
        world_size=state.num_processes,
        local_rank=max(state.local_process_index, 0),
        local_world_size=_env_int("LOCAL_WORLD_SIZE", state.num_processes),
        run_id=str(box[0]),
        timeout_s=timeout_s,
        backend=str(state.backend),
    )


def _shutdown() -> None:
    """Tear the process group down at exit (torch warns about a leaked group otherwise)."""
    try:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
    except Exception:  # best effort at interpreter exit
        pass

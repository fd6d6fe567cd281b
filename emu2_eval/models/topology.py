"""Which GPUs each process's model replica gets: GPUs per replica x replicas, from the command line.

``--gpus-per-replica G`` with ``N`` processes on a host (``LOCAL_WORLD_SIZE``) gives local rank
``r`` the GPUs ``r*G .. r*G+G-1``; 8 visible GPUs with G=2 take 4 processes (4 replicas).
``--max-memory`` gives the memory per GPU of a replica, indexed within the replica (``0:70GiB,
1:70GiB`` is "70 GiB on each of my two GPUs", whichever two they are), or one size for all of
them (``70GiB``); ``cpu:...`` allows offload. Without it the budget is what accelerate measures
free on those GPUs. Never a constant in code.

The placement reaches the adapter as model arguments, so any adapter that takes them is placed
the same way: ``device=cuda:<i>`` for one GPU per replica, otherwise ``device_map=auto`` and
``max_memory="<gpu>:<size>;..."`` naming only this replica's GPUs (absolute indices). The adapter
turns that into a device map with accelerate's ``infer_auto_device_map`` and its no-split modules
(:func:`build_device_map` for transformers models; the Emu2 adapter does the same with its own
no-split list).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from emu2_eval.core.devices import parse_memory_budget

PLACEMENT_ARGS = ("device", "device_map", "max_memory")


@dataclass(frozen=True)
class Topology:
    """``gpus_per_replica`` GPUs per model replica; ``max_memory`` per GPU of a replica."""

    gpus_per_replica: int = 1
    max_memory: dict[int | str, str] | None = None

    def __post_init__(self) -> None:
        if self.gpus_per_replica < 1:
            raise ValueError("--gpus-per-replica must be at least 1")
        if self.max_memory:
            bad = [k for k in self.max_memory if isinstance(k, int) and k >= self.gpus_per_replica]
            if bad:
                raise ValueError(
                    f"--max-memory names GPU(s) {bad} of a replica, but a replica has "
                    f"{self.gpus_per_replica} GPU(s) (indices 0..{self.gpus_per_replica - 1})"
                )

    @property
    def is_default(self) -> bool:
        return self.gpus_per_replica == 1 and not self.max_memory

    def describe(self) -> dict[str, Any]:
        return {"gpus_per_replica": self.gpus_per_replica, "max_memory": self.max_memory}


def parse_max_memory(text: str | None) -> dict[int | str, str] | None:
    """``--max-memory``: ``"0:70GiB,1:70GiB,cpu:100GiB"`` (``,`` or ``;``) -> {0: "70GiB", ...};
    a bare ``"70GiB"`` -> {"*": "70GiB"}, the same for every GPU of the replica."""
    return parse_memory_budget(text, "--max-memory", allow_any_gpu=True)


def replica_gpus(
    local_rank: int, local_world_size: int, gpus_per_replica: int, visible: int
) -> list[int]:
    """This process's GPUs (absolute indices), checking that every replica fits."""
    needed = local_world_size * gpus_per_replica
    if needed > visible:
        raise ValueError(
            f"{local_world_size} process(es) x {gpus_per_replica} GPU(s) per replica need {needed} "
            f"GPUs on this host but {visible} are visible; launch "
            f"{max(visible // gpus_per_replica, 1)} process(es) per host or lower "
            "--gpus-per-replica"
        )
    first = local_rank * gpus_per_replica
    return list(range(first, first + gpus_per_replica))


def placement(
    topology: Topology, local_rank: int, local_world_size: int, visible_gpus: int
) -> dict[str, Any]:
    """Model arguments that place this process's replica (empty: leave placement alone)."""
    if visible_gpus == 0:
        if not topology.is_default:
            raise ValueError("--gpus-per-replica/--max-memory need GPUs, and none is visible")
        return {}
    if topology.is_default and local_world_size == 1:
        return {}  # a single process on one GPU: the adapter's own default (cuda)
    gpus = replica_gpus(local_rank, local_world_size, topology.gpus_per_replica, visible_gpus)
    if topology.gpus_per_replica == 1 and not topology.max_memory:
        return {"device": f"cuda:{gpus[0]}"}
    budget = _absolute_budget(topology, gpus)
    return {"device_map": "auto", "max_memory": format_max_memory(budget)}


def _absolute_budget(topology: Topology, gpus: list[int]) -> dict[int | str, str]:
    given = topology.max_memory or {}
    budget: dict[int | str, str] = {}
    if any(isinstance(k, int) or k == "*" for k in given):
        for position, gpu in enumerate(gpus):
            value = given.get(position, given.get("*"))
            if value is None:
                raise ValueError(
                    f"--max-memory gives no size for GPU {position} of the replica; give every "
                    "GPU of a replica a size, or one size for all (e.g. '70GiB')"
                )
            budget[gpu] = value
    else:
        from accelerate.utils import get_max_memory

        free = get_max_memory()
        for gpu in gpus:
            budget[gpu] = f"{int(free[gpu]) // 2**20}MiB"
    if "cpu" in given:
        budget["cpu"] = given["cpu"]
    return budget


def format_max_memory(budget: dict[int | str, str]) -> str:
    """{2: "70GiB", 3: "70GiB"} -> ``"2:70GiB;3:70GiB"`` (``;``: ``,`` separates model args)."""
    return ";".join(f"{k}:{v}" for k, v in budget.items())


def apply_placement(
    adapter_cls: type, name: str, model_args: dict[str, Any], extra: dict[str, Any]
) -> dict[str, Any]:
    """``model_args`` plus the placement, refusing an adapter that cannot take it and placement
    arguments given twice (the topology decides them for every replica)."""
    if not extra:
        return dict(model_args)
    params = inspect.signature(adapter_cls.__init__).parameters
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    missing = [k for k in extra if k not in params and not accepts_any]
    if missing:
        raise ValueError(
            f"model {name!r} takes no {', '.join(missing)} argument, so the topology "
            "(--gpus-per-replica, --max-memory, several processes) cannot place it"
        )
    clash = [k for k in PLACEMENT_ARGS if k in model_args]
    if clash:
        raise ValueError(
            f"remove {', '.join(clash)} from --model-args: with --gpus-per-replica/--max-memory "
            "or several processes the topology places each replica"
        )
    return {**model_args, **extra}


def build_device_map(
    model: Any, max_memory: dict[int | str, str], dtype: Any = None
) -> dict[str, int | str]:
    """A device map over ``max_memory``'s devices that never splits the model's no-split modules.

    ``model`` may live on the meta device (``accelerate.init_empty_weights``); nothing is
    allocated. Raises when part of the model would have to go to disk.
    """
    from accelerate import infer_auto_device_map

    no_split = list(getattr(model, "_no_split_modules", None) or [])
    device_map = infer_auto_device_map(  # a copy: accelerate rewrites the sizes in place
        model, max_memory=dict(max_memory), no_split_module_classes=no_split, dtype=dtype
    )
    if any(device == "disk" for device in device_map.values()):
        raise ValueError(
            f"max_memory={max_memory} is too small for this model: part of it would go to disk; "
            "give more memory per GPU, more GPUs per replica, or allow cpu offload (cpu:100GiB)"
        )
    return device_map

"""Device names and GPU memory budgets: one reading of ``auto`` and of ``max_memory`` strings.

Used by model adapters, metric backbones, few-shot encoders and the engine's topology alike, so
it sits below all of them (metrics and few-shot code never import a model adapter for it).
"""

from __future__ import annotations

from typing import Any


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``; any other name unchanged."""
    if device == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def parse_memory_budget(
    spec: str | dict[Any, Any] | None, option: str, allow_any_gpu: bool
) -> dict[int | str, str] | None:
    """``"0:70GiB;1:70GiB;cpu:100GiB"`` (``;`` or ``,``) -> ``{0: "70GiB", 1: ..., "cpu": ...}``.

    Keys are GPU indices and ``cpu``. With ``allow_any_gpu`` (the CLI's ``--max-memory``) a bare
    size (``"70GiB"``) is accepted as ``{"*": size}``, the same for every GPU of a replica;
    without it (the ``max_memory`` model argument, handed to accelerate) ``mps`` is a device too.
    ``option`` names the setting in errors. A dict is checked the same way.
    """
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        return None
    example = "'0:70GiB;1:70GiB;cpu:100GiB'"
    if allow_any_gpu:
        example += " or one size like '70GiB'"
    if isinstance(spec, dict):
        items = [(str(k), str(v)) for k, v in spec.items()]
    else:
        items = []
        for entry in str(spec).replace(";", ",").split(","):
            entry = entry.strip()
            if not entry:
                continue
            key, sep, value = entry.rpartition(":")
            if not sep and allow_any_gpu:
                key, value = "*", entry
            key, value = key.strip(), value.strip()
            if (not sep and not allow_any_gpu) or not value:
                raise ValueError(f"{option}: expected entries like {example}, got {entry!r}")
            items.append((key, value))
    named = ("cpu", "*") if allow_any_gpu else ("cpu", "mps")
    budget: dict[int | str, str] = {}
    for key, value in items:
        if not (key.isdigit() or key in named):
            raise ValueError(
                f"{option}: expected entries like {example}, got {key}:{value!r} (unknown "
                f"device {key!r}: use GPU indices or {' or '.join(repr(n) for n in named)})"
            )
        budget[int(key) if key.isdigit() else key] = value
    return budget


def parse_model_max_memory(
    value: str | dict[Any, Any] | None,
) -> dict[int | str, str] | None:
    """The ``max_memory`` model argument (``"2:70GiB;3:70GiB"`` or a dict), for accelerate."""
    return parse_memory_budget(value, "max_memory", allow_any_gpu=False)

"""Read and write Emu2 weights in the published layout, with the published names, no conversion.

Layout: sharded ``pytorch_model-0000x-of-0000y.bin`` (or ``model-...safetensors``) with their
``*.index.json``, or a single ``pytorch_model.bin`` / ``model.safetensors``. Names are those of
BAAI/Emu2 (``model.visual.*``, ``model.decoder.lm.*``, ``project_up.weight``,
``project_down.weight``). Three spellings are accepted on the way in and normalised here:

* ``model.visual.blocks.N.attn.q_bias`` / ``v_bias`` (native code) -> the published fused
  ``attn.qkv.bias`` = cat(q_bias, zeros, v_bias) (the key projection has no bias);
* ``*.rotary_emb.inv_freq`` buffers that transformers 4.31 saved: recomputed today, dropped;
* the native module prefixes ``visual.`` / ``decoder.`` -> ``model.visual.`` / ``model.decoder.``.

Anything else that does not match the model, or a tensor the model expects and the checkpoint
lacks, is an error that lists the names: a silently half-loaded 37B model is worse than none.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from emu2_eval.core.errors import UserError

INDEX_NAMES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
SINGLE_NAMES = ("model.safetensors", "pytorch_model.bin")
_SPLIT_BIAS = re.compile(r"^(.*\.attn)\.(q_bias|v_bias)$")
_NATIVE_PREFIXES = ("visual.", "decoder.")
_SHOWN = 20


class Emu2LoadError(UserError, ValueError):
    """The checkpoint does not match the model; the message names each tensor and its file.

    A user error: a bad checkpoint is bad input, reported by the CLI without a traceback."""


# -- finding files --------------------------------------------------------------------------
def weight_index(directory: str | Path) -> tuple[Path, dict[str, str]] | None:
    """The index file of a sharded checkpoint and its tensor -> shard map, if there is one."""
    for name in INDEX_NAMES:
        index_path = Path(directory) / name
        if index_path.is_file():
            try:
                weight_map = json.loads(index_path.read_text(encoding="utf-8"))["weight_map"]
                dict(weight_map)
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise Emu2LoadError(f"{index_path}: not a weight index ({exc})") from None
            return index_path, weight_map
    return None


def weight_files(directory: str | Path) -> list[Path]:
    """The weight files of a checkpoint directory, in shard order."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory} is not a directory")
    index = weight_index(directory)
    if index is not None:
        index_path, weight_map = index
        shards = sorted(set(weight_map.values()))
        missing = [s for s in shards if not (directory / s).is_file()]
        if missing:
            raise FileNotFoundError(
                f"{index_path} lists shard(s) missing from {directory}: {', '.join(missing)}"
            )
        return [directory / s for s in shards]
    for name in SINGLE_NAMES:
        if (directory / name).is_file():
            return [directory / name]
    present = sorted(p.name for p in directory.iterdir())
    raise FileNotFoundError(
        f"no Emu2 weights in {directory}: expected one of {', '.join(INDEX_NAMES + SINGLE_NAMES)}; "
        f"found {', '.join(present) or 'nothing'}"
    )


def read_shard(path: Path) -> dict[str, torch.Tensor]:
    """One whole shard on CPU (memory-mapped where the format allows)."""
    with open_shard(path) as (names, get):
        return {name: get(name) for name in names}


@contextmanager
def open_shard(path: Path) -> Iterator[tuple[list[str], Callable[[str], torch.Tensor]]]:
    """A shard's tensor names, and a function reading one tensor at a time.

    safetensors shards are read tensor by tensor from a memory map, so loading holds at most one
    tensor in CPU memory (not a shard, never the model); ``.bin`` shards are memory-mapped by
    ``torch.load(mmap=True)``, so their pages are file-backed and come and go with the page cache.
    """
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        try:
            handle = safe_open(str(path), framework="pt", device="cpu")
        except Exception as exc:
            raise Emu2LoadError(f"{path}: cannot read ({type(exc).__name__}: {exc})") from None
        with handle as opened:
            yield list(opened.keys()), opened.get_tensor
        return
    try:
        state = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
    except Exception as exc:  # pickle errors come in many types
        raise Emu2LoadError(f"{path}: cannot read ({type(exc).__name__}: {exc})") from None
    yield list(state), state.__getitem__


def _to_target(tensor: torch.Tensor, device: Any, dtype: torch.dtype | None) -> torch.Tensor:
    """Move to an accelerator first, then cast there (fast); cast in place on the CPU."""
    if str(device) not in ("cpu", "disk", "meta"):
        tensor = tensor.to(device)
    if dtype is not None and tensor.is_floating_point():
        tensor = tensor.to(dtype)
    return tensor


# -- names ----------------------------------------------------------------------------------
class KeyNormalizer:
    """Maps checkpoint tensors to model names; holds a q_bias until its v_bias arrives.

    The two halves of a split bias may sit in different shards, so pending halves persist across
    calls; :meth:`leftovers` reports halves that never found their partner.
    """

    def __init__(self) -> None:
        self._pending: dict[str, dict[str, torch.Tensor]] = {}
        self._files: dict[str, str] = {}
        self.dropped: list[str] = []

    def __call__(
        self, name: str, tensor: torch.Tensor, file: str = "?"
    ) -> Iterator[tuple[str, torch.Tensor]]:
        if name.endswith("rotary_emb.inv_freq"):
            self.dropped.append(name)
            return
        if name.startswith(_NATIVE_PREFIXES):
            name = "model." + name
        match = _SPLIT_BIAS.match(name)
        if match is None:
            yield name, tensor
            return
        prefix, which = match.groups()
        halves = self._pending.setdefault(prefix, {})
        halves[which] = tensor
        self._files[f"{prefix}.{which}"] = file
        if len(halves) == 2:
            del self._pending[prefix]
            q_bias, v_bias = halves["q_bias"], halves["v_bias"]
            yield f"{prefix}.qkv.bias", torch.cat([q_bias, torch.zeros_like(v_bias), v_bias])

    def leftovers(self) -> list[str]:
        return [f"{prefix}.{which}" for prefix, h in self._pending.items() for which in h]

    def lone_half(self, fused_name: str) -> str | None:
        """For a missing fused ``attn.qkv.bias``: what the split layout lacks, and where its
        partner is ("...v_bias (its q_bias is in FILE)"), or None when no half was seen."""
        prefix = fused_name.removesuffix(".qkv.bias")
        halves = self._pending.get(prefix)
        if not fused_name.endswith(".qkv.bias") or not halves:
            return None
        (present,) = halves
        absent = "v_bias" if present == "q_bias" else "q_bias"
        file = self._files[f"{prefix}.{present}"]
        return f"{prefix}.{absent} (split q/v bias layout: its {present} is in {file})"

    def take(self, fused_name: str) -> None:
        """Forget the lone half of ``fused_name`` (reported through :meth:`lone_half`)."""
        self._pending.pop(fused_name.removesuffix(".qkv.bias"), None)


def expected_tensors(model: torch.nn.Module) -> dict[str, torch.Size]:
    """Names and shapes a checkpoint must provide: parameters and persistent buffers.

    Read from the modules rather than ``state_dict()``, whose hooks (e.g. bitsandbytes layers)
    may add serialisation-only entries that no published checkpoint has.
    """
    expected = {name: param.shape for name, param in model.named_parameters()}
    for prefix, module in model.named_modules():
        for name, buffer in module.named_buffers(recurse=False):
            if name not in module._non_persistent_buffers_set:
                expected[f"{prefix}.{name}" if prefix else name] = buffer.shape
    return expected


def _native_name(name: str) -> str:
    """``model.visual.x`` -> ``visual.x``: how the native code spells a published name."""
    return (
        name.removeprefix("model.")
        if name.startswith(("model.visual.", "model.decoder."))
        else name
    )


class _Problems:
    """What is wrong with a checkpoint, each tensor named once with the file it is (not) in."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = directory
        self.missing: list[str] = []
        self.unexpected: list[str] = []
        self.mismatched: list[str] = []
        self.absent_from_shard: list[tuple[str, str, str]] = []  # (tensor, index, shard)

    def raise_if_any(self) -> None:
        found = []
        if self.missing:
            found.append(f"missing {len(self.missing)} tensor(s): {_listing(self.missing)}")
        if self.absent_from_shard:
            items = [
                f"{n} (listed in {i} for shard {s} but absent from it)"
                for n, i, s in self.absent_from_shard
            ]
            found.append(f"{len(items)} tensor(s) not where the index says: {_listing(items)}")
        if self.unexpected:
            found.append(
                f"unexpected {len(self.unexpected)} tensor(s): {_listing(sorted(self.unexpected))}"
            )
        if self.mismatched:
            found.append(f"{len(self.mismatched)} shape mismatch(es): {_listing(self.mismatched)}")
        if found:
            raise Emu2LoadError(
                f"checkpoint {self.directory} does not match the Emu2 model built from its "
                "config.json: " + "; ".join(found)
            )


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    return shown + (f" ... ({len(names) - _SHOWN} more)" if len(names) > _SHOWN else "")


# -- loading --------------------------------------------------------------------------------
def load_weights(
    model: torch.nn.Module,
    directory: str | Path,
    dtype: torch.dtype | None = None,
    device_for: Callable[[str], Any] | None = None,
    setter: Callable[[torch.nn.Module, str, torch.Tensor, Any], bool] | None = None,
) -> dict[str, Any]:
    """Stream every shard into ``model`` (which may live on the meta device).

    ``device_for(name)`` places each tensor (default: CPU); floating tensors are cast to ``dtype``.
    ``setter`` may take over a tensor (quantised layers) by returning True.
    Raises :class:`Emu2LoadError` listing missing, unexpected and mis-shaped tensors.
    """
    files = weight_files(directory)
    index = weight_index(directory)
    expected = expected_tensors(model)
    normalize = KeyNormalizer()
    loaded: set[str] = set()
    problems = _Problems(directory)
    for path in files:
        with open_shard(path) as (names, get):
            _load_shard(model, path, names, get, index, expected, normalize, loaded, problems,
                        dtype, device_for, setter)  # fmt: skip
    absent = {name for name, _, _ in problems.absent_from_shard}
    for name in sorted(set(expected) - loaded):
        lone = normalize.lone_half(name)
        if lone is not None:
            problems.missing.append(lone)
            normalize.take(name)
        elif name not in absent and _native_name(name) not in absent:
            problems.missing.append(name)
    problems.unexpected += [f"{n} (no partner)" for n in normalize.leftovers()]
    problems.raise_if_any()
    return {"files": [p.name for p in files], "tensors": len(loaded), "dropped": normalize.dropped}


def _load_shard(
    model: torch.nn.Module,
    path: Path,
    names: list[str],
    get: Callable[[str], torch.Tensor],
    index: tuple[Path, dict[str, str]] | None,
    expected: dict[str, torch.Size],
    normalize: KeyNormalizer,
    loaded: set[str],
    problems: _Problems,
    dtype: torch.dtype | None,
    device_for: Callable[[str], Any] | None,
    setter: Callable[[torch.nn.Module, str, torch.Tensor, Any], bool] | None,
) -> None:
    """Place one shard's tensors, one at a time, recording what is wrong in ``problems``."""
    from accelerate.utils import set_module_tensor_to_device

    if index is not None:
        present = set(names)
        listed = [n for n, f in index[1].items() if f == path.name and n not in present]
        problems.absent_from_shard += [(n, index[0].name, path.name) for n in listed]
    for raw_name in names:
        for name, tensor in normalize(raw_name, get(raw_name), path.name):
            if name not in expected:
                problems.unexpected.append(f"{name} (in {path.name})")
                continue
            if tensor.shape != expected[name]:
                problems.mismatched.append(
                    f"{name} in {path.name}: checkpoint {tuple(tensor.shape)}, "
                    f"model {tuple(expected[name])}"
                )
                loaded.add(name)  # present, so never also reported as missing
                continue
            device = device_for(name) if device_for else "cpu"
            # bitsandbytes quantises a weight while moving it from the CPU: leave those there
            tensor = _to_target(tensor, device if setter is None else "cpu", dtype)
            if setter is None or not setter(model, name, tensor, device):
                # dtype: without it accelerate casts back to the empty model's float32
                set_module_tensor_to_device(model, name, device, value=tensor, dtype=tensor.dtype)
            loaded.add(name)


# -- saving ---------------------------------------------------------------------------------
def save_checkpoint(
    state_dict: dict[str, torch.Tensor],
    directory: str | Path,
    max_shard_bytes: int = 5 * 1024**3,
    safe_serialization: bool = False,
) -> list[Path]:
    """Write tensors in the published sharded layout with its index (in insertion order)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for name, tensor in state_dict.items():
        nbytes = tensor.numel() * tensor.element_size()
        if shards[-1] and size + nbytes > max_shard_bytes:
            shards.append({})
            size = 0
        shards[-1][name] = tensor.detach().contiguous().cpu()
        size += nbytes
    total = len(shards)
    stem, ext = ("model", "safetensors") if safe_serialization else ("pytorch_model", "bin")
    weight_map: dict[str, str] = {}
    paths = []
    for number, shard in enumerate(shards, 1):
        name = f"{stem}-{number:05d}-of-{total:05d}.{ext}"
        path = directory / name
        if safe_serialization:
            from safetensors.torch import save_file

            save_file(shard, str(path), metadata={"format": "pt"})
        else:
            torch.save(shard, path)
        weight_map.update(dict.fromkeys(shard, name))
        paths.append(path)
    index = {
        "metadata": {"total_size": sum(t.numel() * t.element_size() for t in state_dict.values())},
        "weight_map": dict(sorted(weight_map.items())),
    }
    index_name = INDEX_NAMES[0] if safe_serialization else INDEX_NAMES[1]
    (directory / index_name).write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
    return paths

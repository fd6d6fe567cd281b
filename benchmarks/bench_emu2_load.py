"""Time to first answer: Emu2 weights streamed onto the device vs a naive load, on CPU.

A smaller Emu2 (same architecture; ``--hidden``/``--layers``) is written once as float32
safetensors shards in the published layout (random weights). Each side then loads it into
bfloat16 (what a GPU run uses) in a fresh process, alternating, ``--repeats`` times:

- naive: build the model (random init), read every shard into one state dict (``load_file``),
  ``load_state_dict``, ``.to(bfloat16)``: the full model exists on the CPU, in float32, twice;
- streamed: ``from_pretrained`` (meta model, one tensor at a time from each shard's memory map,
  cast and placed on the target device).

Reported: wall time and peak resident memory of each process (``VmHWM``) above a process
that only imported the same modules, and the ratios. On a GPU the streamed side would place
each tensor on the GPU as it is read; the naive side needs the host copy first.

    .venv/bin/python benchmarks/bench_emu2_load.py --repeats 3
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def config(hidden: int, layers: int):
    from emu2_eval.models.emu2.config import Emu2Config, Emu2VisionConfig

    vision = Emu2VisionConfig(
        image_size=224, patch_size=14, width=256, layers=4, head_width=64, mlp_ratio=4.0,
        n_query=64, v_query=4,
    )  # fmt: skip
    return Emu2Config(
        vocab_size=32272, hidden_size=hidden, intermediate_size=int(hidden * 2.75) // 64 * 64,
        num_hidden_layers=layers, num_attention_heads=hidden // 128,
        max_position_embeddings=2048, d_model=256, model_version="base", vision_config=vision,
    )  # fmt: skip


def write_checkpoint(directory: Path, hidden: int, layers: int) -> int:
    import torch

    from emu2_eval.models.emu2.loading import save_checkpoint
    from emu2_eval.models.emu2.modeling import Emu2ForCausalLM

    torch.manual_seed(0)
    cfg = config(hidden, layers)
    model = Emu2ForCausalLM(cfg)
    state = {k: v for k, v in model.state_dict().items() if "rotary" not in k}
    save_checkpoint(state, directory, 256 * 1024**2, safe_serialization=True)
    cfg.save_pretrained(directory)
    return sum(v.numel() for v in state.values())


def child(side: str, directory: str) -> None:
    """One load in this process; prints seconds and peak RSS (KiB) as JSON."""
    import accelerate.utils  # noqa: F401 - every side imports the same modules before timing
    import torch
    from safetensors.torch import load_file
    from transformers import LlamaForCausalLM  # noqa: F401

    from emu2_eval.models.emu2.config import Emu2Config
    from emu2_eval.models.emu2.loading import weight_files
    from emu2_eval.models.emu2.modeling import Emu2ForCausalLM
    from emu2_eval.models.emu2.pretrained import from_pretrained

    sampler = AnonSampler()
    start = time.perf_counter()
    if side == "naive":
        model = Emu2ForCausalLM(Emu2Config.from_pretrained(directory))
        state: dict = {}
        for path in weight_files(directory):
            state.update(load_file(str(path)))
        model.load_state_dict(state, strict=False)
        del state
        model.to(torch.bfloat16)
    elif side == "streamed":
        model, _ = from_pretrained(directory, dtype="bfloat16", device="cpu")
    seconds = time.perf_counter() - start
    anon = sampler.stop()
    print(json.dumps({"seconds": seconds, "rss_kib": peak_rss_kib(), "anon_kib": anon}))


class AnonSampler:
    """Peak anonymous memory (``RssAnon``, sampled every 2 ms): what the process allocated, not
    the file pages of memory-mapped shards, which VmHWM also counts (page cache, reclaimable)."""

    def __init__(self) -> None:
        import threading

        self.peak = self.read()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @staticmethod
    def read() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
        return 0

    def _run(self) -> None:
        while not self._done.wait(0.002):
            self.peak = max(self.peak, self.read())

    def stop(self) -> int:
        self._done.set()
        self._thread.join()
        return max(self.peak, self.read())


def peak_rss_kib() -> int:
    """This process's peak resident memory (VmHWM). Not ``ru_maxrss``: Linux carries that over
    from the parent across fork and exec, so every child would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_child(side: str, directory: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", side, str(directory)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        n = write_checkpoint(directory, args.hidden, args.layers)
        size = sum(p.stat().st_size for p in directory.glob("*.safetensors"))
        print(f"checkpoint: {n / 1e6:.0f}M parameters, {size / 1e9:.2f} GB float32 safetensors")
        runs: dict[str, list[dict]] = {"import-only": [], "naive": [], "streamed": []}
        for _ in range(args.repeats):
            for side in runs:
                runs[side].append(run_child(side, directory))

    def above(side: str, key: str) -> float:
        base = statistics.median(r[key] for r in runs["import-only"])
        return (statistics.median(r[key] for r in runs[side]) - base) / 1024

    table = {}
    for side in ("naive", "streamed"):
        seconds = statistics.median(r["seconds"] for r in runs[side])
        rss, anon = above(side, "rss_kib"), above(side, "anon_kib")
        table[side] = (seconds, rss, anon)
        print(f"{side:9s} {seconds:6.2f} s   above imports: peak RSS {rss:6.0f} MiB, "
              f"peak anonymous {anon:6.0f} MiB")  # fmt: skip
    (ns, nr, na), (ss, sr, sa) = table["naive"], table["streamed"]
    print(
        f"ratio naive/streamed: time {ns / ss:.2f}x, peak RSS {nr / max(sr, 1):.2f}x, "
        f"peak anonymous {na / max(sa, 1):.2f}x (bf16 model: {n * 2 / 2**20:.0f} MiB)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

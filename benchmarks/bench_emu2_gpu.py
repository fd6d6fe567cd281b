"""Emu2 throughput on a GPU: k-shot VQA prompts batched vs one at a time, the visual feature
cache, and prefill as a fraction of the GPU's peak bf16 throughput. Needs CUDA and the ``emu2``
adapter; without CUDA it stops with a message and exit status 2, having measured nothing.

Requests are the harness's own: ``demo_vqa`` documents with ``--shots`` demonstrations chosen by
the task's RICES selector, rendered by the task's Emu2 few-shot profile, decoded with the
published defaults (beam 5, 10 new tokens, length penalty -1) unless ``--greedy``. Every mode
answers the same requests; modes alternate ``--repeats`` times and each ratio is of medians from
this one run. ``--random-weights`` builds the full-size architecture from its config with random
weights on the GPU (no 74 GB download; speed and memory depend on shapes only; the answers are
meaningless).

Prefill fraction of peak: one new token, greedy, so the time is the prompt's forward pass. FLOPs
counted: 2 x parameters x tokens for the decoder's matrices (token embeddings excluded, the LM head
for the last position only), 2 x parameters x 1025 tokens per image for the EVA encoder, plus
attention scores and mixing (4 x layers x width x L^2, halved for the causal decoder).

    .venv/bin/python benchmarks/bench_emu2_gpu.py --random-weights --json /tmp/emu2_gpu.json
    .venv/bin/python benchmarks/bench_emu2_gpu.py --model-args pretrained=/models/Emu2 --shots 4
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: Dense bf16 tensor-core peaks (TFLOP/s, no sparsity) by device-name fragment.
PEAK_BF16_TFLOPS = {
    "H200": 989.0,
    "H100 SXM": 989.0,
    "H100 PCIe": 756.0,
    "H100": 989.0,
    "A100": 312.0,
    "L40S": 362.0,
    "A10G": 70.0,
}
DEFAULT_TOKENIZER = ROOT.parent / "shared" / "emu2_assets" / "tokenizer"
TOKENIZER_FILES = ("tokenizer.model", "tokenizer_config.json", "special_tokens_map.json")


def _fail(message: str) -> int:
    print(f"bench_emu2_gpu: {message}", file=sys.stderr)
    return 2


def config_only_checkpoint(directory: Path, variant: str, tokenizer_dir: Path) -> Path:
    """A full-size Emu2 (or Emu2-Chat) config.json and the tokenizer files, no weights."""
    from emu2_eval.models.emu2.config import Emu2Config, Emu2VisionConfig
    from emu2_eval.models.emu2.constants import PAD_TOKEN, special_tokens

    missing = [n for n in TOKENIZER_FILES if not (tokenizer_dir / n).is_file()]
    if missing:
        raise FileNotFoundError(f"{tokenizer_dir} lacks {', '.join(missing)} (--tokenizer-dir)")
    chat = variant == "chat"
    config = Emu2Config(
        vocab_size=32274 if chat else 32272,
        model_version=variant,
        vision_config=Emu2VisionConfig(n_query=256 if chat else 64),
    )
    config.save_pretrained(directory)
    for name in TOKENIZER_FILES:
        shutil.copyfile(tokenizer_dir / name, directory / name)
    added = {token: 32000 + i for i, token in enumerate([PAD_TOKEN, *special_tokens(variant)])}
    (directory / "added_tokens.json").write_text(json.dumps(added), encoding="utf-8")
    return directory


def fewshot_requests(n: int, shots: int, greedy: bool, new_tokens: int | None) -> list:
    """``n`` demo_vqa requests with ``shots`` RICES demonstrations, as the runner builds them."""
    from emu2_eval.data.roots import cache_home
    from emu2_eval.fewshot.feature_store import FeatureStore
    from emu2_eval.tasks.registry import get_task

    task = get_task("demo_vqa")
    data = task.load()
    docs = [data.docs[i % len(data.docs)] for i in range(n)]
    selector = None
    if shots:
        selector = task.selector(data.fingerprint, FeatureStore(cache_home() / "features"), False)
        selector.prepare(docs, progress=False)
    options: dict[str, Any] = {"num_beams": 1} if greedy else {}  # {}: published defaults
    if new_tokens is not None:
        options["max_new_tokens"] = new_tokens
    requests = []
    for index, doc in enumerate(docs):
        demos, text_only = task.demonstrations(doc, shots, 0, selector)
        request = task.build_request(doc, demos, text_only)
        unique = f"{doc.doc_id}#{index}"
        requests.append(dataclasses.replace(request, doc_id=unique, options=tuple(options.items())))
    return requests


def _timed(fn) -> float:
    import torch

    torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    return time.perf_counter() - start


def _throughput(adapter, requests: list, batch_size: int) -> float:
    """Requests per second, generating in consecutive batches of ``batch_size``."""

    def run() -> None:
        for i in range(0, len(requests), batch_size):
            adapter.generate(requests[i : i + batch_size])

    return len(requests) / _timed(run)


def prefill_flops(adapter, requests: list) -> float:
    """Useful FLOPs of one forward pass over the prompts (see the module docstring)."""
    model, config = adapter.model, adapter.config
    lm = model.lm
    embed = lm.get_input_embeddings().weight.numel()
    head = lm.get_output_embeddings().weight.numel()
    decoder = sum(p.numel() for p in lm.parameters()) - embed - head
    visual = sum(p.numel() for p in model.model.visual.parameters())
    vision = config.vision_config
    patches = vision.grid * vision.grid + 1
    flops = 0.0
    for request in requests:
        tokens = adapter.count_tokens(request) - 1  # the one new token is not prompt
        images = sum(1 for _ in adapter.render(request.prompt)[1])
        flops += 2 * decoder * tokens + 2 * head
        flops += 2 * config.num_hidden_layers * config.hidden_size * tokens**2  # causal
        flops += images * 2 * (visual + model.project_up.weight.numel()) * patches
        flops += images * 4 * vision.layers * vision.width * patches**2
    return flops


def _shared_prefix(adapter: Any, requests: list[Any], repeats: int) -> dict[str, Any]:
    """The same prompts scored with 2 and 4 candidates: one padded row per candidate (the
    prompt prefilled K times) vs one prefill and the candidates from its cache."""
    out: dict[str, Any] = {}
    for candidates in ((" yes", " no"), (" red", " blue", " a green square", " two circles")):
        scored = [
            dataclasses.replace(r, kind="loglikelihood", options=(), continuations=candidates)
            for r in requests[:8]
        ]
        sides = {}
        for shared in (False, True):
            adapter.shared_prefix = shared
            adapter.loglikelihood(scored[:1])  # warm-up
            adapter.scoring_stats.clear()
            scores = adapter.loglikelihood(scored)
            stats = dict(adapter.scoring_stats)
            seconds = statistics.median(
                _timed(lambda s=scored: adapter.loglikelihood(s)) for _ in range(repeats)
            )
            sides[shared] = (scores, stats, seconds)
        adapter.shared_prefix = True
        (old, old_stats, old_s), (new, new_stats, new_s) = sides[False], sides[True]
        out[f"k{len(candidates)}"] = {
            "passes": [old_stats["forward_passes"], new_stats["forward_passes"]],
            "positions": [old_stats["positions"], new_stats["positions"]],
            "seconds": [old_s, new_s],
            "speedup": old_s / new_s,
            "max_abs_diff": max(
                abs(a - b) for x, y in zip(old, new, strict=True) for a, b in zip(x, y, strict=True)
            ),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-args", default="pretrained=BAAI/Emu2,dtype=bfloat16")
    parser.add_argument("--random-weights", action="store_true", help="full size, no checkpoint")
    parser.add_argument("--variant", choices=("base", "chat"), default="base")
    parser.add_argument("--tokenizer-dir", type=Path, default=DEFAULT_TOKENIZER)
    parser.add_argument("--shots", type=int, default=4)
    parser.add_argument("--requests", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--greedy", action="store_true", help="instead of beam 5")
    parser.add_argument("--feature-cache", type=int, default=256, help="0: skip that comparison")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peak-tflops", type=float, help="the GPU's dense bf16 peak")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    import torch

    if not torch.cuda.is_available():
        return _fail("CUDA is not available: this benchmark only runs on a GPU (nothing measured)")
    from emu2_eval.core.registry import MODELS, UnknownNameError
    from emu2_eval.models.base import build_adapter, parse_model_args
    from emu2_eval.models.feature_cache import FeatureCache

    try:
        MODELS.get("emu2")
    except (UnknownNameError, ImportError) as exc:
        return _fail(f"the 'emu2' model adapter is not available: {exc}")
    model_args = parse_model_args(args.model_args)
    scratch = Path(tempfile.mkdtemp(prefix="emu2-bench-"))
    try:
        if args.random_weights:
            directory = config_only_checkpoint(scratch, args.variant, args.tokenizer_dir)
            model_args.update(pretrained=str(directory), random_weights=True)
            model_args.setdefault("dtype", "bfloat16")
        report: dict[str, Any] = {"device": torch.cuda.get_device_name(0), "args": vars(args)}
        report["args"] = {k: str(v) for k, v in report["args"].items()}
        start = time.perf_counter()
        adapter = build_adapter("emu2", model_args)
        report["load_seconds"] = round(time.perf_counter() - start, 1)
        report["parameters"] = sum(p.numel() for p in adapter.model.parameters())
        report["memory_after_load_gib"] = torch.cuda.max_memory_allocated() / 2**30
        requests = fewshot_requests(args.requests, args.shots, args.greedy, None)
        tokens = [adapter.count_tokens(r) for r in requests]
        report["tokens_per_request"] = {"min": min(tokens), "max": max(tokens)}
        report["images_per_request"] = len(adapter.render(requests[0].prompt)[1])
        adapter.generate(requests[: args.batch_size])  # warm-up: kernels, allocator
        modes: dict[str, list[float]] = {"one_at_a_time": [], "batched": []}
        if args.feature_cache:
            modes["batched_feature_cache"] = []
        for _ in range(args.repeats):
            adapter.features = None
            modes["one_at_a_time"].append(_throughput(adapter, requests, 1))
            modes["batched"].append(_throughput(adapter, requests, args.batch_size))
            if args.feature_cache:
                adapter.features = FeatureCache(args.feature_cache)  # cold for every repeat
                modes["batched_feature_cache"].append(
                    _throughput(adapter, requests, args.batch_size)
                )
        adapter.features = None
        medians = {mode: statistics.median(values) for mode, values in modes.items()}
        report["requests_per_second"] = {m: [round(v, 3) for v in vs] for m, vs in modes.items()}
        report["batched_over_one_at_a_time"] = medians["batched"] / medians["one_at_a_time"]
        if args.feature_cache:
            cached = medians["batched_feature_cache"]
            report["feature_cache_over_batched"] = cached / medians["batched"]
        report["memory_peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
        report["shared_prefix_loglikelihood"] = _shared_prefix(adapter, requests, args.repeats)

        prefill = fewshot_requests(args.batch_size, args.shots, True, 1)
        adapter.generate(prefill)
        elapsed = statistics.median(
            _timed(lambda: adapter.generate(prefill)) for _ in range(args.repeats)
        )
        achieved = prefill_flops(adapter, prefill) / elapsed / 1e12
        peak = args.peak_tflops or next(
            (v for k, v in PEAK_BF16_TFLOPS.items() if k in report["device"]), None
        )
        report["prefill"] = {
            "batch": args.batch_size,
            "seconds": elapsed,
            "tflops": achieved,
            "peak_tflops": peak,
            "fraction_of_peak": achieved / peak if peak else None,
        }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(report, indent=2, default=str))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

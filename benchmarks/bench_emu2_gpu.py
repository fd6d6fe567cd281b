"""Emu2 throughput on a GPU: batched vs one-at-a-time generation, and prefill as a fraction of
the GPU's peak bf16 throughput. Needs CUDA and the ``emu2`` adapter (looked up by name in the
registry); without either it stops with a message and exit status 2.

Both generation modes answer the same VQA-style requests (the bundled demo images, or your own
``--images`` directory) with the same greedy settings; they alternate ``--repeats`` times and the
result is the ratio of the median throughputs, from this one run. The prefill fraction is
``2 x parameters x prompt tokens / time / peak``: an approximation (it ignores attention's
quadratic term and counts the visual encoder's parameters against text tokens), good for
telling 5 % from 50 %, not for a roofline.

    .venv/bin/python benchmarks/bench_emu2_gpu.py --model-args pretrained=BAAI/Emu2,dtype=bfloat16
    .venv/bin/python benchmarks/bench_emu2_gpu.py --model-args ... --batch-size 16 --requests 64
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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
QUESTIONS = [
    "what color is the shape?",
    "how many shapes are there in the picture?",
    "is there a circle in the picture?",
    "what shape is drawn in the middle of the image, and what is its colour?",
]


def _fail(message: str) -> int:
    print(f"bench_emu2_gpu: {message}", file=sys.stderr)
    return 2


def _requests(images: list[Path], n: int, max_new_tokens: int) -> list:
    from emu2_eval.prompts import ImagePart, TextPart
    from emu2_eval.requests import Request

    options = (("max_new_tokens", max_new_tokens), ("num_beams", 1))
    requests = []
    for i in range(n):
        image = ImagePart.from_file(images[i % len(images)])
        question = QUESTIONS[i % len(QUESTIONS)] * (1 + i % 3)  # a spread of prompt lengths
        # The task text only: the adapter adds its own template (Emu2-Chat's) around it.
        text = f"based on the picture, answer in one word or phrase. {question} short answer:"
        prompt = (image, TextPart(text))
        requests.append(Request("generate", prompt, "bench", str(i), options))
    return requests


def _throughput(adapter, requests: list, batch_size: int) -> float:
    """Requests per second, generating in consecutive batches of ``batch_size``."""
    import torch

    torch.cuda.synchronize()
    start = time.perf_counter()
    for i in range(0, len(requests), batch_size):
        adapter.generate(requests[i : i + batch_size])
    torch.cuda.synchronize()
    return len(requests) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-args", default="pretrained=BAAI/Emu2,dtype=bfloat16")
    parser.add_argument("--images", type=Path, help="directory of .jpg files (default: demo)")
    parser.add_argument("--requests", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peak-tflops", type=float, help="the GPU's dense bf16 peak")
    args = parser.parse_args(argv)

    import torch

    if not torch.cuda.is_available():
        return _fail("CUDA is not available: this benchmark only runs on a GPU (nothing measured)")
    from emu2_eval.models.base import build_adapter, parse_model_args
    from emu2_eval.registry import MODELS, UnknownNameError

    try:
        MODELS.get("emu2")
    except UnknownNameError as exc:
        return _fail(f"the 'emu2' model adapter is not available: {exc}")
    except ImportError as exc:
        return _fail(f"the 'emu2' model adapter failed to import: {exc}")
    if args.images is None:
        from emu2_eval.data.demo import demo_root

        args.images = demo_root() / "images" / "val2014"
    images = sorted(args.images.glob("*.jpg"))
    if not images:
        return _fail(f"no .jpg images in {args.images}")

    device = torch.cuda.get_device_name(0)
    peak = args.peak_tflops or next((v for k, v in PEAK_BF16_TFLOPS.items() if k in device), None)
    adapter = build_adapter("emu2", parse_model_args(args.model_args))
    requests = _requests(images, args.requests, args.max_new_tokens)
    adapter.generate(requests[: args.batch_size])  # warm-up: kernels, allocator
    single, batched = [], []
    for _ in range(args.repeats):
        single.append(_throughput(adapter, requests, 1))
        batched.append(_throughput(adapter, requests, args.batch_size))
    one, many = statistics.median(single), statistics.median(batched)
    print(f"device {device}; {len(requests)} requests, {args.max_new_tokens} new tokens, greedy")
    print(f"one at a time: {one:.2f} req/s {[round(x, 2) for x in single]}")
    print(f"batch {args.batch_size}:      {many:.2f} req/s {[round(x, 2) for x in batched]}")
    print(f"ratio batched/one-at-a-time = {many / one:.2f}x")

    # Prefill: one new token, so the time is the prompt's forward pass (plus one step).
    prefill_requests = _requests(images, args.batch_size, 1)
    tokens = [adapter.count_tokens(r) for r in prefill_requests]
    if any(t is None for t in tokens):
        print("prefill: the adapter cannot count prompt tokens; fraction of peak not computed")
        return 0
    parameters = sum(p.numel() for p in adapter.model.parameters())
    times = []
    for _ in range(args.repeats):
        torch.cuda.synchronize()
        start = time.perf_counter()
        adapter.generate(prefill_requests)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    elapsed = statistics.median(times)
    achieved = 2 * parameters * sum(tokens) / elapsed / 1e12
    print(
        f"prefill: batch {args.batch_size}, {sum(tokens)} prompt tokens, {parameters / 1e9:.1f}B "
        f"parameters, {elapsed * 1e3:.1f} ms -> {achieved:.1f} TFLOP/s"
    )
    if peak is None:
        print(f"peak bf16 of {device!r} unknown: pass --peak-tflops for the fraction")
    else:
        print(f"prefill fraction of peak bf16 ({peak:.0f} TFLOP/s) = {achieved / peak:.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

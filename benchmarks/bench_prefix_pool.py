"""Shared-prefix loglikelihood and cross-task pooling on CPU, both sides in one process.

``prefix``: K candidates scored after one prompt, the per-request path (one padded row per
candidate: the prompt prefilled K times) vs the shared prefix (one prefill, the candidates from
its key/value cache). A small Emu2 built from its config (no tokenizer, random weights: the
scores are meaningless, their agreement is not) on a few-shot-like prompt, and tiny-vlm (the
``hf-vlm`` adapter, one forward pass per candidate before) through its adapter. Reports forward
passes, token positions computed, the time ratio and the largest score difference.

``pool``: three generate tasks with the same options (demo_vqa, demo_textvqa, demo_vizwiz) run
by ``run_tasks`` task by task (``pool=False``) vs pooled, fresh caches each time, tiny-vlm; the
responses are compared (identical) and the batches counted.

    .venv/bin/python benchmarks/bench_prefix_pool.py --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from emu2_eval.models.emu2.config import Emu2Config, Emu2VisionConfig
from emu2_eval.models.emu2.modeling import Emu2ForCausalLM
from emu2_eval.models.prefix_scoring import count_pass, shared_prefix_scores


def bench_model() -> Emu2ForCausalLM:
    """Emu2's architecture, narrow: 64 visual tokens per image as in Emu2, 4 decoder layers."""
    vision = Emu2VisionConfig(
        image_size=112, patch_size=14, width=64, layers=2, head_width=16, mlp_ratio=2.0,
        n_query=64, v_query=4,
    )  # fmt: skip
    config = Emu2Config(
        vocab_size=32272, hidden_size=256, intermediate_size=688, num_hidden_layers=4,
        num_attention_heads=8, max_position_embeddings=2048, d_model=64,
        model_version="base", vision_config=vision,
    )  # fmt: skip
    torch.manual_seed(0)
    return Emu2ForCausalLM(config).eval()


def per_request(model, prompt, features, candidates, stats):
    """The adapter's old path: prompt + candidate per row, left-padded, one forward pass."""
    width = max(len(prompt) + len(c) for c in candidates)
    ids = torch.zeros((len(candidates), width), dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, c in enumerate(candidates):
        ids[row, width - len(prompt) - len(c) :] = torch.tensor(prompt + c)
        mask[row, width - len(prompt) - len(c) :] = 1
    with torch.inference_mode():
        logits = model(ids, mask, image_features=features.repeat(len(candidates), 1)).float()
    count_pass(stats, ids.numel())
    out = []
    for row, c in enumerate(candidates):
        lp = torch.log_softmax(logits[row, width - len(c) - 1 : width - 1], dim=-1)
        out.append(float(lp.gather(1, torch.tensor(c).unsqueeze(1)).sum()))
    return out


def shared(model, prompt, features, candidates, stats):
    ids = torch.tensor([prompt])
    with torch.inference_mode():
        embeds = model.embed_inputs(ids, image_features=features)
        return shared_prefix_scores(
            model.lm, {"inputs_embeds": embeds, "attention_mask": torch.ones_like(ids)},
            [candidates], stats=stats,
        )[0]  # fmt: skip


def timed(fn, repeats):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def prefix_emu2(repeats: int, shots: int) -> None:
    model = bench_model()
    slot = [32001, *[model.image_token_id] * 64, 32002]
    demo = [*slot, 450, 2501, 338, 29973, 3273, 1234, 29901, 263, 1243, 29889]
    prompt = [1, *(demo * shots), *slot, 450, 2501, 338, 29973, 3273, 1234, 29901]
    with torch.inference_mode():
        pixels = torch.randn(shots + 1, 3, 112, 112)
        features = model.visual_embeddings(pixels, 64)
    print(f"\nEmu2 (hidden 256, 4 layers), prompt {len(prompt)} tokens ({shots}+1 images x 64)")
    print("| K | candidates | passes old -> new | positions old -> new | time old / new | diff |")
    print("|---|---|---|---|---|---|")
    for k, cands in (
        (2, [[3869], [1939]]),
        (2, [[263, 2654], [263, 7254, 29871]]),
        (4, [[3869], [1939], [7254], [2654]]),
        (4, [[263, 2654], [263, 7254, 29871], [1023], [2211, 18445, 29892, 372]]),
    ):
        old_stats, new_stats = {}, {}
        per_request(model, prompt, features, cands, old_stats)  # warm-up, counted once
        shared(model, prompt, features, cands, new_stats)
        old_t, old = timed(lambda c=cands: per_request(model, prompt, features, c, {}), repeats)
        new_t, new = timed(lambda c=cands: shared(model, prompt, features, c, {}), repeats)
        diff = max(abs(a - b) for a, b in zip(old, new, strict=True))
        lengths = "/".join(str(len(c)) for c in cands)
        print(
            f"| {k} | {lengths} tokens | {old_stats['forward_passes']} -> "
            f"{new_stats['forward_passes']} | {old_stats['positions']} -> "
            f"{new_stats['positions']} | {old_t * 1e3:.1f} / {new_t * 1e3:.1f} ms = "
            f"{old_t / new_t:.2f}x | {diff:.1e} |"
        )


def prefix_tiny_vlm(repeats: int) -> None:
    from emu2_eval.core.prompts import ImagePart, TextPart
    from emu2_eval.core.requests import Request
    from emu2_eval.models.tiny_vlm import TinyVLMAdapter
    from tests.test_prefix_scoring import _png

    adapter = TinyVLMAdapter()
    image = ImagePart.from_bytes(_png((200, 0, 0)))
    prompt = (image, TextPart("question: what shape is drawn? short answer:"))
    print("\ntiny-vlm (hf-vlm adapter), 16 requests")
    print("| K | passes old -> new | positions old -> new | time old / new | max diff |")
    print("|---|---|---|---|---|")
    for cands in (("red", "blue"), ("a red circle", "square", "blue triangle", "circles")):
        requests = [
            Request("loglikelihood", prompt, "t", str(i), continuations=cands) for i in range(16)
        ]
        sides = {}
        for flag in (False, True):
            adapter.shared_prefix = flag
            adapter.scoring_stats.clear()
            adapter.loglikelihood(requests)
            stats = dict(adapter.scoring_stats)
            t, out = timed(lambda r=requests: adapter.loglikelihood(r), repeats)
            sides[flag] = (stats, t, out)
        (os_, ot, oo), (ns, nt, no) = sides[False], sides[True]
        pairs = [(a, b) for x, y in zip(oo, no, strict=True) for a, b in zip(x, y, strict=True)]
        diff = max(abs(a - b) for a, b in pairs)
        print(
            f"| {len(cands)} | {os_['forward_passes']} -> {ns['forward_passes']} | "
            f"{os_['positions']} -> {ns['positions']} | {ot * 1e3:.0f} / {nt * 1e3:.0f} ms = "
            f"{ot / nt:.2f}x | {diff:.1e} |"
        )


def pooling(repeats: int, limit: int, batch_size: int) -> None:
    from emu2_eval.engine.batching import BatchSettings
    from emu2_eval.engine.cache import ResponseCache
    from emu2_eval.engine.runner import run_tasks
    from emu2_eval.models.tiny_vlm import TinyVLMAdapter
    from emu2_eval.tasks.registry import get_task

    adapter = TinyVLMAdapter()
    tasks = [get_task(n) for n in ("demo_vqa", "demo_textvqa", "demo_vizwiz")]
    batches = [0]
    original = adapter.run

    def counting(kind, requests):
        batches[0] += 1
        return original(kind, requests)

    adapter.run = counting  # type: ignore[method-assign]

    def once(pool: bool):
        with tempfile.TemporaryDirectory() as tmp:
            cache = ResponseCache(Path(tmp) / "cache.sqlite")
            try:
                out = run_tasks(
                    tasks, adapter, cache, limit=limit, progress=False,
                    batching=BatchSettings(batch_size, prefetch_workers=0), pool=pool,
                )  # fmt: skip
            finally:
                cache.close()
        assert out is not None
        return {n: [r["response"] for r in o.records] for n, o in out.items()}

    once(True)  # warm-up (dataset files, thumbnails, tokenizer)
    times = {False: [], True: []}
    outputs, counts = {}, {}
    for _ in range(repeats):
        for pool in (False, True):
            batches[0] = 0
            start = time.perf_counter()
            outputs[pool] = once(pool)
            times[pool].append(time.perf_counter() - start)
            counts[pool] = batches[0]
    per_task, pooled = statistics.median(times[False]), statistics.median(times[True])
    n = sum(len(v) for v in outputs[True].values())
    print(f"\ncross-task pooling: 3 generate tasks x {limit} docs, batch {batch_size}, tiny-vlm")
    print("| side | batches | median time | responses |")
    print("|---|---|---|---|")
    print(f"| task by task | {counts[False]} | {per_task:.2f} s | {n} |")
    same = outputs[True] == outputs[False]
    print(f"| pooled | {counts[True]} | {pooled:.2f} s | {n}, identical: {same} |")
    print(f"ratio task-by-task / pooled: {per_task / pooled:.2f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", nargs="?", choices=("prefix", "pool", "all"), default="all")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--shots", type=int, default=4)
    parser.add_argument("--limit", type=int, default=12, help="docs per task (pool)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)  # one thread: steadier on a shared machine
    if args.what in ("prefix", "all"):
        prefix_emu2(args.repeats, args.shots)
        prefix_tiny_vlm(args.repeats)
    if args.what in ("pool", "all"):
        pooling(args.repeats, args.limit, args.batch_size)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

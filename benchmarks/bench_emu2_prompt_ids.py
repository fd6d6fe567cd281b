"""Emu2 prompt tokenisation: the full rendering (64 ``<image>`` slots per image) vs the compact
one the adapter uses (one slot per image, ids repeated afterwards), 0/4/16-shot VQA prompts, both
tokenisations. Checks the ids are identical, then prints the time per prompt and the ratio (median
of ``--repeats`` alternating rounds). Needs the shared Emu2 tokenizer assets; CPU only.

    .venv/bin/python benchmarks/bench_emu2_prompt_ids.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SHOT = " based on the picture, what is on the table? short answer: a red cup. "
QUERY = " based on the picture, what is on the table? short answer:"


def _per_call(fn, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args(argv)

    from emu2_eval.core.prompts import ImagePart, TextPart
    from emu2_eval.models.emu2.adapter import Emu2Adapter
    from tests.emu2_factories import TinyEmu2

    directory = TinyEmu2().save(Path(tempfile.mkdtemp(prefix="emu2-ids-")))
    image = ImagePart.from_bytes(b"not decoded: tokenisation only")
    for mode in ("reference", "fast"):
        adapter = Emu2Adapter(str(directory), device="cpu", tokenization=mode)
        adapter.config.vision_config.n_query = 64  # Emu2's tokens per image (ids only)
        for shots in (0, 4, 16):
            parts = [part for _ in range(shots) for part in (image, TextPart(SHOT))]
            parts += [image, TextPart(QUERY)]

            def full(parts=parts, adapter=adapter) -> list[int]:
                return adapter.tokenizer.encode(adapter.render(parts)[0])

            def compact(parts=parts, adapter=adapter) -> list[int]:
                return adapter.encode_prompt(parts)[0]

            if full() != compact():
                print(f"MISMATCH: {mode} {shots}-shot ids differ")
                return 1
            times: dict[str, list[float]] = {"full": [], "compact": []}
            for _ in range(args.repeats):
                times["full"].append(_per_call(full, args.calls))
                times["compact"].append(_per_call(compact, args.calls))
            f, c = (statistics.median(times[k]) * 1e3 for k in ("full", "compact"))
            print(
                f"{mode:9s} {shots:2d}-shot ({len(compact())} ids, identical): full {f:.2f} ms, "
                f"compact {c:.2f} ms, ratio {f / c:.1f}x"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

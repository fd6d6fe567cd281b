"""Time the parts of an Emu2 run that do not need the 37B weights.

* building the full-size Emu2 architecture on the meta device and inferring a device map
  (what every multi-GPU start pays before reading a byte of weights);
* reference vs fast tokenisation of few-shot VQA prompts (64 visual tokens per image);
* a tiny random Emu2 (real architecture, tiny widths) in the published layout: load time, and
  generation one request at a time vs batched.

Needs the shared Emu2 tokenizer assets (``../shared/emu2_assets`` beside the repository).

    .venv/bin/python benchmarks/emu2_startup.py [--requests 16]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def timed(fn, repeat: int = 1):
    start = time.perf_counter()
    for _ in range(repeat):
        result = fn()
    return result, (time.perf_counter() - start) / repeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=16)
    args = parser.parse_args()

    import torch

    from emu2_eval.core.prompts import ImagePart, TextPart
    from emu2_eval.core.requests import Request
    from emu2_eval.models.emu2.adapter import Emu2Adapter
    from emu2_eval.models.emu2.config import Emu2Config
    from emu2_eval.models.emu2.placement import infer_device_map
    from emu2_eval.models.emu2.pretrained import build_empty
    from emu2_eval.models.emu2.prompting import expand_placeholders
    from emu2_eval.models.emu2.tokenization import Emu2Tokenizer
    from tests.emu2_factories import TOKENIZER_DIR, TinyEmu2

    report: dict[str, float] = {}
    model, report["meta_build_s"] = timed(lambda: build_empty(Emu2Config()))
    budget = {0: "40GiB", 1: "40GiB"}
    _, report["device_map_s"] = timed(lambda: infer_device_map(model, budget, torch.bfloat16))

    shot = "[<IMG_PLH>]based on the picture, what is on the table? short answer: a red cup"
    prompt = expand_placeholders(". ".join([shot] * 8), n_query=64, v_query=64)
    for mode in ("reference", "fast"):
        tokenizer = Emu2Tokenizer(TOKENIZER_DIR / "tokenizer.model", "base", mode)
        _, seconds = timed(lambda tok=tokenizer: tok.encode(prompt), repeat=50)
        report[f"tokenize_8shot_{mode}_ms"] = seconds * 1000

    with tempfile.TemporaryDirectory() as tmp:
        directory = TinyEmu2().save(Path(tmp))
        adapter, report["tiny_load_s"] = timed(lambda: Emu2Adapter(str(directory), device="cpu"))
        image = ImagePart.from_bytes(_png())
        options = (("num_beams", 1), ("max_new_tokens", 8))
        requests = [
            Request(
                "generate", (image, TextPart(f"question {i}? short answer:")), "b", str(i), options
            )
            for i in range(args.requests)
        ]
        adapter.generate(requests[:1])  # warm-up
        single, report["tiny_generate_single_s"] = timed(
            lambda: [adapter.generate([r])[0] for r in requests]
        )
        batched, report["tiny_generate_batched_s"] = timed(lambda: adapter.generate(requests))
        report["batched_equals_single"] = float(single == batched)
    print(json.dumps({k: round(v, 4) for k, v in report.items()}, indent=2))


def _png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 30, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


if __name__ == "__main__":
    main()

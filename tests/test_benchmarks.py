"""The benchmark scripts keep working: their request building, FLOP counting and full-size
config-only checkpoint are checked on CPU (the timings themselves are not tests)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from tests.emu2_factories import write_tiny_tokenizer

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_overhead_benchmark_runs_both_sides_and_agrees(isolated_home, capsys) -> None:
    bench = _load("bench_overhead")
    argv = ["--questions", "40", "--images", "4", "--image-size", "32x24", "--repeats", "1"]
    assert bench.main([*argv, "--preprocess", "emu2"]) == 0  # asserts equal accuracy inside
    out = capsys.readouterr().out
    assert "wall ratio evaluate/bare" in out and "preprocess emu2" in out


def test_gpu_benchmark_builds_fewshot_requests_and_counts_flops(
    isolated_home, tiny_emu2_adapter
) -> None:
    bench = _load("bench_emu2_gpu")
    requests = bench.fewshot_requests(5, 2, greedy=False, new_tokens=None)
    assert len(requests) == 5 and len({r.doc_id for r in requests}) == 5
    assert all(r.options == () for r in requests)  # published defaults: beam 5, 10 tokens
    assert all(len(tiny_emu2_adapter.render(r.prompt)[1]) == 3 for r in requests)  # 2 shots + 1
    prefill = bench.fewshot_requests(2, 2, greedy=True, new_tokens=1)
    assert prefill[0].options_dict == {"num_beams": 1, "max_new_tokens": 1}
    flops = bench.prefill_flops(tiny_emu2_adapter, prefill)
    zero_shot = bench.prefill_flops(tiny_emu2_adapter, bench.fewshot_requests(2, 0, True, 1))
    assert 0 < zero_shot < flops  # demonstrations add images and tokens


def test_gpu_benchmark_full_size_config_only_checkpoint(tmp_path: Path) -> None:
    """The random-weight mode's checkpoint is the published architecture: 36,906,513,152
    parameters for Emu2 (PROTOCOL.md; plus the fused bias's zero key part, 64 x 1792), +26,624
    for Emu2-Chat, built here on the meta device."""
    from emu2_eval.models.emu2.config import Emu2Config
    from emu2_eval.models.emu2.pretrained import build_empty
    from emu2_eval.models.emu2.tokenization import Emu2Tokenizer

    bench = _load("bench_emu2_gpu")
    tokenizer_dir = write_tiny_tokenizer(tmp_path / "tokenizer").parent
    counts = {}
    for variant in ("base", "chat"):
        directory = bench.config_only_checkpoint(tmp_path / variant, variant, tokenizer_dir)
        config = Emu2Config.from_pretrained(directory)
        counts[variant] = sum(p.numel() for p in build_empty(config).parameters())
        tokenizer = Emu2Tokenizer.from_pretrained(directory, variant, "reference")
        assert tokenizer.token_id("<image>") == 32003
    assert counts["base"] == 36_906_513_152 + 64 * 1792
    assert counts["chat"] - counts["base"] == 26_624
    with pytest.raises(FileNotFoundError, match="--tokenizer-dir"):
        bench.config_only_checkpoint(tmp_path / "x", "base", tmp_path / "nowhere")
    import torch

    if not torch.cuda.is_available():
        assert bench.main(["--random-weights"]) == 2  # says so and measures nothing

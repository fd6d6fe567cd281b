"""Throughput features never change results: length-sorted batches, auto batch size with
out-of-memory back-off, image prefetching, the visual feature cache, placement, Fréchet distance."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from emu2_eval.core.prompts import ImagePart, TextPart, images_of
from emu2_eval.core.requests import Request
from emu2_eval.engine.batching import (
    BatchSettings,
    BatchSizer,
    OutOfMemoryAtBatchSizeOne,
    is_out_of_memory,
)
from emu2_eval.engine.ordering import estimate_length, length_order, shard
from emu2_eval.engine.prefetch import ImagePrefetcher
from emu2_eval.models.base import ModelAdapter, PreparedImages
from emu2_eval.models.feature_cache import FeatureCache, image_content_key
from emu2_eval.models.topology import (
    Topology,
    apply_placement,
    build_device_map,
    parse_max_memory,
    placement,
)
from tests.runs import evaluate_run


def _samples(run: Path, task: str) -> list[dict]:
    return [json.loads(line) for line in (run / f"samples_{task}.jsonl").read_text().splitlines()]


# -- ordering ---------------------------------------------------------------------------------


def test_length_order_is_longest_first_and_deterministic() -> None:
    lengths = [5, 9, 5, 1, 9]
    assert length_order([0, 1, 2, 3, 4], lengths) == [1, 4, 0, 2, 3]
    assert length_order([3, 0], lengths) == [0, 3]


@pytest.mark.parametrize("n, world", [(0, 2), (1, 2), (3, 2), (10, 3), (7, 8)])
def test_shards_partition_the_work(n: int, world: int) -> None:
    order = list(range(100, 100 + n))
    parts = [shard(order, rank, world) for rank in range(world)]
    assert sorted(i for part in parts for i in part) == order
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    with pytest.raises(ValueError, match="outside a world"):
        shard(order, world, world)


def test_estimated_length_counts_text_and_images() -> None:
    image = ImagePart(key="k", data=b"x")
    short = Request("generate", (TextPart("ab"),), "t", "1")
    with_image = Request("generate", (image, TextPart("ab")), "t", "2")
    assert estimate_length(short, None) < estimate_length(with_image, None)
    assert estimate_length(with_image, 7) == 7  # the adapter's count wins


# -- auto batch size ----------------------------------------------------------------------------


class OutOfMemoryAbove(ModelAdapter):
    """Answers from the doc id; a batch larger than ``limit`` raises CUDA out-of-memory."""

    name = "oom-above"
    supported_kinds = frozenset({"generate"})

    def __init__(self, limit: int, error: str = "torch") -> None:
        self.limit = limit
        self.error = error
        self.sizes: list[int] = []
        self.answered: list[str] = []

    def fingerprint(self) -> str:
        return "oom-above-model"

    def generate(self, requests: Sequence[Request]) -> list[str]:
        import torch

        if len(requests) > self.limit:
            if self.error == "torch":
                raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")
            raise RuntimeError("CUDA error: out of memory")
        self.sizes.append(len(requests))
        self.answered += [r.doc_id for r in requests]
        return [f"answer {r.doc_id}" for r in requests]


@pytest.mark.parametrize("error", ["torch", "runtime"])
def test_auto_batch_size_halves_on_out_of_memory_and_retries(error, tmp_path) -> None:
    adapter = OutOfMemoryAbove(limit=3, error=error)
    results = evaluate_run(
        "oom-above", {}, ["demo_vqa"], tmp_path / "auto", limit=21, batch_size="auto",
        max_batch_size=16, adapter=adapter, progress=False,
    )  # fmt: skip
    # 16 -> 8 -> 4 -> 2: every request answered exactly once, never in a batch that failed
    assert sorted(adapter.answered) == sorted(
        r["doc_id"] for r in _samples(tmp_path / "auto", "demo_vqa")
    )
    assert len(adapter.answered) == 21 and max(adapter.sizes) == 2
    assert results["run"]["batch_size"] == "auto"
    execution = results["manifest"]["execution"]
    assert execution["batching"]["batch_size_used"] == {"demo_vqa": 2}
    assert execution["work"]["demo_vqa"][0]["oom_reductions"] == [16, 8, 4]
    fixed = evaluate_run(
        "oom-above", {}, ["demo_vqa"], tmp_path / "fixed", limit=21, batch_size=1,
        adapter=OutOfMemoryAbove(limit=3), progress=False,
    )  # fmt: skip
    assert [r["response"] for r in _samples(tmp_path / "auto", "demo_vqa")] == [
        r["response"] for r in _samples(tmp_path / "fixed", "demo_vqa")
    ]
    assert fixed["tasks"]["demo_vqa"]["metrics"] == results["tasks"]["demo_vqa"]["metrics"]


def test_fixed_batch_size_does_not_hide_out_of_memory(tmp_path) -> None:
    import torch

    with pytest.raises(torch.cuda.OutOfMemoryError):
        evaluate_run(
            "oom-above", {}, ["demo_vqa"], tmp_path / "run", limit=8, batch_size=4,
            adapter=OutOfMemoryAbove(limit=3), progress=False,
        )  # fmt: skip


def test_out_of_memory_at_batch_size_one_is_a_clear_error() -> None:
    def always_oom(batch: list[int]) -> None:
        raise RuntimeError("CUDA out of memory")

    sizer = BatchSizer(BatchSettings.parse("auto", max_size=4))
    with pytest.raises(OutOfMemoryAtBatchSizeOne, match="single request"):
        sizer.run([1, 2, 3], always_oom)
    assert sizer.reductions == [3]  # 3 items at once, then one: out of memory both times


def test_batch_settings_and_oom_detection() -> None:
    assert BatchSettings.parse("8").size == 8 and BatchSettings.parse(" AUTO ").auto
    with pytest.raises(ValueError, match="positive integer or 'auto'"):
        BatchSettings.parse("eight")
    with pytest.raises(ValueError, match="at least 1"):
        BatchSettings.parse(0)
    assert is_out_of_memory(RuntimeError("CUDA out of memory. Tried to allocate"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    assert not is_out_of_memory(ValueError("out of memory"))


# -- sorted batches and prefetching ----------------------------------------------------------


@pytest.mark.slow
def test_sorted_batches_and_prefetch_do_not_change_results(tmp_path, tiny_model_dir) -> None:
    """Batch 1 in the model loop vs batch 5 with two decoding threads: identical run logs."""
    from emu2_eval.models.tiny_vlm import TinyVLMAdapter

    adapter = TinyVLMAdapter(pretrained=str(tiny_model_dir))
    runs = {}
    for name, batch, workers in (("plain", 1, 0), ("prefetch", 5, 2)):
        runs[name] = evaluate_run(
            "tiny-vlm", {}, ["demo_vqa"], tmp_path / name, limit=20, batch_size=batch,
            prefetch_workers=workers, adapter=adapter, progress=False,
        )  # fmt: skip
    plain = (tmp_path / "plain" / "samples_demo_vqa.jsonl").read_bytes()
    assert (tmp_path / "prefetch" / "samples_demo_vqa.jsonl").read_bytes() == plain
    assert (
        runs["plain"]["tasks"]["demo_vqa"]["metrics"]
        == runs["prefetch"]["tasks"]["demo_vqa"]["metrics"]
    )


def test_prefetcher_decodes_ahead_once_per_image_and_leaves_failures_to_the_adapter(
    tmp_path, demo_dir
) -> None:
    images = sorted((demo_dir / "images" / "val2014").glob("*.jpg"))
    good = ImagePart.from_file(images[0])
    other = ImagePart.from_file(images[1])
    broken = ImagePart.from_file(tmp_path / "missing.jpg")
    requests = [
        Request("generate", (good, TextPart("a")), "t", "1"),
        Request("generate", (good, TextPart("b"), other), "t", "2"),
        Request("generate", (broken, TextPart("c")), "t", "3"),
        Request("generate", (TextPart("text only"),), "t", "4"),
    ]
    with ImagePrefetcher(requests, workers=2) as prefetcher:
        first = prefetcher.take([0, 1], ahead=2)
        assert set(first) == {good.key, other.key}
        assert first[good.key].size == good.load().size
        assert prefetcher.take([2, 3], ahead=2) == {}  # the broken image is not handed over

    from emu2_eval.core.prompts import ImageLoadError

    batch = PreparedImages(first)
    assert batch.load(good) is first[good.key]
    with pytest.raises(ImageLoadError, match="file not found"):
        batch.load(broken)  # not handed over: read now, failing as it would without prefetch
    assert ImagePrefetcher(requests[3:], workers=2).enabled is False


class ImageReader(ModelAdapter):
    """Answers with the size of each prompt's first image, as its kind method reads it."""

    supported_kinds = frozenset({"generate", "loglikelihood"})

    def fingerprint(self) -> str:
        return "reader"

    def prepare_image(self, image):
        return image.resize((3, 5))

    def generate(self, requests: Sequence[Request], images=None) -> list[str]:
        images = self.images_or_files(images)
        return [str(images.load(next(iter(images_of(r.prompt)))).size) for r in requests]

    def loglikelihood(self, requests: Sequence[Request]) -> list[list[float]]:
        return [[0.0] for _ in requests]  # reads no images: takes the requests alone


def test_the_batch_images_reach_the_kind_method_and_a_direct_call_reads_the_files(
    demo_dir: Path,
) -> None:
    """``run`` hands the batch's prepared images to the kind method; without them (a user's
    ``adapter.generate([request])``) the files are read and prepared; a kind method without an
    ``images`` parameter still runs."""
    from PIL import Image

    image = ImagePart.from_file(sorted((demo_dir / "images" / "val2014").glob("*.jpg"))[0])
    request = Request("generate", (image, TextPart("q")), "t", "1")
    reader = ImageReader()
    handed = PreparedImages({image.key: Image.new("RGB", (7, 2))}, reader.prepare_image)
    assert reader.run("generate", [request], handed) == ["(7, 2)"]
    assert reader.generate([request]) == ["(3, 5)"] == reader.run("generate", [request])
    scored = Request("loglikelihood", (image,), "t", "1", continuations=("a",))
    assert reader.run("loglikelihood", [scored], handed) == [[0.0]]


def test_the_adapter_contract_is_checked_when_the_class_is_made() -> None:
    """``fingerprint`` is abstract; a declared kind must be implemented and be a known kind."""

    class NoFingerprint(ModelAdapter):
        pass

    with pytest.raises(TypeError, match="fingerprint"):
        NoFingerprint()  # type: ignore[abstract]
    with pytest.raises(TypeError, match="declares 'generate' in supported_kinds but"):

        class Undeclared(ModelAdapter):
            supported_kinds = frozenset({"generate"})

            def fingerprint(self) -> str:
                return "u"

    with pytest.raises(TypeError, match="unknown request kind 'caption'"):

        class Unknown(ModelAdapter):
            supported_kinds = frozenset({"caption"})


def test_emu2_images_are_decoded_and_preprocessed_by_the_prefetch_workers(
    tiny_emu2_dir, demo_dir, tmp_path, monkeypatch
) -> None:
    """With prefetch workers, Emu2's resize + normalise runs in them, ahead of the model, and
    skips images whose visual tokens the feature cache holds; the per-sample outputs are the
    same in every configuration."""
    import threading

    from emu2_eval.engine.runner import FewShotSettings
    from emu2_eval.models.emu2.adapter import Emu2Adapter

    threads: list[str] = []
    prepare = Emu2Adapter.prepare_image

    def spy(self, image):
        threads.append(threading.current_thread().name)
        return prepare(self, image)

    monkeypatch.setattr(Emu2Adapter, "prepare_image", spy)
    outputs, prepared = {}, {}
    for workers, cache in ((0, 0), (2, 0), (2, 64)):
        threads.clear()
        run = tmp_path / f"workers{workers}-cache{cache}"
        args = {"pretrained": str(tiny_emu2_dir), "device": "cpu", "feature_cache": cache}
        evaluate_run(
            "emu2", args, ["demo_vqa"], run, limit=12, batch_size=3, progress=False,
            prefetch_workers=workers, fewshot=FewShotSettings(shots=2),
        )  # fmt: skip
        outputs[workers, cache] = [(r["doc_id"], r["response"]) for r in _samples(run, "demo_vqa")]
        prepared[workers, cache] = len(threads)
        expected = {"MainThread"} if workers == 0 else None
        assert threads and (
            set(threads) == expected
            if expected
            else all(t.startswith("emu2-eval-decode") for t in threads)
        )
    assert outputs[0, 0] == outputs[2, 0] == outputs[2, 64]
    assert prepared[0, 0] == 36  # 12 prompts x 3 images, each prepared where it is read
    # ahead of the model an image recurring within the window is prepared once (8 here), and
    # one whose visual tokens the cache already holds when its turn comes, not at all
    assert prepared[2, 64] < prepared[2, 0] < 36


# -- visual feature cache ---------------------------------------------------------------------


def test_feature_cache_is_lru_and_keyed_by_encoder() -> None:
    cache = FeatureCache(2)
    cache.put("enc", "a", 1)
    cache.put("enc", "b", 2)
    assert cache.get("enc", "a") == 1  # a is now the most recent
    cache.put("enc", "c", 3)  # evicts b
    assert cache.get("enc", "b") is None and cache.get("enc", "c") == 3
    assert cache.get("other-encoder", "a") is None
    assert cache.stats() == {"entries": 2, "hits": 2, "misses": 2}
    with pytest.raises(ValueError):
        FeatureCache(0)


def test_hf_feature_cache_gives_the_same_answers(tiny_model_dir, demo_dir) -> None:
    from emu2_eval.models.hf_vlm import HFVisionLanguageAdapter

    images = sorted((demo_dir / "images" / "val2014").glob("*.jpg"))
    one, two = ImagePart.from_file(images[0]), ImagePart.from_file(images[1])
    beams = (("max_new_tokens", 4), ("num_beams", 2))
    requests = [
        Request("generate", (one, TextPart("what color? short answer:")), "t", "a", beams),
        Request(
            "generate", (TextPart("x"), one, TextPart("and"), two, TextPart("?")), "t", "b", beams
        ),
    ]
    scoring = [
        Request("loglikelihood", (two, TextPart("a")), "t", "c", continuations=("red", "no"))
    ]
    plain = HFVisionLanguageAdapter(pretrained=str(tiny_model_dir), device="cpu")
    cached = HFVisionLanguageAdapter(pretrained=str(tiny_model_dir), device="cpu", feature_cache=4)
    assert cached.generate(requests) == plain.generate(requests)
    assert cached.generate(requests) == plain.generate(requests)  # now from the cache
    assert cached.loglikelihood(scoring) == plain.loglikelihood(scoring)
    # two images encoded once each; 3 + 3 lookups for the prompts, 1 for the loglikelihood
    assert cached.features is not None
    assert cached.features.stats() == {"entries": 2, "hits": 5, "misses": 2}
    assert cached.fingerprint() == plain.fingerprint()


def test_image_content_key_follows_bytes_not_names(tmp_path, demo_dir) -> None:
    from emu2_eval.core.prompts import ImageLoadError

    images = sorted((demo_dir / "images" / "val2014").glob("*.jpg"))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "img.jpg").write_bytes(images[0].read_bytes())
    (tmp_path / "b" / "img.jpg").write_bytes(images[1].read_bytes())  # same name, other picture
    (tmp_path / "b" / "copy.jpg").write_bytes(images[0].read_bytes())  # other name, same picture
    in_a = ImagePart.from_file(tmp_path / "a" / "img.jpg", key="img.jpg")
    in_b = ImagePart.from_file(tmp_path / "b" / "img.jpg", key="img.jpg")
    copy = ImagePart.from_file(tmp_path / "b" / "copy.jpg", key="copy.jpg")
    assert image_content_key(in_a) != image_content_key(in_b)
    assert image_content_key(in_a) == image_content_key(copy)
    assert image_content_key(in_a) == ImagePart.from_bytes(images[0].read_bytes()).key
    (tmp_path / "a" / "img.jpg").write_bytes(images[1].read_bytes() + b"\0")  # edited in place
    assert image_content_key(in_a) not in (image_content_key(in_b), image_content_key(copy))
    with pytest.raises(ImageLoadError, match=r"missing\.jpg: file not found"):
        image_content_key(ImagePart.from_file(tmp_path / "missing.jpg"))


def test_emu2_feature_cache_gives_the_same_answers(tiny_emu2_dir, demo_dir) -> None:
    """Few-shot style prompts share demonstration images: each distinct image is encoded once,
    and answers and log-probabilities equal those of the uncached adapter."""
    from emu2_eval.models.emu2.adapter import Emu2Adapter

    images = [
        ImagePart.from_file(p) for p in sorted((demo_dir / "images" / "val2014").glob("*.jpg"))
    ]
    demo_a, demo_b = images[0], images[1]
    greedy = (("max_new_tokens", 3), ("num_beams", 1))
    requests = [
        Request(
            "generate",
            (demo_a, TextPart("red. "), demo_b, TextPart("blue. "), query, TextPart("color?")),
            "t",
            str(i),
            greedy,
        )
        for i, query in enumerate(images[2:5])
    ]
    scoring = [
        Request("loglikelihood", (demo_a, TextPart("it?")), "t", "s", continuations=("yes", "no"))
    ]
    plain = Emu2Adapter(str(tiny_emu2_dir), device="cpu")
    cached = Emu2Adapter(str(tiny_emu2_dir), device="cpu", feature_cache=16)
    expected = plain.generate(requests)
    assert cached.generate(requests) == expected
    assert cached.features is not None
    assert cached.features.stats() == {"entries": 5, "hits": 4, "misses": 5}
    assert cached.generate(requests[:1]) == expected[:1]  # now all from the cache
    assert cached.features.stats()["misses"] == 5
    assert cached.loglikelihood(scoring)[0] == pytest.approx(plain.loglikelihood(scoring)[0])
    assert cached.fingerprint() == plain.fingerprint()
    assert cached.describe()["feature_cache"] == 16
    with pytest.raises(ValueError, match="feature_cache must be >= 0"):
        Emu2Adapter(str(tiny_emu2_dir), device="cpu", feature_cache=-1)


# -- placement --------------------------------------------------------------------------------


def test_max_memory_parsing() -> None:
    assert parse_max_memory("0:70GiB,1:70GiB") == {0: "70GiB", 1: "70GiB"}
    assert parse_max_memory("0:70GiB;1:60GiB;cpu:100GiB") == {
        0: "70GiB",
        1: "60GiB",
        "cpu": "100GiB",
    }
    assert parse_max_memory("70GiB") == {"*": "70GiB"}
    assert parse_max_memory("") is None
    with pytest.raises(ValueError, match="expected entries like"):
        parse_max_memory("gpu0:70GiB")
    with pytest.raises(ValueError, match="a replica has 2 GPU"):
        Topology(2, {2: "70GiB"})


def test_the_max_memory_model_argument_has_the_same_grammar_without_a_bare_size() -> None:
    """One parser (emu2_eval/core/devices.py) for ``--max-memory`` and the ``max_memory`` model
    argument of every adapter; the argument goes to accelerate, so it names every device."""
    from emu2_eval.core.devices import parse_model_max_memory

    assert parse_model_max_memory("0:30GiB;1:30GiB;cpu:90GiB") == {
        0: "30GiB",
        1: "30GiB",
        "cpu": "90GiB",
    }
    assert parse_model_max_memory("mps:8GiB") == {"mps": "8GiB"}
    assert parse_model_max_memory({0: "70GiB"}) == {0: "70GiB"}
    assert parse_model_max_memory(None) is None
    with pytest.raises(ValueError, match=r"max_memory: expected entries like .*got '70GiB'"):
        parse_model_max_memory("70GiB")
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        parse_model_max_memory({"gpu": "70GiB"})
    with pytest.raises(ValueError, match=r"--max-memory: .*unknown device 'mps'"):
        parse_max_memory("mps:8GiB")  # the CLI's topology places GPUs and the CPU only


def test_each_replica_gets_its_own_gpus() -> None:
    topology = Topology(2, parse_max_memory("0:70GiB,1:60GiB"))
    assert placement(topology, 1, 4, visible_gpus=8) == {
        "device_map": "auto",
        "max_memory": "2:70GiB;3:60GiB",
    }
    assert placement(Topology(2, {"*": "40GiB"}), 3, 4, 8)["max_memory"] == "6:40GiB;7:40GiB"
    assert placement(Topology(), 3, 8, 8) == {"device": "cuda:3"}
    assert placement(Topology(), 0, 1, 8) == {}  # plain single process: unchanged
    assert placement(Topology(), 0, 2, 0) == {}  # CPU
    with pytest.raises(ValueError, match="need 12 GPUs on this host but 8"):
        placement(Topology(3, {"*": "1GiB"}), 0, 4, 8)
    with pytest.raises(ValueError, match="none is visible"):
        placement(Topology(2), 0, 1, 0)


def test_placement_reaches_only_adapters_that_take_it() -> None:
    from emu2_eval.models.hf_vlm import HFVisionLanguageAdapter
    from emu2_eval.models.tiny_vlm import TinyVLMAdapter

    extra = {"device_map": "auto", "max_memory": "2:70GiB;3:70GiB"}
    args = apply_placement(HFVisionLanguageAdapter, "hf-vlm", {"pretrained": "x"}, extra)
    assert args == {"pretrained": "x", **extra}
    with pytest.raises(ValueError, match="takes no device_map, max_memory argument"):
        apply_placement(TinyVLMAdapter, "tiny-vlm", {}, extra)
    with pytest.raises(ValueError, match="remove device from --model-args"):
        apply_placement(HFVisionLanguageAdapter, "hf-vlm", {"device": "cuda:0"}, extra)
    assert apply_placement(TinyVLMAdapter, "tiny-vlm", {"dtype": "float32"}, {}) == {
        "dtype": "float32"
    }


def test_device_map_keeps_no_split_modules_whole(tiny_model_dir) -> None:
    """A replica on GPUs 2 and 3 (sizes from the command line); runs on CPU, nothing allocated."""
    import torch
    from accelerate import init_empty_weights
    from transformers import AutoConfig, AutoModelForImageTextToText

    with init_empty_weights():
        model = AutoModelForImageTextToText.from_config(AutoConfig.from_pretrained(tiny_model_dir))
    device_map = build_device_map(model, {2: "190KB", 3: "190KB", 4: "400KB"}, torch.float32)
    assert set(device_map.values()) <= {2, 3, 4} and len(set(device_map.values())) >= 2
    modules = dict(model.named_modules())
    no_split = set(model._no_split_modules)  # e.g. LlamaDecoderLayer, CLIPEncoderLayer
    for name in device_map:  # no entry lies inside a no-split module
        parts = name.split(".")
        ancestors = (modules[".".join(parts[:i])] for i in range(1, len(parts)))
        assert not any(type(m).__name__ in no_split for m in ancestors), name
    with pytest.raises(ValueError, match="too small for this model"):
        build_device_map(model, {2: "10KB", 3: "10KB"}, torch.float32)


# -- Fréchet distance -------------------------------------------------------------------------


def _reference_frechet(mu1, sigma1, mu2, sigma2) -> float:
    """pytorch-fid's formula with scipy.linalg.sqrtm."""
    from scipy import linalg

    covmean = linalg.sqrtm(sigma1 @ sigma2)
    covmean = covmean.real if np.iscomplexobj(covmean) else covmean
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def test_frechet_distance_agrees_with_sqrtm() -> None:
    """Sizes 8 to 256 are also checked in test_gen_fid.py; here: the zero distance of a set to
    itself and the refused mismatched covariances (the full 2048-d size added minutes only)."""
    from emu2_eval.scoring.metrics.frechet import frechet_distance

    dim = 64
    rng = np.random.default_rng(dim)
    a = rng.standard_normal((dim, dim + 32))
    b = rng.standard_normal((dim, dim + 32)) * 1.3 + 0.1
    sigma1, sigma2 = a @ a.T / (dim + 32), b @ b.T / (dim + 32)
    mu1, mu2 = rng.standard_normal(dim), rng.standard_normal(dim) + 0.5
    ours = frechet_distance(mu1, sigma1, mu2, sigma2)
    assert ours == pytest.approx(_reference_frechet(mu1, sigma1, mu2, sigma2), rel=1e-6)
    assert frechet_distance(mu1, sigma1, mu1, sigma1) == pytest.approx(0.0, abs=1e-6 * dim)
    with pytest.raises(ValueError, match="covariances must be"):
        frechet_distance(mu1, sigma1[:-1, :-1], mu2, sigma2)

"""CLIP-T, CLIP-I and DINO against independent computations on the same tiny backbones."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from emu2_eval.rundir.images import ImageStore
from emu2_eval.scoring.metrics.base import Sample
from emu2_eval.scoring.metrics.image_similarity import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    CLIPImageMetric,
    CLIPTextMetric,
    DINOMetric,
)
from emu2_eval.scoring.stats.intervals import metric_intervals
from emu2_eval.scoring.stats.resamplers import ScoredDoc

TEXTS = ["a red dog", "the cat in the snow", "a blue mug", "an orange", "green grass", "sky"]


def _picture(seed: int, size: tuple[int, int]) -> Image.Image:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (4, 5, 3)).astype(np.uint8)  # smooth: upsampled blocks
    return Image.fromarray(base).resize(size, Image.Resampling.BILINEAR)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, list[Sample]]:
    """Six docs of two subjects; generated PNGs in a run dir, real images in a dataset dir."""
    run = tmp_path_factory.mktemp("run")
    data = tmp_path_factory.mktemp("data")
    store = ImageStore(run)
    for k in range(4):
        _picture(100 + k, (50, 40) if k % 2 else (40, 40)).save(data / f"real{k}.png")
    samples = []
    for i, text in enumerate(TEXTS):
        refs = [store.put(_picture(10 * i + j, (40, 40) if j else (50, 40))) for j in range(2)]
        subject = "s0" if i < 3 else "s1"
        reals = ["real0.png", "real1.png"] if subject == "s0" else ["real2.png", "real3.png"]
        fields = {
            "prompt": text,
            "subject": subject,
            "reference_image": reals[0],
            "real_images": reals,
            "image_root": str(data),
        }
        samples.append(Sample(f"d{i}", fields, refs, run))
    return run, samples


def _images(run: Path, sample: Sample) -> list[Image.Image]:
    return [Image.open(run / ref["path"]).convert("RGB") for ref in sample.prediction]


class _FeatureShim(torch.nn.Module):
    """transformers 5 returns model outputs from get_*_features; torchmetrics 1.9 expects
    tensors. This shim hands torchmetrics the projection (pooler) output, nothing else."""

    def __init__(self, model) -> None:
        super().__init__()
        self.model, self.config = model, model.config

    def get_image_features(self, pixel_values):
        return self.model.get_image_features(pixel_values=pixel_values).pooler_output

    def get_text_features(self, input_ids, attention_mask=None):
        out = self.model.get_text_features(input_ids=input_ids, attention_mask=attention_mask)
        return out.pooler_output


def test_clip_t_matches_torchmetrics_clip_score(corpus, tiny_clip_dir: Path) -> None:
    from torchmetrics.functional.multimodal.clip_score import clip_score
    from transformers import CLIPModel, CLIPProcessor

    run, samples = corpus
    raw = CLIPTextMetric(backbone=str(tiny_clip_dir), device="cpu").score(samples)
    scaled = CLIPTextMetric(
        backbone=str(tiny_clip_dir), device="cpu", scale="x100_clamp_per_image"
    ).score(samples)
    shim = _FeatureShim(CLIPModel.from_pretrained(tiny_clip_dir).eval())
    processor = CLIPProcessor.from_pretrained(tiny_clip_dir)
    theirs, ours, unclipped = [], [], 0
    for sample in samples:
        per_image = []
        for image in _images(run, sample):
            tensor = torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1)
            score = clip_score(tensor, sample.fields["prompt"], lambda: (shim, processor))
            per_image.append(float(score))
        theirs.append(np.mean(per_image))
        ours.append(scaled.per_sample[sample.doc_id]["clip_t"])
        if all(v > 0 for v in per_image):  # no clipping: the raw cosine is theirs / 100
            unclipped += 1
            assert raw.per_sample[sample.doc_id]["clip_t"] * 100 == pytest.approx(
                np.mean(per_image), abs=1e-3
            )
    np.testing.assert_allclose(ours, theirs, atol=1e-3)
    assert unclipped >= 1 and raw.units["clip_t"] == "cosine"
    assert scaled.units["clip_t"] == "x100, each image clamped at 0"
    assert "resize shorter side 36" in raw.options["image_preprocess"]


def _torchmetrics_clip_score(run: Path, samples: list[Sample], clip_dir: Path) -> float:
    """torchmetrics' CLIPScore over every generated image of ``samples`` in one batch."""
    from torchmetrics.functional.multimodal.clip_score import clip_score
    from transformers import CLIPModel, CLIPProcessor

    shim = _FeatureShim(CLIPModel.from_pretrained(clip_dir).eval())
    processor = CLIPProcessor.from_pretrained(clip_dir)
    images, texts = [], []
    for sample in samples:
        for image in _images(run, sample):
            images.append(torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1))
            texts.append(sample.fields["prompt"])
    return float(clip_score(images, texts, lambda: (shim, processor)))


def _clip_t(samples: list[Sample], clip_dir: Path, scale: str):
    return CLIPTextMetric(backbone=str(clip_dir), device="cpu", scale=scale).score(samples)


def test_clip_t_clamp_mean_is_torchmetrics_clip_score(corpus, tiny_clip_dir: Path) -> None:
    """``x100_clamp_mean`` equals CLIPScore where the mean cosine is positive and where it is
    negative (0 there, while the per-image clamp is positive: the old ``torchmetrics`` scale)."""
    run, samples = corpus
    raw = _clip_t(samples, tiny_clip_dir, "raw")
    positive = [s for s in samples if raw.per_sample[s.doc_id]["clip_t"] > 0]
    assert positive and raw.summary["clip_t"] < 0, "the tiny CLIP must give both signs"
    theirs = _torchmetrics_clip_score(run, positive, tiny_clip_dir)
    assert theirs > 0
    ours = _clip_t(positive, tiny_clip_dir, "x100_clamp_mean")
    assert ours.summary["clip_t"] == pytest.approx(theirs, abs=1e-3)
    assert _torchmetrics_clip_score(run, samples, tiny_clip_dir) == 0.0
    clamp_mean = _clip_t(samples, tiny_clip_dir, "x100_clamp_mean")
    per_image = _clip_t(samples, tiny_clip_dir, "x100_clamp_per_image")
    assert clamp_mean.summary["clip_t"] == 0.0 < per_image.summary["clip_t"]
    assert clamp_mean.units["clip_t"] == "x100, the mean clamped at 0 (torchmetrics CLIPScore)"
    docs = [
        ScoredDoc(s.doc_id, s.fields, s.prediction, clamp_mean.per_sample[s.doc_id])
        for s in samples
    ]
    interval = metric_intervals("clip_t", docs, clamp_mean.summary, clamp_mean.options)["clip_t"]
    assert interval["low"] >= 0.0 and interval["high"] >= 0.0


def test_clip_scale_torchmetrics_is_refused_as_ambiguous() -> None:
    for metric in (CLIPTextMetric, CLIPImageMetric):
        with pytest.raises(
            ValueError, match=r"'torchmetrics' is ambiguous.*x100_clamp_mean.*x100_clamp_per_image"
        ):
            metric(scale="torchmetrics")


def test_backbone_weights_are_hashed(corpus, tiny_clip_dir: Path, tiny_dino_dir: Path) -> None:
    _, samples = corpus
    clip = CLIPTextMetric(backbone=str(tiny_clip_dir), device="cpu").score(samples[:1])
    dino = DINOMetric(backbone=str(tiny_dino_dir), resize=36, crop=32, device="cpu").score(
        samples[:1]
    )
    for result, directory in ((clip, tiny_clip_dir), (dino, tiny_dino_dir)):
        files = sorted(p for p in Path(directory).iterdir() if p.suffix == ".safetensors")
        expected = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
        assert files and result.options["weights_sha256"] == expected


def _independent_clip_embeddings(path: Path, images: list[Image.Image]) -> np.ndarray:
    from transformers import CLIPModel, CLIPProcessor

    model = CLIPModel.from_pretrained(path).eval()
    inputs = CLIPProcessor.from_pretrained(path)(images=images, return_tensors="pt")
    with torch.no_grad():
        features = model.get_image_features(pixel_values=inputs["pixel_values"]).pooler_output
    return torch.nn.functional.normalize(features, dim=-1).double().numpy()


def _independent_dino_embeddings(path: Path, images: list[Image.Image]) -> np.ndarray:
    from transformers import CLIPImageProcessor, ViTModel

    processor = CLIPImageProcessor(
        size={"shortest_edge": 36}, crop_size=32, image_mean=IMAGENET_MEAN, image_std=IMAGENET_STD
    )
    model = ViTModel.from_pretrained(path, add_pooling_layer=False).eval()
    with torch.no_grad():
        hidden = model(**processor(images=images, return_tensors="pt")).last_hidden_state
    return torch.nn.functional.normalize(hidden[:, 0], dim=-1).double().numpy()


@pytest.mark.parametrize("kind", ["clip_i", "dino"])
def test_image_similarity_in_both_conventions(kind, corpus, tiny_clip_dir, tiny_dino_dir) -> None:
    run, samples = corpus
    if kind == "clip_i":
        metric = CLIPImageMetric(backbone=str(tiny_clip_dir), device="cpu")
        embed = lambda images: _independent_clip_embeddings(tiny_clip_dir, images)  # noqa: E731
    else:
        metric = DINOMetric(backbone=str(tiny_dino_dir), resize=36, crop=32, device="cpu")
        embed = lambda images: _independent_dino_embeddings(tiny_dino_dir, images)  # noqa: E731
    result = metric.score(samples)
    root = Path(samples[0].fields["image_root"])
    for sample in samples:
        generated = embed(_images(run, sample))
        reals = embed([Image.open(root / k).convert("RGB") for k in sample.fields["real_images"]])
        scores = result.per_sample[sample.doc_id]
        assert scores[kind] == pytest.approx(float((generated @ reals[0]).mean()), abs=2e-5)
        assert scores[f"{kind}_all_pairs"] == pytest.approx(
            float((generated @ reals.T).mean()), abs=2e-5
        )
    assert result.summary[kind] == pytest.approx(
        np.mean([result.per_sample[s.doc_id][kind] for s in samples])
    )
    assert set(result.groups[f"{kind}/subject"]) == {"s0", "s1"}
    docs = [
        ScoredDoc(s.doc_id, s.fields, s.prediction, result.per_sample[s.doc_id]) for s in samples
    ]
    intervals = metric_intervals(kind, docs, result.summary, result.options)
    assert intervals[kind]["low"] <= result.summary[kind] <= intervals[kind]["high"]


def test_options_are_checked_and_backbones_named(tmp_path) -> None:
    with pytest.raises(ValueError, match="pairs 'some' is not one of"):
        CLIPImageMetric(pairs="some")
    with pytest.raises(ValueError, match="scale 'pct' is not one of"):
        CLIPTextMetric(scale="pct")
    metric = CLIPTextMetric(backbone=str(tmp_path / "nowhere"), device="cpu")
    sample = Sample("d", {"prompt": "x"}, [])
    with pytest.raises(OSError, match=r"cannot load the CLIP backbone.*`backbone:` option"):
        metric.score([sample])

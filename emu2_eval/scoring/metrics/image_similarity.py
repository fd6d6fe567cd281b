"""CLIP-T, CLIP-I and DINO: cosine similarities of generated images, with named backbones.

Every backbone is a metric option (``{name: clip_t, backbone: openai/clip-vit-base-patch32}``),
a hub id or a local path, loaded with ``from_pretrained`` (offline unless ``--online``).
Preprocessing is done here with PIL and torch and recorded with the result:

* CLIP: resize the shorter side to the checkpoint processor's ``shortest_edge`` with its
  resample filter (bicubic for OpenAI CLIP), center crop to ``crop_size``, scale to [0, 1],
  normalise with its mean/std (OpenAI's torchvision pipeline); text tokenised by the
  checkpoint's tokenizer, truncated to the text model's positions (77). Embeddings are the
  projection outputs, L2-normalised.
* DINO (ViT-S/16, ``facebook/dino-vits16``): resize the shorter side to 256 (bicubic), center
  crop 224, ImageNet mean/std; the CLS token of the last hidden state, L2-normalised.

Scores are raw cosines as the papers print them (``scale: raw``, e.g. 0.287). Two x100 scales
name what they compute: ``x100_clamp_per_image`` is 100 x max(cos, 0) per image, then the means;
``x100_clamp_mean`` is torchmetrics' ``CLIPScore``: 100 x cos per image, and the task's mean
(and each subject's) clamped at 0. They agree whenever every cosine is positive. The former
name ``torchmetrics`` (which computed the per-image clamp) is refused as ambiguous. ``key``
names the result (default: the metric's name, e.g. ``clip_i_vitl`` to match the paper's
table). ``pairs`` picks the DreamBench convention:
``reference`` (Kosmos-G: each generated image vs the subject's reference image, key ``clip_i`` /
``dino``), ``all_pairs`` (DreamBooth: vs every real image of the subject, mean over pairs, key
``*_all_pairs``) or ``both``. A document's score is the mean over its images, the task's the
mean over documents (equal when every doc has the same number of images, as in both tasks).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from emu2_eval.core.prompts import ImagePart
from emu2_eval.core.tiny_backbones import resolve_backbone
from emu2_eval.rundir.images import load_generated, references
from emu2_eval.scoring.metrics.base import Metric, MetricResult, Sample
from emu2_eval.scoring.metrics.weights_hash import backbone_weights_sha256
from emu2_eval.scoring.stats.resamplers import SummaryKeysMeanResampler

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PAIRS = ("reference", "all_pairs", "both")
SCALES = ("raw", "x100_clamp_per_image", "x100_clamp_mean")
SCALE_UNITS = {
    "raw": "cosine",
    "x100_clamp_per_image": "x100, each image clamped at 0",
    "x100_clamp_mean": "x100, the mean clamped at 0 (torchmetrics CLIPScore)",
}
AMBIGUOUS_SCALE = (
    "scale 'torchmetrics' is ambiguous and no longer accepted: use x100_clamp_mean "
    "(torchmetrics' CLIPScore: 100 x the mean cosine, clamped at 0) or x100_clamp_per_image "
    "(100 x max(cos, 0) per image, then the mean; what 'torchmetrics' used to compute)"
)


# -- preprocessing --------------------------------------------------------------------------
def resize_center_crop(image: Any, resize: int, crop: int, resample: int = 3) -> Any:
    """torchvision's ``Resize(resize)`` + ``CenterCrop(crop)`` on a PIL image, in PIL."""
    width, height = image.size
    short, long = (width, height) if width <= height else (height, width)
    new_long = int(resize * long / short)
    size = (resize, new_long) if width <= height else (new_long, resize)
    if (width, height) != size:
        image = image.resize(size, resample=resample)
    width, height = image.size
    top = round((height - crop) / 2.0)  # torchvision rounds (half to even)
    left = round((width - crop) / 2.0)
    return image.crop((left, top, left + crop, top + crop))


def to_tensor(image: Any, mean: Sequence[float], std: Sequence[float]) -> Any:
    """HWC uint8 -> CHW float32 in [0, 1], normalised."""
    import torch

    array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    tensor = torch.from_numpy(array).permute(2, 0, 1)
    mean_t = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)
    return (tensor - mean_t) / std_t


def _normalise(features: Any) -> np.ndarray:
    array = features.detach().float().cpu().numpy().astype(np.float64)
    return array / np.linalg.norm(array, axis=1, keepdims=True)


def _device(device: str) -> str:
    from emu2_eval.core.devices import resolve_device

    return resolve_device(device)


def _load_error(kind: str, backbone: str, exc: Exception) -> OSError:
    return OSError(
        f"cannot load the {kind} backbone {backbone!r} ({type(exc).__name__}: {exc}); download it "
        f"(`hf download {backbone}`), run with --online, or give a local path as the metric's "
        "`backbone:` option in the task YAML"
    )


# -- backbones ------------------------------------------------------------------------------
class CLIPBackbone:
    """CLIP image and text embeddings (projection outputs, L2-normalised)."""

    def __init__(self, backbone: str, device: str = "auto", batch_size: int = 32) -> None:
        import torch
        from transformers import AutoTokenizer, CLIPImageProcessor, CLIPModel

        self.backbone, self.device, self.batch_size = backbone, _device(device), batch_size
        self.path = resolve_backbone(backbone)  # a built-in name (tiny-clip): its directory
        try:
            self.model = CLIPModel.from_pretrained(self.path).to(self.device).eval()
            self.tokenizer = AutoTokenizer.from_pretrained(self.path)
            processor = CLIPImageProcessor.from_pretrained(self.path)
        except (OSError, ValueError) as exc:
            raise _load_error("CLIP", backbone, exc) from None
        config = processor.to_dict()  # plain values, whatever the processor backend
        size, crop = config["size"], config["crop_size"]
        self.resize = int(size.get("shortest_edge") or size["height"])
        self.crop = int(crop["height"] if isinstance(crop, Mapping) else crop)
        self.mean, self.std = tuple(config["image_mean"]), tuple(config["image_std"])
        self.resample = int(config["resample"])
        self.max_length = int(self.model.config.text_config.max_position_embeddings)
        self._torch = torch

    def describe(self) -> dict[str, Any]:
        return {
            "backbone": self.backbone,
            "image_preprocess": f"resize shorter side {self.resize} (PIL filter {self.resample}),"
            f" center crop {self.crop}, mean {list(self.mean)}, std {list(self.std)}",
            "text": f"checkpoint tokenizer, truncated to {self.max_length} tokens",
            "embedding": "projection output, L2-normalised",
            "weights_sha256": backbone_weights_sha256(self.path),
        }

    def _features(self, output: Any) -> Any:
        return output if isinstance(output, self._torch.Tensor) else output.pooler_output

    def embed_images(self, images: Sequence[Any]) -> np.ndarray:
        out = []
        for start in range(0, len(images), self.batch_size):
            chunk = images[start : start + self.batch_size]
            pixels = self._torch.stack(
                [
                    to_tensor(
                        resize_center_crop(im, self.resize, self.crop, self.resample),
                        self.mean,
                        self.std,
                    )
                    for im in chunk
                ]
            )
            with self._torch.inference_mode():
                features = self.model.get_image_features(pixel_values=pixels.to(self.device))
            out.append(_normalise(self._features(features)))
        return np.concatenate(out)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        out = []
        for start in range(0, len(texts), self.batch_size):
            tokens = self.tokenizer(
                list(texts[start : start + self.batch_size]),
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            ).to(self.device)
            with self._torch.inference_mode():
                features = self.model.get_text_features(
                    input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]
                )
            out.append(_normalise(self._features(features)))
        return np.concatenate(out)


class DINOBackbone:
    """DINO ViT CLS embeddings (last hidden state, token 0, L2-normalised)."""

    def __init__(
        self,
        backbone: str,
        resize: int = 256,
        crop: int = 224,
        device: str = "auto",
        batch_size: int = 32,
    ) -> None:
        import torch
        from transformers import ViTModel

        self.backbone, self.resize, self.crop = backbone, resize, crop
        self.device, self.batch_size = _device(device), batch_size
        self.path = resolve_backbone(backbone)  # a built-in name (tiny-dino): its directory
        try:
            self.model = ViTModel.from_pretrained(self.path, add_pooling_layer=False)
        except (OSError, ValueError) as exc:
            raise _load_error("DINO", backbone, exc) from None
        self.model = self.model.to(self.device).eval()
        if self.model.config.image_size != crop:
            raise ValueError(
                f"DINO backbone {backbone!r} takes {self.model.config.image_size} px inputs but "
                f"the metric crops {crop} px: set the metric's `crop:` (and `resize:`) options"
            )
        self._torch = torch

    def describe(self) -> dict[str, Any]:
        return {
            "backbone": self.backbone,
            "image_preprocess": f"resize shorter side {self.resize} (bicubic), center crop "
            f"{self.crop}, ImageNet mean/std",
            "embedding": "CLS token of the last hidden state, L2-normalised",
            "weights_sha256": backbone_weights_sha256(self.path),
        }

    def embed_images(self, images: Sequence[Any]) -> np.ndarray:
        out = []
        for start in range(0, len(images), self.batch_size):
            pixels = self._torch.stack(
                [
                    to_tensor(
                        resize_center_crop(im, self.resize, self.crop), IMAGENET_MEAN, IMAGENET_STD
                    )
                    for im in images[start : start + self.batch_size]
                ]
            )
            with self._torch.inference_mode():
                hidden = self.model(pixel_values=pixels.to(self.device)).last_hidden_state
            out.append(_normalise(hidden[:, 0]))
        return np.concatenate(out)


@functools.lru_cache(maxsize=4)
def clip_backbone(backbone: str, device: str, batch_size: int) -> CLIPBackbone:
    """One loaded CLIP per (backbone, device) in a process (CLIP-T and CLIP-I share it)."""
    return CLIPBackbone(backbone, device, batch_size)


@functools.lru_cache(maxsize=2)
def dino_backbone(backbone: str, resize: int, crop: int, device: str, batch_size: int):
    return DINOBackbone(backbone, resize, crop, device, batch_size)


# -- scoring helpers ------------------------------------------------------------------------
class SimilarityResampler(SummaryKeysMeanResampler):
    """Image-similarity keys (CLIP-T, CLIP-I, DINO): each the mean of a stored per-document
    score, clamped at 0 under ``x100_clamp_mean``: exact bootstrap."""

    sample_label: ClassVar[str] = "cosine similarity"

    def statistics(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        means = super().statistics(weights)
        if self.options.get("scale") == "x100_clamp_mean":
            return {key: np.maximum(value, 0.0) for key, value in means.items()}
        return means


def real_image(fields: Mapping[str, Any], key: str) -> Any:
    """A real image named by a doc (a key relative to the doc's ``image_root``)."""
    if "image_root" not in fields:
        raise ValueError("doc has no 'image_root': cannot locate its real images")
    return ImagePart.from_file(Path(fields["image_root"]) / key, key=key).load()


@dataclass
class _Scored:
    per_doc: dict[str, dict[str, float]]
    groups: dict[str, dict[str, float]]


def _aggregate(samples: Sequence[Sample], per_doc: dict[str, dict[str, float]]) -> _Scored:
    """Group means by subject when docs have one (DreamBench)."""
    groups: dict[str, dict[str, float]] = {}
    if all("subject" in s.fields for s in samples):
        for key in next(iter(per_doc.values()), {}):
            by_subject: dict[str, list[float]] = {}
            for s in samples:
                by_subject.setdefault(str(s.fields["subject"]), []).append(per_doc[s.doc_id][key])
            groups[f"{key}/subject"] = {k: float(np.mean(v)) for k, v in by_subject.items()}
    return _Scored(per_doc, groups)


class _SimilarityMetric(Metric):
    """Shared: loading generated images, scaling, per-doc means, result assembly."""

    scorer_options = ("backbone", "pairs")

    resampler = SimilarityResampler
    higher_is_better = True
    units_label = "cosine"

    def _scale(self, cosines: np.ndarray) -> np.ndarray:
        if self.options["scale"] == "x100_clamp_per_image":
            return 100.0 * np.maximum(cosines, 0.0)
        if self.options["scale"] == "x100_clamp_mean":
            return 100.0 * cosines  # clamped after averaging, in _result
        return cosines

    def _result(self, samples: Sequence[Sample], per_doc: dict[str, dict[str, float]]):
        scored = _aggregate(samples, per_doc)
        keys = list(next(iter(per_doc.values()), {}))
        summary = {k: float(np.mean([scores[k] for scores in per_doc.values()])) for k in keys}
        if self.options["scale"] == "x100_clamp_mean":
            summary = {k: max(v, 0.0) for k, v in summary.items()}
            scored.groups = {
                g: {k: max(v, 0.0) for k, v in means.items()} for g, means in scored.groups.items()
            }
        unit = SCALE_UNITS[self.options["scale"]]
        return MetricResult(
            summary=summary,
            per_sample=scored.per_doc,
            groups=scored.groups,
            units=dict.fromkeys(keys, unit),
            options=self.options,
        )

    @staticmethod
    def _check(choice: str, valid: tuple[str, ...], option: str) -> None:
        if option == "scale" and choice == "torchmetrics":
            raise ValueError(AMBIGUOUS_SCALE)
        if choice not in valid:
            raise ValueError(f"{option} {choice!r} is not one of {', '.join(valid)}")

    def _clip(self) -> CLIPBackbone:
        """The CLIP of the options (loaded once per process); its description is recorded."""
        clip = clip_backbone(
            self.options["backbone"], self.options["device"], self.options["batch_size"]
        )
        self.options = {**self.options, **clip.describe()}
        return clip

    @staticmethod
    def generated(sample: Sample) -> list[Any]:
        return [load_generated(ref, sample.run_dir) for ref in references(sample.prediction)]


class _PairedImageMetric(_SimilarityMetric):
    """Image-image similarity (CLIP-I, DINO) in the Kosmos-G and/or DreamBooth convention."""

    required_fields = ("reference_image", "real_images", "image_root")

    def _embedder(self) -> Callable[[Sequence[Any]], np.ndarray]:
        raise NotImplementedError

    def score(self, samples: Sequence[Sample]) -> MetricResult:
        if not samples:
            return MetricResult(summary={}, options=self.options)
        embed = self._embedder()
        real_cache: dict[tuple[str, str], np.ndarray] = {}

        def real(fields: Mapping[str, Any], key: str) -> np.ndarray:
            where = (str(fields["image_root"]), key)
            if where not in real_cache:
                real_cache[where] = embed([real_image(fields, key)])[0]
            return real_cache[where]

        per_doc: dict[str, dict[str, float]] = {}
        pairs = self.options["pairs"]
        for sample in samples:
            generated = embed(self.generated(sample))
            scores: dict[str, float] = {}
            if pairs in ("reference", "both"):
                cos = generated @ real(sample.fields, str(sample.fields["reference_image"]))
                scores[self.options["key"]] = float(self._scale(cos).mean())
            if pairs in ("all_pairs", "both"):
                reals = np.stack([real(sample.fields, k) for k in sample.fields["real_images"]])
                scores[f"{self.options['key']}_all_pairs"] = float(
                    self._scale(generated @ reals.T).mean()
                )
            per_doc[sample.doc_id] = scores
        return self._result(samples, per_doc)


class CLIPTextMetric(_SimilarityMetric):
    """CLIP-T: generated image vs its prompt text (doc field ``text_field``)."""

    name = "clip_t"

    def __init__(
        self,
        backbone: str = "openai/clip-vit-base-patch32",
        text_field: str = "prompt",
        scale: str = "raw",
        key: str = "clip_t",
        device: str = "auto",
        batch_size: int = 32,
    ) -> None:
        self._check(scale, SCALES, "scale")
        self.options = {
            "backbone": backbone,
            "text_field": text_field,
            "scale": scale,
            "key": key,
            "device": device,
            "batch_size": batch_size,
        }
        self.required_fields = (text_field,)

    def score(self, samples: Sequence[Sample]) -> MetricResult:
        if not samples:
            return MetricResult(summary={}, options=self.options)
        clip = self._clip()
        texts = clip.embed_texts([str(s.fields[self.options["text_field"]]) for s in samples])
        per_doc = {}
        for sample, text in zip(samples, texts, strict=True):
            cos = clip.embed_images(self.generated(sample)) @ text
            per_doc[sample.doc_id] = {self.options["key"]: float(self._scale(cos).mean())}
        return self._result(samples, per_doc)


class CLIPImageMetric(_PairedImageMetric):
    """CLIP-I: generated image vs real image(s), CLIP image embeddings."""

    name = "clip_i"

    def __init__(
        self,
        backbone: str = "openai/clip-vit-base-patch32",
        pairs: str = "both",
        scale: str = "raw",
        key: str = "clip_i",
        device: str = "auto",
        batch_size: int = 32,
    ) -> None:
        self._check(pairs, PAIRS, "pairs")
        self._check(scale, SCALES, "scale")
        self.options = {
            "backbone": backbone,
            "pairs": pairs,
            "scale": scale,
            "key": key,
            "device": device,
            "batch_size": batch_size,
        }

    def _embedder(self) -> Callable[[Sequence[Any]], np.ndarray]:
        return self._clip().embed_images


class DINOMetric(_PairedImageMetric):
    """DINO: generated image vs real image(s), DINO ViT CLS embeddings."""

    name = "dino"

    def __init__(
        self,
        backbone: str = "facebook/dino-vits16",
        pairs: str = "both",
        resize: int = 256,
        crop: int = 224,
        key: str = "dino",
        device: str = "auto",
        batch_size: int = 32,
    ) -> None:
        self._check(pairs, PAIRS, "pairs")
        self.options = {
            "backbone": backbone,
            "pairs": pairs,
            "scale": "raw",
            "resize": resize,
            "crop": crop,
            "key": key,
            "device": device,
            "batch_size": batch_size,
        }

    def _embedder(self) -> Callable[[Sequence[Any]], np.ndarray]:
        dino = dino_backbone(
            self.options["backbone"],
            self.options["resize"],
            self.options["crop"],
            self.options["device"],
            self.options["batch_size"],
        )
        self.options = {**self.options, **dino.describe()}
        return dino.embed_images

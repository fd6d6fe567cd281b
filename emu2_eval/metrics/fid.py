"""FID and KID of generated images against a recorded reference set, TF-FID compatible.

Features: the FID Inception network (the TF 2015-12-05 graph ported to PyTorch by
torch-fidelity, file ``weights-inception-2015-12-05-6726825d.pth``), 2048-d pool features,
through torchmetrics' ``NoTrainInceptionV3`` with ``antialias=False``: images are resized to
299 x 299 by TF1-style bilinear interpolation without antialiasing, as TF FID does (torchmetrics
>= 1.8 antialiases by default). The weights come from the metric's ``weights:`` option or the
torch hub cache (``<torch hub dir>/checkpoints/``); they are never downloaded here, and
torchvision's ImageNet Inception is never substituted: missing weights are an error that says
what to download and where.

Images go in as the saved uint8 PNGs (generated) and the dataset's files (real), each at its own
size. Statistics are float64; the Fréchet distance is
:func:`emu2_eval.metrics.frechet.frechet_distance`.
KID is the unbiased polynomial-kernel MMD (degree 3, gamma 1/d, coef 1) averaged over seeded
random subsets. N generated, N real and the reference set are recorded with the result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from emu2_eval.engine.image_store import load_generated, references
from emu2_eval.metrics.base import Metric, MetricResult, Sample
from emu2_eval.metrics.frechet import frechet_distance
from emu2_eval.prompts import ImagePart

INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_URL = (
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/" + INCEPTION_FILE
)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
Extractor = Callable[[Any], Any]  # uint8 (N, 3, H, W) tensor -> (N, D) features


class FIDWeightsError(FileNotFoundError):
    """The FID Inception weights (or torch-fidelity, which defines the network) are missing."""


def default_weights_path() -> Path:
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE


def inception_extractor(weights: str | None = None, device: str = "auto") -> Extractor:
    """The FID Inception (2048-d pool3) as torchmetrics builds it, weights from a local file."""
    path = Path(weights).expanduser() if weights else default_weights_path()
    problems = []
    if not path.is_file():
        problems.append(
            f"the FID Inception weights {path} are missing: download {INCEPTION_URL} to "
            f"{default_weights_path()} (or anywhere, and set the fid metric's `weights:` option)"
        )
    from torchmetrics.utilities.imports import _TORCH_FIDELITY_AVAILABLE

    if not _TORCH_FIDELITY_AVAILABLE:
        problems.append(
            "torch-fidelity, which defines the FID Inception network, is not installed: "
            "pip install torch-fidelity (it needs torchvision)"
        )
    if problems:
        raise FIDWeightsError("; ".join(problems))
    from torchmetrics.image.fid import NoTrainInceptionV3

    from emu2_eval.models.hf_vlm import resolve_device

    network = NoTrainInceptionV3(
        name="inception-v3-compat",
        features_list=["2048"],
        feature_extractor_weights_path=str(path),
        antialias=False,
    ).to(resolve_device(device))
    return network


def uint8_tensor(image: Any) -> Any:
    """A PIL image as a (1, 3, H, W) uint8 tensor (no resizing: the extractor does it)."""
    import torch

    array = np.asarray(image.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).unsqueeze(0)


def _device_of(extractor: Extractor) -> Any:
    try:
        return next(extractor.parameters()).device  # type: ignore[attr-defined]
    except (AttributeError, StopIteration):
        return "cpu"


def extract_features(
    extractor: Extractor, images: Iterable[Any], batch_size: int = 32
) -> np.ndarray:
    """(N, D) float64 features; consecutive images of one size are batched together."""
    import torch

    rows: list[np.ndarray] = []
    batch: list[Any] = []
    device = _device_of(extractor)

    def flush() -> None:
        if batch:
            with torch.inference_mode():
                features = extractor(torch.cat(batch).to(device))
            rows.append(features.double().cpu().numpy())
            batch.clear()

    for image in images:
        tensor = uint8_tensor(image)
        if batch and (tensor.shape != batch[0].shape or len(batch) >= batch_size):
            flush()
        batch.append(tensor)
    flush()
    if not rows:
        raise ValueError("no images to extract features from")
    return np.concatenate(rows)


def statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance (N - 1), float64."""
    features = np.asarray(features, dtype=np.float64)
    if features.shape[0] < 2:
        raise ValueError(f"FID needs at least 2 images per set, got {features.shape[0]}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def fid_from_features(real: np.ndarray, generated: np.ndarray) -> float:
    mu_r, sigma_r = statistics(real)
    mu_g, sigma_g = statistics(generated)
    return frechet_distance(mu_g, sigma_g, mu_r, sigma_r)


def kid_from_features(
    real: np.ndarray,
    generated: np.ndarray,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float, int]:
    """(mean, std over subsets, subset size used) of the unbiased polynomial MMD^2."""
    real = np.asarray(real, dtype=np.float64)
    generated = np.asarray(generated, dtype=np.float64)
    size = min(subset_size, real.shape[0], generated.shape[0])
    if size < 2:
        raise ValueError("KID needs at least 2 images per set")
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(subsets):
        x = real[rng.choice(real.shape[0], size, replace=False)]
        y = generated[rng.choice(generated.shape[0], size, replace=False)]
        values.append(_poly_mmd(x, y))
    return float(np.mean(values)), float(np.std(values)), size


def _poly_mmd(x: np.ndarray, y: np.ndarray) -> float:
    gamma = 1.0 / x.shape[1]
    k_xx = (x @ x.T * gamma + 1.0) ** 3
    k_yy = (y @ y.T * gamma + 1.0) ** 3
    k_xy = (x @ y.T * gamma + 1.0) ** 3
    m = x.shape[0]
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2.0 * k_xy.sum() / (m * m))


def fid_pipeline(
    extractor: Extractor,
    generated: Iterable[Any],
    real: Iterable[Any],
    batch_size: int = 32,
    kid: bool = True,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Features of both sets -> FID (and KID) with the counts that produced them."""
    fake = extract_features(extractor, generated, batch_size)
    reference = extract_features(extractor, real, batch_size)
    out: dict[str, Any] = {
        "fid": fid_from_features(reference, fake),
        "n_generated": int(fake.shape[0]),
        "n_real": int(reference.shape[0]),
    }
    if kid:
        mean, std, size = kid_from_features(reference, fake, kid_subsets, kid_subset_size, seed)
        out.update(kid=mean, kid_std=std, kid_subset_size=size, kid_subsets=kid_subsets)
    return out


def reference_files(reference: str, samples: Sequence[Sample]) -> tuple[list[Path], str]:
    """The real images: the docs' own (``docs``) or every image file of a directory."""
    if reference == "docs":
        files = {}
        for sample in samples:
            root = Path(sample.fields["image_root"])
            for key in sample.fields["real_images"]:
                files[str(root / key)] = root / key
        return list(files.values()), "the real images of the scored docs (deduplicated)"
    from emu2_eval.tasks.config import resolve_roots

    directory = Path(resolve_roots(reference))
    if not directory.is_dir():
        raise FileNotFoundError(f"fid reference directory {directory} not found")
    files = sorted(p for p in directory.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    return files, f"all {len(files)} images of {directory}"


class FIDMetric(Metric):
    """``fid`` (and ``kid``, ``kid_std``): generated images vs a reference set; lower is better."""

    name = "fid"
    higher_is_better: ClassVar[dict[str, bool]] = {"fid": False, "kid": False, "kid_std": False}

    def __init__(
        self,
        reference: str = "docs",
        weights: str | None = None,
        kid: bool = True,
        kid_subsets: int = 100,
        kid_subset_size: int = 1000,
        seed: int = 0,
        device: str = "auto",
        batch_size: int = 32,
    ) -> None:
        self.options: dict[str, Any] = {
            "reference": reference,
            "weights": weights,
            "kid": kid,
            "kid_subsets": kid_subsets,
            "kid_subset_size": kid_subset_size,
            "seed": seed,
            "device": device,
            "batch_size": batch_size,
            "features": "FID Inception (TF 2015-12-05), pool3 2048-d",
            "resize": "299x299, TF1 bilinear without antialiasing",
            "statistics": "float64",
        }

    def score(self, samples: Sequence[Sample]) -> MetricResult:
        if not samples:
            return MetricResult(summary={}, options=self.options)
        extractor = inception_extractor(self.options["weights"], self.options["device"])
        return self.score_with(extractor, samples)

    def score_with(self, extractor: Extractor, samples: Sequence[Sample]) -> MetricResult:
        """Score with a given feature extractor (the Inception in :meth:`score`)."""
        files, described = reference_files(self.options["reference"], samples)
        generated = (load_generated(ref) for s in samples for ref in references(s.prediction))
        real = (ImagePart.from_file(path).load() for path in files)
        out = fid_pipeline(
            extractor,
            generated,
            real,
            self.options["batch_size"],
            self.options["kid"],
            self.options["kid_subsets"],
            self.options["kid_subset_size"],
            self.options["seed"],
        )
        summary = {k: out[k] for k in ("fid", "kid", "kid_std") if k in out}
        counts = {k: v for k, v in out.items() if k not in summary}
        return MetricResult(
            summary=summary,
            units={"fid": "FID", "kid": "KID (MMD^2)", "kid_std": "KID (MMD^2)"},
            options={**self.options, **counts, "reference_set": described},
        )

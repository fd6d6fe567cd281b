"""FID and KID of generated images against a recorded reference set, TF-FID compatible.

Features (``backbone``): the FID Inception network (the TF 2015-12-05 graph as ported to
PyTorch, ``weights-inception-2015-12-05-6726825d.pth`` of torch-fidelity or pytorch-fid's
``pt_inception-2015-12-05-6726825d.pth``), 2048-d pool features.

* ``inception_tf`` (default): the project's own network on plain torch
  (:mod:`emu2_eval.scoring.metrics.inception`), no torchvision or torch-fidelity needed. Images are
  resized to 299 x 299 by TF1 ``resize_bilinear`` (asymmetric, no half-pixel centres, no
  antialiasing), as the TF FID code and torch-fidelity do, then mapped by (x - 128) / 128.
  clean-fid's ``legacy_tensorflow`` mode does no resize outside its network (TorchScript port of
  the same graph, which resizes inside); its ``clean`` mode (PIL bicubic, antialiased) and
  ``legacy_pytorch``/pytorch-fid (half-pixel bilinear) give other numbers.
* ``torchmetrics``: torchmetrics' ``NoTrainInceptionV3`` with ``antialias=False`` (the previous
  default; needs torch-fidelity, hence torchvision).

The weights come from the metric's ``weights:`` option (a local file; an http(s) URL only with
``--online``) or the torch hub cache (``<torch hub dir>/checkpoints/``); they are never
downloaded offline, and torchvision's ImageNet Inception is never substituted: missing weights are
an error that says what to download and where. The file's path and sha256 are recorded.

Images go in as the saved uint8 PNGs (generated) and the dataset's files (real), each at its own
size. Statistics are float64; the Fréchet distance is
:func:`emu2_eval.scoring.metrics.frechet.frechet_distance`.
KID is the unbiased polynomial-kernel MMD (degree 3, gamma 1/d, coef 1) averaged over seeded
random subsets drawn by a named convention (``kid_sampling``, see :func:`kid_subsets`); a subset
size larger than either set is an error, as in torchmetrics and torch-fidelity. N generated,
N real and the reference set are recorded with the result.

No bootstrap interval: FID and KID are statistics of whole feature sets (a covariance matrix, a
kernel over pairs) and the per-image features are not stored, so resampling documents would mean
extracting every feature again per resample; results say so instead of giving a number.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from emu2_eval.core.prompts import ImagePart
from emu2_eval.rundir.images import load_generated, references
from emu2_eval.scoring.metrics.base import Metric, MetricResult, Sample
from emu2_eval.scoring.metrics.frechet import frechet_distance

INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_URL = (
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/" + INCEPTION_FILE
)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
BACKBONES = ("inception_tf", "torchmetrics")
RESIZE = {
    "inception_tf": "299x299, TF1 resize_bilinear (align_corners=False, no half-pixel centres, "
    "no antialiasing), then (x - 128) / 128",
    "torchmetrics": "299x299, torch-fidelity's TF1 bilinear via torchmetrics (antialias=False)",
}
NO_INTERVAL = (
    "not available: FID and KID are statistics of the whole feature sets and per-image features "
    "are not stored, so a bootstrap would re-extract every feature per resample"
)
Extractor = Callable[[Any], Any]  # uint8 (N, 3, H, W) tensor -> (N, D) features


class FIDWeightsError(FileNotFoundError):
    """The FID Inception weights (or torch-fidelity, for the torchmetrics backbone) are missing."""


def default_weights_path() -> Path:
    """The first published file name present in the torch hub cache (else torch-fidelity's)."""
    import torch

    from emu2_eval.scoring.metrics.inception import PUBLISHED_FILES

    folder = Path(torch.hub.get_dir()) / "checkpoints"
    for name in PUBLISHED_FILES:
        if (folder / name).is_file():
            return folder / name
    return folder / INCEPTION_FILE


def _online() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0") not in ("1", "true", "True", "yes")


def resolve_weights(weights: str | None) -> Path:
    """The local weights file: the option, a URL fetched into the hub cache (online), the cache."""
    if weights and weights.startswith(("http://", "https://")):
        import torch

        target = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights).name
        if not target.is_file():
            if not _online():
                raise FIDWeightsError(
                    f"the fid metric's `weights:` is the URL {weights}, which is only downloaded "
                    f"with --online; or download it yourself to {target}"
                )
            target.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(weights, str(target))
        return target
    path = Path(weights).expanduser() if weights else default_weights_path()
    if not path.is_file():
        raise FIDWeightsError(
            f"the FID Inception weights {path} are missing: download {INCEPTION_URL} to "
            f"{default_weights_path()} (or anywhere, and set the fid metric's `weights:` option)"
        )
    return path


def inception_extractor(
    weights: str | None = None, device: str = "auto", backbone: str = "inception_tf"
) -> Extractor:
    """The FID Inception (2048-d pool3), weights from a local file (see :func:`resolve_weights`)."""
    from emu2_eval.core.devices import resolve_device

    path = resolve_weights(weights)
    if backbone == "inception_tf":
        from emu2_eval.scoring.metrics.inception import load_fid_inception

        return load_fid_inception(path, resolve_device(device))
    from torchmetrics.utilities.imports import _TORCH_FIDELITY_AVAILABLE

    if not _TORCH_FIDELITY_AVAILABLE:
        raise FIDWeightsError(
            "the fid metric's `backbone: torchmetrics` needs torch-fidelity, which defines its "
            "network: pip install torch-fidelity (it needs torchvision), or use the default "
            "`backbone: inception_tf`"
        )
    from torchmetrics.image.fid import NoTrainInceptionV3

    return NoTrainInceptionV3(
        name="inception-v3-compat",
        features_list=["2048"],
        feature_extractor_weights_path=str(path),
        antialias=False,
    ).to(resolve_device(device))


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


KID_SAMPLING = ("project", "torchmetrics", "torch_fidelity")
KID_DEFAULT_SEED = {"project": 0, "torchmetrics": 0, "torch_fidelity": 2020}


def kid_subsets(
    sampling: str, n_real: int, n_generated: int, subsets: int, size: int, seed: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(real rows, generated rows) of each KID subset, drawn as the named library draws them.

    * ``project``: ``np.random.default_rng(seed).choice`` without replacement, real set first.
    * ``torchmetrics``: ``torch.randperm`` prefixes, real set first, from a generator seeded
      ``seed`` (torchmetrics uses the global torch RNG: equal after ``torch.manual_seed(seed)``).
    * ``torch_fidelity``: ``np.random.RandomState(seed).choice`` without replacement, generated
      set first (its ``input1``); its default seed is 2020.
    """
    if sampling == "torchmetrics":
        import torch

        generator = torch.Generator().manual_seed(seed)
        for _ in range(subsets):
            real = torch.randperm(n_real, generator=generator)[:size].numpy()
            fake = torch.randperm(n_generated, generator=generator)[:size].numpy()
            yield real, fake
    elif sampling == "torch_fidelity":
        state = np.random.RandomState(seed)
        for _ in range(subsets):
            fake = state.choice(n_generated, size, replace=False)
            yield state.choice(n_real, size, replace=False), fake
    elif sampling == "project":
        rng = np.random.default_rng(seed)
        for _ in range(subsets):
            real = rng.choice(n_real, size, replace=False)
            yield real, rng.choice(n_generated, size, replace=False)
    else:
        raise ValueError(
            f"fid metric option kid_sampling {sampling!r} is not one of {', '.join(KID_SAMPLING)}"
        )


def kid_from_features(
    real: np.ndarray,
    generated: np.ndarray,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int | None = None,
    sampling: str = "project",
) -> tuple[float, float, int]:
    """(mean, population std over subsets, subset size) of the unbiased polynomial MMD^2.

    ``seed`` None is the convention's own default (:data:`KID_DEFAULT_SEED`). A subset size
    larger than either set raises, as torchmetrics and torch-fidelity do.
    """
    real = np.asarray(real, dtype=np.float64)
    generated = np.asarray(generated, dtype=np.float64)
    if sampling not in KID_SAMPLING:
        raise ValueError(
            f"fid metric option kid_sampling {sampling!r} is not one of {', '.join(KID_SAMPLING)}"
        )
    if subset_size < 2:
        raise ValueError(f"fid metric option kid_subset_size must be at least 2, got {subset_size}")
    if subset_size > min(real.shape[0], generated.shape[0]):
        raise ValueError(
            f"fid metric option kid_subset_size {subset_size} is larger than the sets "
            f"({generated.shape[0]} generated, {real.shape[0]} real images): set kid_subset_size "
            f"to at most {min(real.shape[0], generated.shape[0])}, or kid: false"
        )
    seed = KID_DEFAULT_SEED[sampling] if seed is None else seed
    draws = kid_subsets(sampling, real.shape[0], generated.shape[0], subsets, subset_size, seed)
    values = [_poly_mmd(real[r], generated[g]) for r, g in draws]
    return float(np.mean(values)), float(np.std(values)), subset_size


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
    seed: int | None = None,
    kid_sampling: str = "project",
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
        mean, std, size = kid_from_features(
            reference, fake, kid_subsets, kid_subset_size, seed, kid_sampling
        )
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

    scorer_options = ("backbone", "reference")

    name = "fid"
    resampler = None  # FID and KID are statistics of whole feature sets: see NO_INTERVAL
    higher_is_better: ClassVar[dict[str, bool]] = {"fid": False, "kid": False, "kid_std": False}
    interval_unavailable: ClassVar[str] = NO_INTERVAL

    def __init__(
        self,
        reference: str = "docs",
        weights: str | None = None,
        backbone: str = "inception_tf",
        kid: bool = True,
        kid_subsets: int = 100,
        kid_subset_size: int = 1000,
        kid_sampling: str = "project",
        seed: int | None = None,
        device: str = "auto",
        batch_size: int = 32,
    ) -> None:
        if backbone not in BACKBONES:
            raise ValueError(
                f"fid metric option backbone {backbone!r} is not one of {', '.join(BACKBONES)}"
            )
        if kid_sampling not in KID_SAMPLING:
            raise ValueError(
                f"fid metric option kid_sampling {kid_sampling!r} is not one of "
                f"{', '.join(KID_SAMPLING)}"
            )
        self.options: dict[str, Any] = {
            "reference": reference,
            "weights": weights,
            "backbone": backbone,
            "kid": kid,
            "kid_subsets": kid_subsets,
            "kid_subset_size": kid_subset_size,
            "kid_sampling": kid_sampling,
            "seed": KID_DEFAULT_SEED[kid_sampling] if seed is None else seed,
            "device": device,
            "batch_size": batch_size,
            "features": "FID Inception (TF 2015-12-05), pool3 2048-d",
            "resize": RESIZE[backbone],
            "statistics": "float64",
            "intervals": NO_INTERVAL,
        }

    def score(self, samples: Sequence[Sample]) -> MetricResult:
        if not samples:
            return MetricResult(summary={}, options=self.options)
        from emu2_eval.scoring.metrics.weights_hash import sha256_of

        path = resolve_weights(self.options["weights"])
        self.options = {
            **self.options,
            "weights_file": str(path),
            "weights_sha256": sha256_of(path),
        }
        extractor = inception_extractor(str(path), self.options["device"], self.options["backbone"])
        return self.score_with(extractor, samples)

    def score_with(self, extractor: Extractor, samples: Sequence[Sample]) -> MetricResult:
        """Score with a given feature extractor (the Inception in :meth:`score`)."""
        files, described = reference_files(self.options["reference"], samples)
        generated = (
            load_generated(ref, s.run_dir) for s in samples for ref in references(s.prediction)
        )
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
            self.options["kid_sampling"],
        )
        summary = {k: out[k] for k in ("fid", "kid", "kid_std") if k in out}
        counts = {k: v for k, v in out.items() if k not in summary}
        return MetricResult(
            summary=summary,
            units={"fid": "FID", "kid": "KID (MMD^2)", "kid_std": "KID (MMD^2)"},
            options={**self.options, **counts, "reference_set": described},
        )

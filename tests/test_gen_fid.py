"""FID/KID: float64 Fréchet distance vs scipy; the pipeline vs torchmetrics on the same features.

The feature network here is a TEST DOUBLE (a tiny seeded conv net), NOT the FID Inception: it
only stands in for the network so that the statistics, the distance and the bookkeeping can be
compared with torchmetrics without the 91 MB weights.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import linalg

from emu2_eval.rundir.images import ImageStore
from emu2_eval.scoring.metrics.base import Sample
from emu2_eval.scoring.metrics.fid import (
    INCEPTION_FILE,
    INCEPTION_URL,
    KID_SAMPLING,
    FIDMetric,
    FIDWeightsError,
    fid_pipeline,
    kid_from_features,
)
from emu2_eval.scoring.metrics.frechet import frechet_distance

N = 24


def _scipy_fd(mu1, s1, mu2, s2) -> float:
    covmean = linalg.sqrtm(s1 @ s2).real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


@pytest.mark.parametrize("dim", [8, 64, 256])
def test_frechet_distance_agrees_with_scipy_sqrtm(dim: int) -> None:
    rng = np.random.default_rng(dim)
    a = rng.normal(size=(4 * dim, dim))
    b = rng.normal(size=(4 * dim, dim)) @ rng.normal(size=(dim, dim)) * 0.3 + 0.2
    mu1, s1, mu2, s2 = a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
    ours = frechet_distance(mu1, s1, mu2, s2)
    assert ours == pytest.approx(_scipy_fd(mu1, s1, mu2, s2), rel=1e-6)


class FeatureDouble(torch.nn.Module):
    """TEST DOUBLE, NOT the FID Inception: uint8 (N, 3, H, W) -> 8 pooled conv features."""

    num_features = 8

    def __init__(self) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 8, 3, stride=2)
        with torch.no_grad():
            self.conv.weight.copy_(torch.randn(self.conv.weight.shape, generator=generator))
            self.conv.bias.zero_()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = torch.tanh(self.conv(images.float() / 255.0))
        return torch.nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)


def _pictures(seed: int, tint: int) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(N):
        array = rng.integers(0, 255, (8, 8, 3)).astype(np.int64) + tint
        out.append(Image.fromarray(np.clip(array, 0, 255).astype(np.uint8)).resize((32, 32)))
    return out


def _stack(images: list[Image.Image]) -> torch.Tensor:
    return torch.stack([torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1) for im in images])


@pytest.fixture(scope="module")
def sets(tmp_path_factory) -> tuple[Path, list[Sample], list[Image.Image], list[Image.Image]]:
    run, data = tmp_path_factory.mktemp("run"), tmp_path_factory.mktemp("real")
    generated, real = _pictures(1, 40), _pictures(2, 0)
    store = ImageStore(run)
    samples = []
    for i, (fake, photo) in enumerate(zip(generated, real, strict=True)):
        photo.save(data / f"{i:02d}.png")
        fields = {"image_root": str(data), "real_images": [f"{i:02d}.png"]}
        samples.append(Sample(str(i), fields, [store.put(fake)], run))
    return run, samples, generated, real


def test_fid_pipeline_equals_torchmetrics_on_the_same_features(sets) -> None:
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    _, samples, generated, real = sets
    double = FeatureDouble().eval()
    ours = fid_pipeline(double, generated, real, kid_subsets=1, kid_subset_size=N)
    reference = FrechetInceptionDistance(feature=double)
    reference.update(_stack(real), real=True)
    reference.update(_stack(generated), real=False)
    assert ours["fid"] == pytest.approx(float(reference.compute()), rel=1e-6)
    assert ours["n_generated"] == ours["n_real"] == N and ours["fid"] > 0
    kid = KernelInceptionDistance(feature=double, subsets=1, subset_size=N)
    kid.update(_stack(real), real=True)
    kid.update(_stack(generated), real=False)
    assert ours["kid"] == pytest.approx(float(kid.compute()[0]), rel=1e-4)
    result = FIDMetric(kid_subsets=1, kid_subset_size=N).score_with(double, samples)
    assert result.summary["fid"] == pytest.approx(ours["fid"], rel=1e-12)
    assert result.options["n_generated"] == N and "scored docs" in result.options["reference_set"]
    assert FIDMetric.higher_is_better["fid"] is False


def test_kid_subsets_are_seeded() -> None:
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(50, 6)), rng.normal(size=(40, 6)) + 0.5
    assert kid_from_features(real, fake, 10, 20, seed=3) == kid_from_features(real, fake, 10, 20, 3)
    assert kid_from_features(real, fake, 10, 20, seed=3)[2] == 20


# Fixed features shared with the scratch-venv run of torch-fidelity 0.4.0 (see
# tests/test_fid_inception.py): real 60 x 16, generated 50 x 16, from default_rng(11).
def _kid_features() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    real = rng.normal(size=(60, 16))
    fake = rng.normal(size=(50, 16)) * 1.1 + 0.2
    return real, fake


# torch-fidelity's kid_features_to_metric(generated, real, kid_subsets=10, kid_subset_size=20,
# rng_seed=seed) on float64 tensors of _kid_features(): (mean, std)
TORCH_FIDELITY_KID = {
    2020: (0.00041175405566260535, 0.1097988869755755),
    7: (0.02349963249343192, 0.0876352698902816),
}


@pytest.mark.parametrize("seed", [2020, 7])
def test_kid_torch_fidelity_convention_equals_torch_fidelity(seed: int) -> None:
    real, fake = _kid_features()
    mean, std, _ = kid_from_features(real, fake, 10, 20, seed, sampling="torch_fidelity")
    assert (mean, std) == pytest.approx(TORCH_FIDELITY_KID[seed], rel=1e-9, abs=1e-12)
    if seed == 2020:  # its default seed is the convention's default
        assert kid_from_features(real, fake, 10, 20, None, "torch_fidelity")[:2] == (mean, std)


@pytest.mark.parametrize("seed", [0, 5])
def test_kid_torchmetrics_convention_equals_torchmetrics(seed: int) -> None:
    from torchmetrics.image.kid import KernelInceptionDistance

    real, fake = _kid_features()
    kid = KernelInceptionDistance(feature=FeatureDouble(), subsets=10, subset_size=20)
    kid.real_features.append(torch.from_numpy(real))
    kid.fake_features.append(torch.from_numpy(fake))
    torch.manual_seed(seed)  # torchmetrics draws from the global torch RNG
    theirs = [float(v) for v in kid.compute()]
    ours = kid_from_features(real, fake, 10, 20, seed, sampling="torchmetrics")
    assert ours[:2] == pytest.approx(theirs, rel=1e-9, abs=1e-12)


def test_kid_conventions_differ_and_project_is_unchanged() -> None:
    """The three conventions draw different subsets; ``project`` keeps the old draws."""
    real, fake = _kid_features()
    values = {s: kid_from_features(real, fake, 10, 20, 0, s)[0] for s in KID_SAMPLING}
    assert len(set(values.values())) == 3
    rng = np.random.default_rng(0)  # the previous implementation, written out
    old = []
    for _ in range(10):
        x = real[rng.choice(60, 20, replace=False)]
        y = fake[rng.choice(50, 20, replace=False)]
        k = lambda a, b: (a @ b.T / 16 + 1) ** 3  # noqa: E731
        within = (k(x, x).sum() - np.trace(k(x, x)) + k(y, y).sum() - np.trace(k(y, y))) / 380
        old.append(within - 2 * k(x, y).sum() / 400)
    assert values["project"] == pytest.approx(np.mean(old), rel=1e-12)


def test_kid_subset_larger_than_a_set_is_an_error() -> None:
    """Both libraries raise here (torch-fidelity: 'KID subset size 51 cannot be smaller than
    the number of samples (input_1: 50, input_2: 60)'); the old code silently used 50."""
    real, fake = _kid_features()
    for sampling in KID_SAMPLING:
        with pytest.raises(ValueError, match="kid_subset_size 51 is larger than the sets"):
            kid_from_features(real, fake, 10, 51, 0, sampling)
    assert kid_from_features(real, fake, 2, 50, 0)[2] == 50


def test_kid_sampling_is_recorded(sets) -> None:
    _, samples, _, _ = sets
    result = FIDMetric(kid_subsets=2, kid_subset_size=N, kid_sampling="torch_fidelity").score_with(
        FeatureDouble().eval(), samples
    )
    assert result.options["kid_sampling"] == "torch_fidelity" and result.options["seed"] == 2020
    assert result.options["kid_subset_size"] == N


def test_missing_inception_weights_say_what_to_download(sets, tmp_path) -> None:
    _, samples, _, _ = sets
    metric = FIDMetric(weights=str(tmp_path / "absent.pth"))
    with pytest.raises(FIDWeightsError) as info:
        metric.score(samples)
    message = str(info.value)
    assert INCEPTION_URL in message and INCEPTION_FILE in message and "absent.pth" in message

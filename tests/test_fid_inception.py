"""The project's FID Inception against figures of torch-fidelity and clean-fid, and FID end to end.

The reference figures below were produced OUTSIDE the project, in a scratch venv
(torch 2.5.1+cu124 run on CPU, torchvision 0.20.1, torch-fidelity 0.4.0, clean-fid 0.1.35) by a
script that: loaded the random-weight file built by ``tests/fid_fixtures.py`` (seed 0, the
published layout) into torch-fidelity's ``FeatureExtractorInceptionV3`` with its strict
``load_state_dict`` (so every name and shape of our layout is the published one), extracted the
2048-d features of ``fixed_images(1)`` and ``fixed_images(2)``, computed torch-fidelity's FID on
them, resized ``fixed_images(1)`` with torch-fidelity's
``interpolate_bilinear_2d_like_tensorflow1x`` and with clean-fid's resizers, and ran
torch-fidelity's KID on fixed features (tests/test_gen_fid.py). Only the numbers are here, never
their code. clean-fid's ``legacy_tensorflow`` mode resizes inside NVIDIA's TorchScript port of
the graph, downloaded from NVIDIA's CDN, which this machine cannot reach: only its outside-network
step (the identity, checked) and its other two modes were run.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import linalg

from emu2_eval.rundir.images import ImageStore
from emu2_eval.scoring.metrics.base import Sample
from emu2_eval.scoring.metrics.fid import FIDMetric, FIDWeightsError, extract_features
from emu2_eval.scoring.metrics.inception import (
    InceptionWeightsError,
    load_fid_inception,
    published_layout,
    resize_tf1_bilinear,
)
from emu2_eval.scoring.stats.intervals import metric_intervals
from emu2_eval.scoring.stats.resamplers import ScoredDoc
from tests.fid_fixtures import fixed_images, random_published_weights

# -- figures from torch-fidelity 0.4.0 (FeatureExtractorInceptionV3, strict load) ------------
TF_LAYOUT = {"tensors": 472, "params": 23_885_392}
TF_SHAPES = {
    "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
    "Mixed_6b.branch7x7_2.conv.weight": (128, 128, 1, 7),
    "Mixed_7c.branch_pool.bn.running_var": (192,),
    "fc.weight": (1008, 2048),
}
TF_FIRST4 = {
    1: [
        [1.135864496231079, 7.183111667633057, 3.5403592586517334, 17.817808151245117],
        [0.9961889982223511, 7.752416610717773, 3.7455220222473145, 19.08863067626953],
        [0.9421306252479553, 7.603475093841553, 4.031881809234619, 16.764423370361328],
        [1.1082926988601685, 7.5218377113342285, 3.801833152770996, 20.539264678955078],
    ],
    2: [
        [0.5518023371696472, 5.760831832885742, 3.1260294914245605, 12.906928062438965],
        [0.8422906994819641, 7.918560028076172, 4.535536289215088, 19.847980499267578],
        [1.1105514764785767, 8.846914291381836, 5.100146770477295, 22.315885543823242],
        [0.9250785708427429, 6.600004196166992, 3.4111199378967285, 15.904844284057617],
    ],
}
TF_SUMS = {
    1: [7678.415997892473, 8289.69086475682, 7973.86189402906, 8529.003982240218],
    2: [5843.695950496185, 8853.167317884734, 9330.752340039704, 7355.9744911564285],
}
TF_FID_GEN1_REAL2 = 2623.8979054451893  # torch-fidelity's fid_statistics_to_metric
# torch-fidelity's TF1 resize of fixed_images(1) to 299x299: sum and four (channel, row, column)
TF_RESIZE_AT = [(0, 0, 0), (1, 17, 250), (2, 298, 298), (0, 150, 3)]
TF_RESIZE = [
    (34092341.9889287, [142.0, 111.58343505859375, 69.0, 208.58409118652344]),
    (33718916.29625254, [102.0, 165.34046936035156, 229.1464080810547, 237.8046112060547]),
    (33232127.0, [130.0, 175.0, 48.0, 0.0]),
    (33459560.094313323, [71.0, 224.39260864257812, 149.9334716796875, 175.4766845703125]),
]
# clean-fid 0.1.35: legacy_pytorch resizer (half-pixel bilinear) sums, pixel (row 17, col 250, ch 1)
CLEANFID_LEGACY_PYTORCH = [
    (34101548.23907365, 111.25989532470703),
    (33719024.03605894, 160.69635009765625),
    (33232127.0, 175.0),
    (33467159.473156556, 214.9698486328125),
]
# clean-fid's ``clean`` mode (PIL bicubic on float channels) sums; legacy_tensorflow: identity
CLEANFID_CLEAN_SUMS = [34101968.73321238, 33718071.792848304, 33232127.0, 33462436.79287798]


def save_random_weights(path: Path, with_counters: bool = False) -> Path:
    """The seeded random weights in the published layout, as a plain state-dict .pth."""
    arrays = random_published_weights(published_layout(), seed=0)
    state = {k: torch.from_numpy(v) for k, v in arrays.items()}
    if with_counters:  # torch state_dict() writes these; the loader must not care
        for name in [k for k in state if k.endswith("bn.running_var")]:
            state[name.replace("running_var", "num_batches_tracked")] = torch.tensor(0)
    torch.save(state, path)
    return path


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image.copy()).permute(2, 0, 1)[None]


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory) -> Path:
    return save_random_weights(tmp_path_factory.mktemp("inception") / "random.pth")


@pytest.fixture(scope="module")
def scored(weights_file: Path, tmp_path_factory):
    """The fid metric end to end on the two fixed sets (generated: set 1, real: set 2), saved as
    PNGs, with the features its extractor produced captured on the way."""
    from emu2_eval.scoring.metrics import fid as fid_module

    run, data = tmp_path_factory.mktemp("run"), tmp_path_factory.mktemp("real")
    store = ImageStore(run)
    samples = []
    for i, (fake, real) in enumerate(zip(fixed_images(1), fixed_images(2), strict=True)):
        Image.fromarray(real).save(data / f"{i}.png")
        fields = {"image_root": str(data), "real_images": [f"{i}.png"]}
        samples.append(Sample(str(i), fields, [store.put(Image.fromarray(fake))], run))
    captured: list[np.ndarray] = []

    def spy(extractor, images, batch_size=32):
        captured.append(extract_features(extractor, images, batch_size))
        return captured[-1]

    metric = FIDMetric(weights=str(weights_file), kid_subset_size=4, kid_subsets=3, device="cpu")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fid_module, "extract_features", spy)
        result = metric.score(samples)
    return result, {1: captured[0], 2: captured[1]}


def test_layout_is_torch_fidelitys_published_layout() -> None:
    layout = published_layout()
    assert len(layout) == TF_LAYOUT["tensors"]
    assert sum(int(np.prod(shape)) for shape in layout.values()) == TF_LAYOUT["params"]
    for name, shape in TF_SHAPES.items():
        assert layout[name] == shape


def test_random_weight_features_equal_torch_fidelitys(scored) -> None:
    _, features = scored
    for seed in (1, 2):
        np.testing.assert_allclose(features[seed][:, :4], TF_FIRST4[seed], rtol=2e-5)
        np.testing.assert_allclose(features[seed].sum(axis=1), TF_SUMS[seed], rtol=2e-6)


def _independent_fid(real: np.ndarray, generated: np.ndarray) -> float:
    """pytorch-fid's formula, float64, scipy's matrix square root."""
    mu1, mu2 = generated.mean(0), real.mean(0)
    s1, s2 = np.cov(generated, rowvar=False), np.cov(real, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")
def test_fid_on_two_fixed_sets_equals_float64_reference(scored, weights_file) -> None:
    """The metric (random-weight Inception) vs float64 scipy on its features, and torch-fidelity."""
    result, features = scored
    independent = _independent_fid(features[2], features[1])
    assert result.summary["fid"] == pytest.approx(independent, rel=1e-6)
    assert result.summary["fid"] == pytest.approx(TF_FID_GEN1_REAL2, rel=1e-5)
    options = result.options
    assert options["backbone"] == "inception_tf" and options["n_generated"] == 4
    assert options["weights_sha256"] == hashlib.sha256(weights_file.read_bytes()).hexdigest()
    assert "TF1 resize_bilinear" in options["resize"] and options["kid_sampling"] == "project"


def test_resize_is_torch_fidelitys_tf1_bilinear_not_clean_fids_pytorch_or_clean() -> None:
    for image, (total, pixels), (legacy_sum, legacy_pixel), clean_sum in zip(
        fixed_images(1), TF_RESIZE, CLEANFID_LEGACY_PYTORCH, CLEANFID_CLEAN_SUMS, strict=True
    ):
        resized = resize_tf1_bilinear(_tensor(image))
        assert resized.shape == (1, 3, 299, 299)
        assert float(resized.double().sum()) == pytest.approx(total, rel=1e-7)
        got = [float(resized[0, c, r, q]) for c, r, q in TF_RESIZE_AT]
        np.testing.assert_allclose(got, pixels, atol=2e-4)
        if image.shape[:2] == (299, 299):  # identity, as clean-fid legacy_tensorflow outside
            assert torch.equal(resized[0], _tensor(image)[0].float())
            assert total == legacy_sum == clean_sum
        else:  # the half-pixel (legacy_pytorch) and PIL (clean) resizes are other functions
            assert abs(float(resized.double().sum()) - legacy_sum) > 50
            assert abs(float(resized.double().sum()) - clean_sum) > 50
            assert abs(float(resized[0, 1, 17, 250]) - legacy_pixel) > 0.05


def test_loader_accepts_counters_and_names_a_wrong_tensor(tmp_path, weights_file) -> None:
    with_counters = load_fid_inception(save_random_weights(tmp_path / "c.pth", True))
    plain = load_fid_inception(weights_file).state_dict()
    loaded = with_counters.state_dict()
    assert all(torch.equal(loaded[k], plain[k]) for k in published_layout())
    state = torch.load(tmp_path / "c.pth", weights_only=True)
    state["Mixed_5b.branch1x1.conv.weight"] = torch.zeros(64, 192, 3, 3)
    state["Mixed_5b.extra.weight"] = torch.zeros(1)
    del state["fc.bias"]
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(InceptionWeightsError) as info:
        load_fid_inception(tmp_path / "bad.pth")
    message = str(info.value)
    for part in ("bad.pth", "fc.bias", "Mixed_5b.extra.weight", "Mixed_5b.branch1x1.conv.weight"):
        assert part in message
    assert "[64, 192, 3, 3]" in message and "[64, 192, 1, 1]" in message


def test_default_cache_path_records_file_and_hash(tmp_path, monkeypatch) -> None:
    """With no `weights:` the hub cache is searched (pytorch-fid's name too) and the file hashed."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    cached = tmp_path / "hub" / "checkpoints" / "pt_inception-2015-12-05-6726825d.pth"
    save_random_weights(cached)
    run, data = tmp_path / "run", tmp_path / "real"
    data.mkdir()
    store = ImageStore(run)
    samples = []
    for i, image in enumerate(fixed_images(4, sizes=((40, 40),) * 2)):
        Image.fromarray(image[::-1].copy()).save(data / f"{i}.png")
        fields = {"image_root": str(data), "real_images": [f"{i}.png"]}
        samples.append(Sample(str(i), fields, [store.put(Image.fromarray(image))], run))
    result = FIDMetric(kid=False, device="cpu").score(samples)
    assert result.options["weights"] is None and result.options["weights_file"] == str(cached)
    assert result.options["weights_sha256"] == hashlib.sha256(cached.read_bytes()).hexdigest()


def test_url_weights_are_refused_offline(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    metric = FIDMetric(weights="https://example.org/weights-inception-2015-12-05-6726825d.pth")
    sample = Sample("0", {"image_root": str(tmp_path), "real_images": []}, [])
    with pytest.raises(FIDWeightsError, match="only downloaded with --online"):
        metric.score([sample])


def test_bad_fid_options_are_refused() -> None:
    with pytest.raises(ValueError, match="backbone 'torchvision' is not one of inception_tf"):
        FIDMetric(backbone="torchvision")
    with pytest.raises(ValueError, match="kid_sampling 'numpy' is not one of project"):
        FIDMetric(kid_sampling="numpy")


def test_fid_and_kid_intervals_say_why_not_available() -> None:
    docs = [ScoredDoc(str(i), {}, None, {}) for i in range(3)]
    entries = metric_intervals("fid", docs, {"fid": 12.0, "kid": 0.01}, {})
    for key in ("fid", "kid"):
        assert entries[key]["low"] is None and entries[key]["high"] is None
        assert "statistics of the whole feature sets" in entries[key]["method"]

"""The FID Inception network (TF graph ``inception-2015-12-05``) on plain torch, no torchvision.

FID and KID are only comparable across papers when the features come from the TensorFlow
Inception graph of 2015-12-05 that the original TTUR code used; torchvision's ImageNet Inception
gives other numbers. Its weights were ported to PyTorch twice under one name,
``weights-inception-2015-12-05-6726825d.pth`` (torch-fidelity, torchmetrics) and
``pt_inception-2015-12-05-6726825d.pth`` (pytorch-fid), both in the layout of torchvision's
``Inception3`` (``Conv2d_1a_3x3.conv.weight``, ``Mixed_5b.branch1x1.bn.running_var``, ...,
``fc.weight`` of 1008 classes). This module builds that network with the same parameter names so
either file loads unchanged, with the TF differences kept: batch norm eps 0.001, average pools
that ignore padding, and a max pool in the last block's pool branch.

Input: uint8 images (N, 3, H, W) of any size. They are resized to 299 x 299 by TF1's
``resize_bilinear`` (``align_corners=False``, no half-pixel centres, no antialiasing), the
resize of the TF FID code and torch-fidelity, then mapped to [-1, 1) by (x - 128) / 128.
Output: the 2048-d average-pooled features (``pool_3``), float32.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

INPUT_SIZE = 299
FEATURES = 2048
CLASSES = 1008
PUBLISHED_FILES = (
    "weights-inception-2015-12-05-6726825d.pth",
    "pt_inception-2015-12-05-6726825d.pth",
)


class InceptionWeightsError(ValueError):
    """A weights file that is not the FID Inception in the published layout."""


# -- resize ---------------------------------------------------------------------------------
def _axis(in_size: int, out_size: int, device: Any) -> tuple[torch.Tensor, torch.Tensor, Any]:
    """Source indices and weights of TF1 bilinear along one axis: src = dst * in / out."""
    scale = in_size / out_size
    src = torch.arange(out_size, dtype=torch.float32, device=device) * scale
    low = src.floor().long().clamp(max=in_size - 1)
    high = (low + 1).clamp(max=in_size - 1)
    return low, high, src - low.float()


def resize_tf1_bilinear(images: torch.Tensor, size: int = INPUT_SIZE) -> torch.Tensor:
    """TF1 ``resize_bilinear(align_corners=False)``: float32 (N, C, H, W) -> (N, C, size, size).

    Differs from ``F.interpolate(mode="bilinear", align_corners=False)`` (half-pixel centres,
    pytorch-fid and clean-fid's ``legacy_pytorch``) and from PIL (antialiased when shrinking).
    """
    x = images.float()
    top, bottom, wy = _axis(x.shape[-2], size, x.device)
    left, right, wx = _axis(x.shape[-1], size, x.device)
    rows = x[..., top, :] + (x[..., bottom, :] - x[..., top, :]) * wy.view(-1, 1)
    return rows[..., left] + (rows[..., right] - rows[..., left]) * wx


# -- network --------------------------------------------------------------------------------
class ConvBN(nn.Module):
    """Conv (no bias) + batch norm (eps 1e-3, as in TF) + ReLU; names ``conv`` and ``bn``."""

    def __init__(self, cin: int, cout: int, kernel: Any, stride: int = 1, padding: Any = 0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg_pool(x: torch.Tensor) -> torch.Tensor:
    """TF's 3x3 average pool: padded positions are not counted."""
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class BlockA(nn.Module):
    """35 x 35 block (Mixed_5b..5d): 1x1, 5x5, double 3x3 and pooled branches."""

    def __init__(self, cin: int, pool_features: int):
        super().__init__()
        self.branch1x1 = ConvBN(cin, 64, 1)
        self.branch5x5_1 = ConvBN(cin, 48, 1)
        self.branch5x5_2 = ConvBN(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = ConvBN(cin, 64, 1)
        self.branch3x3dbl_2 = ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = ConvBN(96, 96, 3, padding=1)
        self.branch_pool = ConvBN(cin, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch1x1(x), b5, b3, self.branch_pool(_avg_pool(x))], 1)


class BlockB(nn.Module):
    """Reduction 35 -> 17 (Mixed_6a)."""

    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3 = ConvBN(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = ConvBN(cin, 64, 1)
        self.branch3x3dbl_2 = ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = ConvBN(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), b3, F.max_pool2d(x, 3, stride=2)], 1)


class BlockC(nn.Module):
    """17 x 17 block with factorised 7x7 convolutions (Mixed_6b..6e)."""

    def __init__(self, cin: int, c7: int):
        super().__init__()
        self.branch1x1 = ConvBN(cin, 192, 1)
        self.branch7x7_1 = ConvBN(cin, c7, 1)
        self.branch7x7_2 = ConvBN(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = ConvBN(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = ConvBN(cin, c7, 1)
        self.branch7x7dbl_2 = ConvBN(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = ConvBN(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = ConvBN(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = ConvBN(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = ConvBN(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4):
            d = layer(d)
        d = self.branch7x7dbl_5(d)
        return torch.cat([self.branch1x1(x), b7, d, self.branch_pool(_avg_pool(x))], 1)


class BlockD(nn.Module):
    """Reduction 17 -> 8 (Mixed_7a)."""

    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3_1 = ConvBN(cin, 192, 1)
        self.branch3x3_2 = ConvBN(192, 320, 3, stride=2)
        self.branch7x7x3_1 = ConvBN(cin, 192, 1)
        self.branch7x7x3_2 = ConvBN(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = ConvBN(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = ConvBN(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_1(x)
        for layer in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            b7 = layer(b7)
        return torch.cat([b3, b7, F.max_pool2d(x, 3, stride=2)], 1)


class BlockE(nn.Module):
    """8 x 8 block (Mixed_7b: average pool branch; Mixed_7c: max pool branch, as in TF)."""

    def __init__(self, cin: int, max_pool: bool):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = ConvBN(cin, 320, 1)
        self.branch3x3_1 = ConvBN(cin, 384, 1)
        self.branch3x3_2a = ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = ConvBN(cin, 448, 1)
        self.branch3x3dbl_2 = ConvBN(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = ConvBN(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        d = torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
        if self.max_pool:
            pooled = F.max_pool2d(x, 3, stride=1, padding=1)
        else:
            pooled = _avg_pool(x)
        return torch.cat([self.branch1x1(x), b3, d, self.branch_pool(pooled)], 1)


class FIDInception(nn.Module):
    """uint8 (N, 3, H, W) -> (N, 2048) pool_3 features of the TF 2015-12-05 Inception."""

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = ConvBN(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = ConvBN(32, 32, 3)
        self.Conv2d_2b_3x3 = ConvBN(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = ConvBN(64, 80, 1)
        self.Conv2d_4a_3x3 = ConvBN(80, 192, 3)
        self.Mixed_5b = BlockA(192, 32)
        self.Mixed_5c = BlockA(256, 64)
        self.Mixed_5d = BlockA(288, 64)
        self.Mixed_6a = BlockB(288)
        self.Mixed_6b = BlockC(768, 128)
        self.Mixed_6c = BlockC(768, 160)
        self.Mixed_6d = BlockC(768, 160)
        self.Mixed_6e = BlockC(768, 192)
        self.Mixed_7a = BlockD(768)
        self.Mixed_7b = BlockE(1280, max_pool=False)
        self.Mixed_7c = BlockE(2048, max_pool=True)
        self.fc = nn.Linear(FEATURES, CLASSES)  # logits; unused for FID, kept for the layout

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dtype != torch.uint8:
            raise TypeError(f"FID Inception takes uint8 images, got {images.dtype}")
        x = (resize_tf1_bilinear(images) - 128.0) / 128.0
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, stride=2)
        for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
            x = getattr(self, f"Mixed_{name}")(x)
        return x.mean(dim=(2, 3))


# -- weights --------------------------------------------------------------------------------
def published_layout() -> dict[str, tuple[int, ...]]:
    """Name -> shape of every tensor of the published file (batch-norm step counters aside)."""
    return {k: tuple(v.shape) for k, v in FIDInception().state_dict().items() if _kept(k)}


def _kept(name: str) -> bool:
    return not name.endswith("num_batches_tracked")


def check_layout(state: Mapping[str, Any], source: str) -> None:
    """Raise naming the file and the tensors when ``state`` is not the published layout."""
    expected = published_layout()
    given = {k: tuple(v.shape) for k, v in state.items() if _kept(k)}
    missing = sorted(set(expected) - set(given))
    extra = sorted(set(given) - set(expected))
    wrong = sorted(k for k in set(expected) & set(given) if expected[k] != given[k])
    problems = []
    if missing:
        problems.append(f"{len(missing)} tensors missing (first: {', '.join(missing[:3])})")
    if extra:
        problems.append(f"{len(extra)} unexpected tensors (first: {', '.join(extra[:3])})")
    if wrong:
        k = wrong[0]
        problems.append(
            f"{len(wrong)} tensors of the wrong shape (first: {k} is {list(given[k])}, "
            f"expected {list(expected[k])})"
        )
    if problems:
        raise InceptionWeightsError(
            f"{source} is not the FID Inception (TF 2015-12-05) in the published layout: "
            + "; ".join(problems)
            + f". Use {PUBLISHED_FILES[0]} (torch-fidelity) or {PUBLISHED_FILES[1]} (pytorch-fid)"
        )


def load_fid_inception(path: str | Path, device: str = "cpu") -> FIDInception:
    """The network with the weights of ``path`` (a published .pth state dict), in eval mode."""
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unreadable file gets the same message
        raise InceptionWeightsError(
            f"cannot read the FID Inception weights {path} ({type(exc).__name__}: {exc})"
        ) from None
    if not isinstance(state, Mapping):
        raise InceptionWeightsError(f"{path} holds a {type(state).__name__}, not a state dict")
    check_layout(state, str(path))
    network = FIDInception()
    network.load_state_dict({k: v for k, v in state.items() if _kept(k)}, strict=False)
    for parameter in network.parameters():
        parameter.requires_grad_(False)
    return network.to(device).eval()

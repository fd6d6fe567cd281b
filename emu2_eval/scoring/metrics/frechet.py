"""Fréchet distance between two Gaussians (FID), from eigenvalues instead of a matrix square root.

FD = |mu1 - mu2|^2 + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^(1/2)).

The reference implementations (pytorch-fid, the TTUR code) take ``scipy.linalg.sqrtm(S1 @ S2)``:
a Schur decomposition in complex arithmetic, slow at 2048 dimensions (Inception features) and
prone to small imaginary parts they then discard. Only the trace is needed, and
Tr((S1 S2)^(1/2)) is the sum of the square roots of the eigenvalues of S1 S2, which are those of
the symmetric positive semi-definite matrix sqrt(S1) S2 sqrt(S1). Two symmetric eigendecompositions
in float64 give it, with no complex numbers; tiny negative eigenvalues from rounding are clipped
to zero. Agreement with the ``sqrtm`` reference is tested to 1e-6 relative at 64 and 2048
dimensions.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def _sym_sqrt(matrix: np.ndarray) -> np.ndarray:
    """The PSD square root of a symmetric matrix (eigenvalues clipped at zero)."""
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def trace_sqrt_product(sigma1: ArrayLike, sigma2: ArrayLike) -> float:
    """Tr((S1 S2)^(1/2)) for symmetric PSD S1, S2, in float64."""
    s1 = np.asarray(sigma1, dtype=np.float64)
    s2 = np.asarray(sigma2, dtype=np.float64)
    root = _sym_sqrt((s1 + s1.T) / 2)
    middle = root @ ((s2 + s2.T) / 2) @ root
    values = np.linalg.eigvalsh((middle + middle.T) / 2)
    return float(np.sqrt(np.clip(values, 0.0, None)).sum())


def frechet_distance(mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike, sigma2: ArrayLike) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), float64 throughout."""
    m1 = np.atleast_1d(np.asarray(mu1, dtype=np.float64))
    m2 = np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    s1 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64))
    s2 = np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    if m1.shape != m2.shape or m1.ndim != 1:
        raise ValueError(f"means must be vectors of one length, got {m1.shape} and {m2.shape}")
    d = m1.shape[0]
    if s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(
            f"covariances must be {d}x{d} to match the means, got {s1.shape} and {s2.shape}"
        )
    diff = m1 - m2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * trace_sqrt_product(s1, s2))

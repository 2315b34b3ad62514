"""Fréchet distance between two Gaussians, the core of FAD (Kilgour et al. 2019; V2Meow §4 "FAD").

``d² = |μ1 − μ2|² + tr(Σ1) + tr(Σ2) − 2 tr((Σ1 Σ2)^{1/2})``. The trace of the matrix square root is the sum of the
square roots of the eigenvalues of ``Σ1 Σ2`` (a product of two PSD matrices has real, non-negative eigenvalues; the
tiny negative or imaginary parts that rounding leaves are dropped). Computed in float64. Written here instead of with
``scipy.linalg.sqrtm``: its ``disp`` argument, used by most FAD/FID code, was removed in SciPy 1.18, and only the
trace is needed.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _as_float64(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64)


def trace_sqrt_product(sigma1: Any, sigma2: Any) -> float:
    """``tr((Σ1 Σ2)^{1/2})`` from the eigenvalues of ``Σ1 Σ2`` (float64)."""
    eigenvalues = np.linalg.eigvals(_as_float64(sigma1) @ _as_float64(sigma2))
    return float(np.sqrt(np.clip(eigenvalues.real, 0.0, None)).sum())


def frechet_distance(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any) -> float:
    """Squared Fréchet (2-Wasserstein) distance between N(mu1, sigma1) and N(mu2, sigma2), in float64.

    Accepts numpy arrays or torch tensors: ``mu`` of shape [D], ``sigma`` of shape [D, D]. Rounding can make the
    value of two identical Gaussians a tiny negative number; it is clipped at 0.
    """
    mu1, mu2 = _as_float64(mu1).reshape(-1), _as_float64(mu2).reshape(-1)
    sigma1, sigma2 = np.atleast_2d(_as_float64(sigma1)), np.atleast_2d(_as_float64(sigma2))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise ValueError(
            f"frechet_distance: shapes do not match: mu1 {mu1.shape}, mu2 {mu2.shape}, "
            f"sigma1 {sigma1.shape}, sigma2 {sigma2.shape}"
        )
    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt_product(sigma1, sigma2)
    return float(max(value, 0.0))


__all__ = ["frechet_distance", "trace_sqrt_product"]

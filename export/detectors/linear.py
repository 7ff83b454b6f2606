"""Linear-Gaussian detectors on standardised features: PCA reconstruction error and Ledoit-Wolf Mahalanobis."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.covariance import LedoitWolf
from sklearn.decomposition import PCA
from torch import nn

from export.detectors.base import Scored, Standardise, TorchScored


class _ResidualNorm(nn.Module):
    """Squared distance of a centred point to the span of orthonormal ``components`` (k, d)."""

    def __init__(self, mean: np.ndarray, components: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("components", torch.as_tensor(components, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        centred = x - self.mean
        recon = (centred @ self.components.T) @ self.components
        return ((centred - recon) ** 2).sum(dim=1)


class PCADetector(TorchScored):
    """PCA reconstruction error on standardised features: squared distance to the principal subspace.

    Args:
        variance: keep the fewest components that explain this share of the (standardised) variance.
        seed: kept for the common constructor; the full SVD is deterministic.
    """

    def __init__(self, variance: float = 0.9, seed: int = 0) -> None:
        self.variance = variance
        self.seed = seed

    def fit(self, X: np.ndarray, X_val: np.ndarray) -> PCADetector:
        """Fit on the training features; ``X_val`` is unused (nothing to stop early)."""
        standardise = Standardise.fit(X)
        pca = PCA(n_components=self.variance, svd_solver="full").fit(standardise.apply(X))
        self.scorer_ = Scored(standardise, _ResidualNorm(pca.mean_, pca.components_)).eval()
        self.n_components_ = int(pca.n_components_)
        self.n_features_in_ = int(X.shape[1])
        return self

    def manifest(self) -> dict[str, Any]:
        return {
            "name": "pca",
            "variance": self.variance,
            "n_components": self.n_components_,
            **self.standardisation_manifest(),
        }


class _Whitened(nn.Module):
    """``||(x - location) @ whiten||^2``: the Mahalanobis distance with ``whiten @ whiten.T`` the precision."""

    def __init__(self, location: np.ndarray, whiten: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("location", torch.as_tensor(location, dtype=torch.float32))
        self.register_buffer("whiten", torch.as_tensor(whiten, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (((x - self.location) @ self.whiten) ** 2).sum(dim=1)


class Mahalanobis(TorchScored):
    """Squared Mahalanobis distance under a Ledoit-Wolf shrunk covariance of the standardised features.

    The shrinkage toward a scaled identity keeps the covariance invertible with fewer loops than
    dimensions. The graph holds a whitening matrix (precision = W W^T, from the eigendecomposition),
    which keeps the float32 score a sum of squares, never negative.

    Args:
        seed: kept for the common constructor; the estimate is deterministic.
    """

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def fit(self, X: np.ndarray, X_val: np.ndarray) -> Mahalanobis:
        """Fit on the training features; ``X_val`` is unused."""
        standardise = Standardise.fit(X)
        lw = LedoitWolf().fit(standardise.apply(X).astype(np.float64))
        eigvals, eigvecs = np.linalg.eigh(lw.covariance_)
        # Floored: loops that never vary along a direction (copies of one loop) make its variance 0, not NaN.
        whiten = eigvecs / np.sqrt(np.maximum(eigvals, 1e-12 * max(float(eigvals.max()), 1.0)))
        self.scorer_ = Scored(standardise, _Whitened(lw.location_, whiten)).eval()
        self.shrinkage_ = float(lw.shrinkage_)
        self.n_features_in_ = int(X.shape[1])
        return self

    def manifest(self) -> dict[str, Any]:
        return {
            "name": "mahalanobis",
            "covariance": "ledoit-wolf",
            "shrinkage": self.shrinkage_,
            **self.standardisation_manifest(),
        }

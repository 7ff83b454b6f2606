"""k-nearest-neighbour distance on standardised features."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from export.detectors.base import Scored, Standardise, TorchScored


def default_k(n: int) -> int:
    """Neighbours for ``n`` training loops: about a tenth of them, between 1 and 10."""
    return max(1, min(10, n // 10))


class _MeanKnnDistance(nn.Module):
    """Mean Euclidean distance to the ``k`` nearest rows of ``reference`` (a constant of the graph).

    Squared distances come from one matmul (``|x|^2 + |r|^2 - 2 x r^T``, clamped at 0 against rounding),
    the nearest by TopK.
    """

    def __init__(self, reference: np.ndarray, k: int) -> None:
        super().__init__()
        ref = torch.as_tensor(reference, dtype=torch.float32)
        self.register_buffer("reference_t", ref.T.contiguous())
        self.register_buffer("reference_sq", (ref**2).sum(dim=1))
        self.k = k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sq = (x**2).sum(dim=1, keepdim=True) + self.reference_sq - 2.0 * (x @ self.reference_t)
        nearest, _ = torch.topk(sq, self.k, dim=1, largest=False)
        return nearest.clamp_min(0.0).sqrt().mean(dim=1)


class KNNDetector(TorchScored):
    """Mean distance to the ``k`` nearest training loops in standardised space.

    Args:
        k: neighbours; ``None`` chooses :func:`default_k` of the number of training loops.
        seed: kept for the common constructor; the detector is deterministic.
    """

    def __init__(self, k: int | None = None, seed: int = 0) -> None:
        self.k = k
        self.seed = seed

    def fit(self, X: np.ndarray, X_val: np.ndarray) -> KNNDetector:
        """Store the standardised training loops; ``X_val`` is unused."""
        standardise = Standardise.fit(X)
        self.k_ = min(self.k or default_k(len(X)), len(X))
        self.scorer_ = Scored(standardise, _MeanKnnDistance(standardise.apply(X), self.k_)).eval()
        self.n_train_ = int(len(X))
        self.n_features_in_ = int(X.shape[1])
        return self

    def manifest(self) -> dict[str, Any]:
        return {"name": "knn", "k": self.k_, "n_reference": self.n_train_, **self.standardisation_manifest()}

"""k-nearest-neighbour distance on standardised features."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from export.detectors.base import Scored, Standardise, TorchScored


def default_k(n: int) -> int:
    """Neighbours for ``n`` training loops: about a tenth of them, between 2 and 10 (at most ``n``).

    At least 2, because with one neighbour a training loop (and any copy of it) scores exactly 0,
    and a score of 0 has no relative precision for the export's PyTorch/ONNX parity check.
    """
    return min(n, max(2, min(10, n // 10)))


class _MeanKnnDistance(nn.Module):
    """Mean Euclidean distance to the ``k`` nearest rows of ``reference`` (a constant of the graph).

    Squared distances for the search come from one matmul (``|x|^2 + |r|^2 - 2 x r^T``), the nearest by
    TopK; the ``k`` chosen rows are then gathered and their distances computed from the differences, which
    keeps small distances exact (the matmul form loses them to float32 cancellation).
    """

    def __init__(self, reference: np.ndarray, k: int) -> None:
        super().__init__()
        ref = torch.as_tensor(reference, dtype=torch.float32)
        self.register_buffer("reference", ref)
        self.register_buffer("reference_sq", (ref**2).sum(dim=1))
        self.k = k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (reference @ x^T)^T, not x @ reference^T: the exporter would fold in a transposed copy of the matrix
        sq = (x**2).sum(dim=1, keepdim=True) + self.reference_sq - 2.0 * (self.reference @ x.T).T
        _, nearest = torch.topk(sq, self.k, dim=1, largest=False)
        diff = x.unsqueeze(1) - self.reference[nearest]  # (batch, k, dim)
        return (diff**2).sum(dim=2).sqrt().mean(dim=1)


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
        """Store the standardised training loops, each distinct loop once; ``X_val`` is unused.

        Copies of one loop (the same file in two folders of a sample pack) count once: with ``k`` copies,
        a copy's ``k`` nearest would all be at distance 0, and whether it scores 0 or float32 noise
        would decide the export's parity check (which failed on drum loops that repeat one sampled bar).
        """
        standardise = Standardise.fit(X)
        standardised = standardise.apply(X)
        _, first = np.unique(np.round(standardised, 5), axis=0, return_index=True)
        reference = standardised[np.sort(first)]
        self.k_ = min(self.k, len(reference)) if self.k else default_k(len(reference))
        self.scorer_ = Scored(standardise, _MeanKnnDistance(reference, self.k_)).eval()
        self.n_reference_ = int(len(reference))
        self.n_features_in_ = int(X.shape[1])
        return self

    def manifest(self) -> dict[str, Any]:
        return {"name": "knn", "k": self.k_, "n_reference": self.n_reference_, **self.standardisation_manifest()}

"""What every detector shares: the protocol, per-dimension standardisation and the torch -> ONNX export."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

OPSET = 17
# A dimension whose training std is below this share of its typical magnitude (max(|mean|, 1)) counts as
# constant: it is divided by that magnitude instead, so float noise on it cannot swamp every other dimension.
TINY_STD = 1e-6


class Detector(Protocol):
    """What the training pipeline and the exporter need of a detector."""

    def fit(self, X: np.ndarray, X_val: np.ndarray) -> Detector: ...

    def decision_function(self, X: np.ndarray) -> np.ndarray: ...

    def to_onnx(self, path: Path) -> None: ...

    def manifest(self) -> dict[str, Any]: ...


def standardisation_stats(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and scale of the training features, with the guard for constant dimensions.

    Args:
        X: training features, shape (n, d).

    Returns:
        ``(mean, scale)``, each of shape (d,), float32; ``(X - mean) / scale`` is the standardised input.
    """
    X = np.asarray(X, dtype=np.float64)
    mean, std = X.mean(axis=0), X.std(axis=0)
    magnitude = np.maximum(np.abs(mean), 1.0)
    scale = np.where(std > TINY_STD * magnitude, std, magnitude)
    return mean.astype(np.float32), scale.astype(np.float32)


class Standardise(nn.Module):
    """``(x - mean) / scale`` with the training statistics as buffers, so the exported graph takes raw features."""

    def __init__(self, mean: np.ndarray, scale: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.scale

    @classmethod
    def fit(cls, X: np.ndarray) -> Standardise:
        """Standardisation fitted on the training features ``X`` (n, d)."""
        return cls(*standardisation_stats(X))

    def apply(self, X: np.ndarray) -> np.ndarray:
        """Standardise a numpy batch (float32), as the graph does."""
        return (np.asarray(X, dtype=np.float32) - self.mean.numpy()) / self.scale.numpy()


def export_scorer(module: nn.Module, dim: int, path: Path) -> None:
    """Export a torch ``features (B, dim) -> score (B,)`` module with a dynamic batch axis at opset ``OPSET``."""
    module = module.eval()
    torch.onnx.export(
        module,
        (torch.zeros(2, dim),),
        str(path),
        input_names=["features"],
        output_names=["score"],
        dynamic_axes={"features": {0: "batch"}, "score": {0: "batch"}},
        opset_version=OPSET,
        dynamo=False,
    )


class Scored(nn.Module):
    """Export wrapper: standardisation front, then a core ``standardised features -> score`` module."""

    def __init__(self, standardise: Standardise, core: nn.Module) -> None:
        super().__init__()
        self.standardise = standardise
        self.core = core

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.core(self.standardise(features))


class TorchScored:
    """Shared by detectors whose fitted state is a torch module ``scorer_``: raw features -> score."""

    scorer_: Scored
    n_features_in_: int

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Anomaly scores (higher = more anomalous) of a batch of raw features, shape (n,)."""
        with torch.no_grad():
            return self.scorer_(torch.as_tensor(np.asarray(X), dtype=torch.float32)).numpy().astype(np.float64)

    def to_onnx(self, path: Path) -> None:
        """Write the graph ``features [B, D] -> score [B]`` (standardisation included) to ``path``."""
        export_scorer(self.scorer_, self.n_features_in_, path)

    def standardisation_manifest(self) -> dict[str, Any]:
        """How the graph standardises its input (the statistics themselves live in the ONNX graph)."""
        return {"standardised": True, "n_features": self.n_features_in_, "tiny_std": TINY_STD}

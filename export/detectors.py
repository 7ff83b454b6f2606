"""Anomaly detectors on loop embeddings, PyOD-style: ``fit(X) -> self``, ``decision_function(X)``
(higher = more anomalous), fitted state ending in ``_``, and ``to_onnx(path)`` for the bundle.

* :class:`DeepSVDD`: one-class Deep SVDD (Ruff et al., ICML 2018) with autoencoder pre-training,
  standard or residual (skips between mirrored encoder/decoder layers, Dadman et al. 2026).
* :class:`IForest` and :class:`PCADetector`: the scikit-learn baselines.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from torch import nn
from tqdm import tqdm

from rtloop.train_config import DETECTORS

OPSET = 17


class Detector(Protocol):
    """What the training pipeline and the exporter need of a detector."""

    def fit(self, X: np.ndarray, X_val: np.ndarray) -> Detector: ...

    def decision_function(self, X: np.ndarray) -> np.ndarray: ...

    def to_onnx(self, path: Path) -> None: ...

    def manifest(self) -> dict[str, Any]: ...


def _export_scorer(module: nn.Module, dim: int, path: Path) -> None:
    """Export a torch ``features (B, dim) -> score (B,)`` module with a dynamic batch axis."""
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


class _Stack(nn.Module):
    """Bias-free Linear -> BatchNorm (no affine) -> LeakyReLU layers; the last layer is a bare Linear.

    No bias and no affine BatchNorm anywhere (Ruff et al.'s guard against the trivial solution in
    which the network maps everything onto the center through constant offsets).
    """

    def __init__(self, dims: list[int]) -> None:
        super().__init__()
        self.linears = nn.ModuleList(nn.Linear(a, b, bias=False) for a, b in zip(dims[:-1], dims[1:], strict=True))
        self.norms = nn.ModuleList(nn.BatchNorm1d(d, eps=1e-4, affine=False) for d in dims[1:-1])
        self.act = nn.LeakyReLU(0.01)

    def forward(
        self, x: torch.Tensor, skips: list[torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Run the stack; returns the output and each hidden activation. ``skips`` are added to the
        hidden activations (deepest first) before the nonlinearity's successor layer reads them."""
        hidden: list[torch.Tensor] = []
        for i, (linear, norm) in enumerate(zip(self.linears, self.norms, strict=False)):
            x = self.act(norm(linear(x)))
            if skips is not None:
                x = x + skips[i]
            hidden.append(x)
        return self.linears[-1](x), hidden


class AutoEncoder(nn.Module):
    """Mirrored bias-free autoencoder; ``residual`` adds each encoder activation to its decoder twin."""

    def __init__(self, in_dim: int, hidden: tuple[int, ...], residual: bool) -> None:
        super().__init__()
        dims = [in_dim, *hidden]
        self.encoder = _Stack(dims)
        self.decoder = _Stack(dims[::-1])
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z, hidden = self.encoder(x)
        out, _ = self.decoder(z, hidden[::-1] if self.residual else None)
        return out


class _SVDDScore(nn.Module):
    """Export wrapper: features -> squared distance to the center ``c`` (a buffer)."""

    def __init__(self, encoder: _Stack, c: torch.Tensor) -> None:
        super().__init__()
        self.encoder = encoder
        self.register_buffer("c", c)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        z, _ = self.encoder(features)
        return ((z - self.c) ** 2).sum(dim=1)


def center_with_eps(c: torch.Tensor, eps: float) -> torch.Tensor:
    """Ruff's fix: coordinates with |c_i| < eps become -eps (if negative) or +eps (zeros too: a zero
    unit of the center is matched trivially by zero weights)."""
    c = c.clone()
    small = c.abs() < eps
    c[small & (c < 0)] = -eps
    c[small & (c >= 0)] = eps
    return c


def _batches(n: int, size: int, generator: torch.Generator) -> list[torch.Tensor]:
    order = torch.randperm(n, generator=generator)
    batches = list(order.split(size))
    if len(batches) > 1 and len(batches[-1]) < 2:  # BatchNorm cannot train on a batch of one
        batches[-2] = torch.cat(batches[-2:])
        batches.pop()
    return batches


def _train_early_stopping(
    module: nn.Module,
    loss_fn: Callable[[torch.Tensor], torch.Tensor],
    X: torch.Tensor,
    X_val: torch.Tensor,
    *,
    epochs: int,
    patience: int,
    lr: float,
    weight_decay: float,
    batch_size: int,
    generator: torch.Generator,
    desc: str,
) -> list[float]:
    """Adam on ``loss_fn``; keeps the weights of the best held-out loss; returns held-out losses."""
    optimiser = torch.optim.Adam(module.parameters(), lr=lr, weight_decay=weight_decay)
    best, best_state, waited, history = float("inf"), copy.deepcopy(module.state_dict()), 0, []
    for _ in tqdm(range(epochs), desc=desc, unit="epoch", disable=None, leave=False):
        module.train()
        for idx in _batches(len(X), batch_size, generator):
            optimiser.zero_grad()
            loss_fn(X[idx]).backward()
            optimiser.step()
        module.eval()
        with torch.no_grad():
            val = float(loss_fn(X_val))
        history.append(val)
        if val < best - 1e-9:
            best, best_state, waited = val, copy.deepcopy(module.state_dict()), 0
        else:
            waited += 1
            if waited >= patience:
                break
    module.load_state_dict(best_state)
    module.eval()
    return history


class _TorchScored:
    """Shared by detectors whose fitted state is a torch module ``scorer_``: features -> score."""

    scorer_: nn.Module
    n_features_in_: int

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Anomaly scores (higher = more anomalous) of a batch of features."""
        with torch.no_grad():
            return self.scorer_(torch.as_tensor(X, dtype=torch.float32)).numpy().astype(np.float64)

    def to_onnx(self, path: Path) -> None:
        _export_scorer(self.scorer_, self.n_features_in_, path)


class DeepSVDD(_TorchScored):
    """One-class Deep SVDD with autoencoder pre-training (Ruff et al. 2018).

    Args:
        residual: pre-train a residual autoencoder (skips between mirrored layers) instead of a plain one.
        hidden: widths of the encoder layers after the input; the last is the representation size.
        pretrain_epochs / epochs: upper bounds; both phases stop early on the held-out loss.
        patience: epochs without held-out improvement before stopping.
        lr, weight_decay, batch_size: Adam settings (Ruff's defaults: 1e-4, 1e-6).
        eps: coordinates of the center closer to 0 than this are pushed to ±eps.
        seed: seeds weights and batch order; the same data and seed give the same detector.
    """

    def __init__(
        self,
        residual: bool = True,
        hidden: tuple[int, ...] = (512, 256, 128, 64, 32),
        pretrain_epochs: int = 150,
        epochs: int = 150,
        patience: int = 20,
        lr: float = 1e-4,
        weight_decay: float = 1e-6,
        batch_size: int = 32,
        eps: float = 0.1,
        seed: int = 0,
    ) -> None:
        self.residual = residual
        self.hidden = hidden
        self.pretrain_epochs = pretrain_epochs
        self.epochs = epochs
        self.patience = patience
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.eps = eps
        self.seed = seed

    def fit(self, X: np.ndarray, X_val: np.ndarray) -> DeepSVDD:
        """Pre-train the autoencoder, fix the center, then pull the encoder's codes to it."""
        torch.manual_seed(self.seed)
        gen = torch.Generator().manual_seed(self.seed)
        x, x_val = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(X_val, dtype=torch.float32)
        settings = dict(
            patience=self.patience,
            lr=self.lr,
            weight_decay=self.weight_decay,
            batch_size=self.batch_size,
            generator=gen,
        )
        ae = AutoEncoder(x.shape[1], self.hidden, self.residual)
        self.pretrain_history_ = _train_early_stopping(
            ae,
            lambda b: ((ae(b) - b) ** 2).sum(dim=1).mean(),
            x,
            x_val,
            epochs=self.pretrain_epochs,
            desc="AE pre-training",
            **settings,  # type: ignore[arg-type]
        )
        encoder = ae.encoder
        with torch.no_grad():
            c = center_with_eps(encoder(x)[0].mean(dim=0), self.eps)
        self.c_ = c
        self.history_ = _train_early_stopping(
            encoder,
            lambda b: ((encoder(b)[0] - c) ** 2).sum(dim=1).mean(),
            x,
            x_val,
            epochs=self.epochs,
            desc="Deep SVDD",
            **settings,  # type: ignore[arg-type]
        )
        self.scorer_ = _SVDDScore(encoder, c).eval()  # score: squared distance of the code to c
        self.n_features_in_ = x.shape[1]
        return self

    def manifest(self) -> dict[str, Any]:
        return {
            "name": "svdd-residual" if self.residual else "svdd",
            "hidden": list(self.hidden),
            "eps": self.eps,
            "seed": self.seed,
            "lr": self.lr,
            "weight_decay": self.weight_decay,
            "pretrain_epochs_run": len(self.pretrain_history_),
            "epochs_run": len(self.history_),
            "center": [float(v) for v in self.c_],
        }


class _PCAScore(nn.Module):
    def __init__(self, mean: np.ndarray, components: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("components", torch.as_tensor(components, dtype=torch.float32))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        centred = features - self.mean
        recon = (centred @ self.components.T) @ self.components
        return ((centred - recon) ** 2).sum(dim=1)


class PCADetector(_TorchScored):
    """PCA reconstruction error: squared distance to the principal subspace of the normal loops.

    Args:
        variance: keep the fewest components that explain this share of variance.
    """

    def __init__(self, variance: float = 0.9, seed: int = 0) -> None:
        self.variance = variance
        self.seed = seed

    def fit(self, X: np.ndarray, X_val: np.ndarray) -> PCADetector:
        """Fit on the training embeddings; ``X_val`` is unused (no early stopping)."""
        pca = PCA(n_components=self.variance, svd_solver="full", random_state=self.seed).fit(X)
        self.scorer_ = _PCAScore(pca.mean_, pca.components_).eval()
        self.n_components_ = int(pca.n_components_)
        self.n_features_in_ = X.shape[1]
        return self

    def manifest(self) -> dict[str, Any]:
        return {"name": "pca", "variance": self.variance, "n_components": self.n_components_}


class IForest:
    """Isolation Forest; score = minus scikit-learn's ``decision_function`` (higher = more anomalous)."""

    def __init__(self, n_estimators: int = 200, seed: int = 0) -> None:
        self.n_estimators = n_estimators
        self.seed = seed

    def fit(self, X: np.ndarray, X_val: np.ndarray) -> IForest:
        """Fit on the training embeddings; ``X_val`` is unused."""
        self.model_ = IsolationForest(n_estimators=self.n_estimators, random_state=self.seed).fit(X)
        self.n_features_in_ = X.shape[1]
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return -self.model_.decision_function(np.asarray(X, dtype=np.float32)).astype(np.float64)

    def to_onnx(self, path: Path) -> None:
        import onnx
        from skl2onnx import to_onnx
        from skl2onnx.common.data_types import FloatTensorType

        graph = to_onnx(
            self.model_,
            initial_types=[("features", FloatTensorType([None, self.n_features_in_]))],
            target_opset={"": OPSET, "ai.onnx.ml": 3},
            final_types=None,
        )
        scores = next(o.name for o in graph.graph.output if o.name != "label")
        flat = onnx.helper.make_node("Flatten", [scores], ["score_2d"], axis=0)
        graph.graph.node.extend([flat, onnx.helper.make_node("Neg", ["score_2d"], ["score_neg"])])
        graph.graph.node.append(onnx.helper.make_node("Squeeze", ["score_neg", "squeeze_axes"], ["score"]))
        graph.graph.initializer.append(onnx.numpy_helper.from_array(np.array([0], dtype=np.int64), "squeeze_axes"))
        del graph.graph.output[:]
        graph.graph.output.append(onnx.helper.make_tensor_value_info("score", onnx.TensorProto.FLOAT, ["batch"]))
        onnx.save(graph, str(path))

    def manifest(self) -> dict[str, Any]:
        return {"name": "iforest", "n_estimators": self.n_estimators, "seed": self.seed}


def make_detector(name: str, seed: int) -> Detector:
    """A fresh detector by its ``--detector`` name."""
    if name in ("svdd-residual", "svdd"):
        return DeepSVDD(residual=name == "svdd-residual", seed=seed)
    if name == "iforest":
        return IForest(seed=seed)
    if name == "pca":
        return PCADetector(seed=seed)
    raise ValueError(f"unknown detector {name!r}; choose one of {', '.join(DETECTORS)}")

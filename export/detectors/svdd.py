"""One-class Deep SVDD (Ruff et al., ICML 2018) with autoencoder pre-training, standard or residual
(skips between mirrored encoder/decoder layers, Dadman et al. 2026), on standardised features, sized
to the data and optionally an ensemble over seeds."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from export.detectors.base import Scored, Standardise, TorchScored

# An epoch counts as an improvement only if it lowers the held-out loss by this share: the slow creep of a
# loss that has converged (or of a slowly collapsing SVDD) must not keep training running to the cap.
MIN_IMPROVEMENT = 1e-3


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


class _Distance(nn.Module):
    """One member: squared distance of the encoder's code to the center ``c``, divided by ``scale``
    (the member's mean distance over its training loops, so members of an ensemble weigh alike)."""

    def __init__(self, encoder: _Stack, c: torch.Tensor, scale: float = 1.0) -> None:
        super().__init__()
        self.encoder = encoder
        self.register_buffer("c", c)
        self.register_buffer("scale", torch.tensor(scale, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z, _ = self.encoder(x)
        return ((z - self.c) ** 2).sum(dim=1) / self.scale


class _Mean(nn.Module):
    """Average of the members' scores."""

    def __init__(self, members: list[_Distance]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([m(x) for m in self.members], dim=0).mean(dim=0)


def center_with_eps(c: torch.Tensor, eps: float) -> torch.Tensor:
    """Ruff's fix: coordinates with |c_i| < eps become -eps (if negative) or +eps (zeros too: a zero
    unit of the center is matched trivially by zero weights)."""
    c = c.clone()
    small = c.abs() < eps
    c[small & (c < 0)] = -eps
    c[small & (c >= 0)] = eps
    return c


def auto_hidden(n: int, d: int) -> tuple[int, ...]:
    """Encoder widths for ``n`` training loops of ``d`` features: a representation of 8-32 units
    (a quarter of ``d``), a first layer no wider than ``d``, ``n`` or 256, halving in between."""
    rep = int(np.clip(2 ** math.floor(math.log2(max(d // 4, 1))), 8, 32))
    first = int(np.clip(2 ** math.floor(math.log2(max(min(d, n), 1))), 2 * rep, 256))
    widths = [first]
    while widths[-1] > rep:
        widths.append(widths[-1] // 2)
    return tuple(widths)


def auto_weight_decay(n: int) -> float:
    """L2 weight decay for ``n`` training loops: Ruff's 1e-6 from 1,000 loops on, growing as 1/n for fewer.

    It stays small on purpose: behind BatchNorm only the last, bare layer feels it, and shrinking that
    layer pulls every code, anomalous or not, toward the center (the collapse the guards fight).
    """
    return float(1e-6 * max(1.0, 1000.0 / n))


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
    """Adam on ``loss_fn``; stops after ``patience`` epochs without a held-out loss better than the
    best so far by a relative ``MIN_IMPROVEMENT``, and keeps the weights of the best; returns the held-out losses."""
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
        if not history[:-1] or val < best - MIN_IMPROVEMENT * abs(best):
            best, best_state, waited = val, copy.deepcopy(module.state_dict()), 0
        else:
            waited += 1
            if waited >= patience:
                break
    module.load_state_dict(best_state)
    module.eval()
    return history


class DeepSVDD(TorchScored):
    """One-class Deep SVDD with autoencoder pre-training (Ruff et al. 2018) on standardised features.

    The score is the squared distance of a loop's code to the center, divided by the mean distance of
    the training loops (1 = a typical training loop); with ``n_seeds`` > 1 it is the average of that
    over networks trained from different seeds.

    Args:
        residual: pre-train a residual autoencoder (skips between mirrored layers) instead of a plain one.
        hidden: widths of the encoder layers after the input, the last being the representation size;
            ``None`` sizes them to the data (:func:`auto_hidden`).
        n_seeds: networks in the ensemble.
        pretrain_epochs / epochs: upper bounds; both phases stop early on the held-out loss.
        patience: epochs without held-out improvement before stopping.
        lr, svdd_lr: Adam's learning rates for pre-training and for the SVDD phase (lower: the codes move
            toward the center slowly, which keeps what pre-training learnt about the data's structure).
        batch_size: loops per step (at most the number of training loops).
        weight_decay: Adam's L2 penalty; ``None`` scales it to the data (:func:`auto_weight_decay`).
        eps: coordinates of the center closer to 0 than this are pushed to ±eps.
        seed: seeds weights and batch order; the same data and seed give the same detector.
    """

    def __init__(
        self,
        residual: bool = True,
        hidden: tuple[int, ...] | None = None,
        n_seeds: int = 1,
        pretrain_epochs: int = 100,
        epochs: int = 100,
        patience: int = 20,
        lr: float = 1e-4,
        svdd_lr: float = 1e-4,
        weight_decay: float | None = None,
        batch_size: int = 32,
        eps: float = 0.1,
        seed: int = 0,
    ) -> None:
        self.residual = residual
        self.hidden = hidden
        self.n_seeds = n_seeds
        self.pretrain_epochs = pretrain_epochs
        self.epochs = epochs
        self.patience = patience
        self.lr = lr
        self.svdd_lr = svdd_lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.eps = eps
        self.seed = seed

    def fit(self, X: np.ndarray, X_val: np.ndarray) -> DeepSVDD:
        """Standardise, then per seed: pre-train the autoencoder, fix the center, pull the codes to it."""
        standardise = Standardise.fit(X)
        x = torch.as_tensor(standardise.apply(X))
        x_val = torch.as_tensor(standardise.apply(X_val))
        n, d = x.shape
        self.hidden_ = self.hidden or auto_hidden(n, d)
        self.weight_decay_ = self.weight_decay if self.weight_decay is not None else auto_weight_decay(n)
        members, self.pretrain_history_, self.history_ = [], [], []
        for k in range(self.n_seeds):
            members.append(self._fit_member(x, x_val, self.seed + 1000 * k))
        self.c_ = members[0].c
        self.pretrain_epochs_run_ = [len(h) for h in self.pretrain_history_]
        self.epochs_run_ = [len(h) for h in self.history_]
        self.scorer_ = Scored(standardise, _Mean(members)).eval()
        self.n_features_in_ = int(d)
        return self

    def _fit_member(self, x: torch.Tensor, x_val: torch.Tensor, seed: int) -> _Distance:
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        settings: dict[str, Any] = dict(
            patience=self.patience,
            weight_decay=self.weight_decay_,
            batch_size=min(self.batch_size, len(x)),
            generator=gen,
        )
        ae = AutoEncoder(x.shape[1], self.hidden_, self.residual)
        pre = _train_early_stopping(
            ae,
            lambda b: ((ae(b) - b) ** 2).sum(dim=1).mean(),
            x,
            x_val,
            epochs=self.pretrain_epochs,
            lr=self.lr,
            desc="AE pre-training",
            **settings,
        )
        encoder = ae.encoder
        with torch.no_grad():
            c = center_with_eps(encoder(x)[0].mean(dim=0), self.eps)
        hist = _train_early_stopping(
            encoder,
            lambda b: ((encoder(b)[0] - c) ** 2).sum(dim=1).mean(),
            x,
            x_val,
            epochs=self.epochs,
            lr=self.svdd_lr,
            desc="Deep SVDD",
            **settings,
        )
        member = _Distance(encoder, c).eval()
        with torch.no_grad():
            member.scale.fill_(max(float(member(x).mean()), 1e-12))
        self.pretrain_history_.append(pre)
        self.history_.append(hist)
        return member

    def manifest(self) -> dict[str, Any]:
        members = list(self.scorer_.core.members)
        return {
            "name": "svdd-residual" if self.residual else "svdd",
            "hidden": list(self.hidden_),
            "n_seeds": self.n_seeds,
            "eps": self.eps,
            "seed": self.seed,
            "lr": self.lr,
            "svdd_lr": self.svdd_lr,
            "weight_decay": self.weight_decay_,
            "patience": self.patience,
            "pretrain_epochs_run": [len(h) for h in self.pretrain_history_],
            "epochs_run": [len(h) for h in self.history_],
            "centers": [[float(v) for v in m.c] for m in members],
            "distance_scales": [float(m.scale) for m in members],
            **self.standardisation_manifest(),
        }

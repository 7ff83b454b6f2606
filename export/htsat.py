"""HTS-AT audio encoder with CLAP's Feature Fusion Mechanism, weight-compatible with LAION-CLAP.

Our own implementation of the audio branch of LAION-CLAP (Chen et al. 2022, HTS-AT; Wu et al. 2023,
CLAP with AFF fusion) for inference and ONNX export:

* the log-mel front-end lives outside the network (:mod:`rtloop.frontend`), so the module takes
  ``mel`` of shape (B, C, 1001, 64) with C = 4 (fusion) or 1, plus ``longer`` (B,) bool;
* batch size is never turned into a Python int, so an exported graph is right at every batch size;
* the fused path runs only for the ``longer`` items, gathered by index as CLAP does, and each item
  is computed on its own, so an item's embedding never depends on the rest of its batch;
* the AudioSet classifier head (``tscam_conv``, ``head``) is not built: CLAP does not use it.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


@functools.lru_cache(maxsize=4)
def _stretch_taps(n_in: int, n_out: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Source frames (4, n_out) and weights (4, n_out, 1) of torch's bicubic ``F.interpolate`` with
    ``align_corners=True`` (cubic convolution, a = -0.75, edge frames repeated), in float32 as torch
    computes them for float32 input. Plain numpy: nothing here is traced into an exported graph."""
    f32 = np.float32
    a = f32(-0.75)
    source = (f32(n_in - 1) / f32(n_out - 1)) * np.arange(n_out, dtype=f32)
    first = np.floor(source)
    t = source - first
    near = np.stack([t, f32(1.0) - t])  # taps 1 and 2: |distance| < 1
    far = np.stack([t + f32(1.0), f32(2.0) - t])  # taps 0 and 3: 1 <= |distance| < 2
    near_w = ((a + f32(2.0)) * near - (a + f32(3.0))) * near * near + f32(1.0)
    far_w = ((a * far - f32(5.0) * a) * far + f32(8.0) * a) * far - f32(4.0) * a
    weights = np.stack([far_w[0], near_w[0], near_w[1], far_w[1]])[:, :, None]
    frames = np.clip(first.astype(np.int64)[None] + np.arange(-1, 3)[:, None], 0, n_in - 1)
    return torch.from_numpy(frames), torch.from_numpy(weights.astype(f32))


def stretch_time(x: torch.Tensor, n_out: int) -> torch.Tensor:
    """CLAP's bicubic stretch of (B, C, T, F) mel to ``n_out`` frames (``F.interpolate``, bicubic,
    align_corners), as four gathers and a weighted sum: ONNX Runtime's cubic ``Resize`` took 18 % of
    the encoder's time on a 2-core CPU (profiled: the graph went from 203 to 157 ms per loop)."""
    frames, weights = _stretch_taps(int(x.shape[2]), n_out)
    out = x.index_select(2, frames[0]) * weights[0]
    for k in range(1, 4):
        out = out + x.index_select(2, frames[k]) * weights[k]
    return out


@dataclass(frozen=True)
class HTSATConfig:
    """Shape of an HTS-AT encoder; ``tiny`` and ``base`` are the LAION-CLAP audio models."""

    name: str = "HTSAT-tiny"
    embed_dim: int = 96
    depths: tuple[int, ...] = (2, 2, 6, 2)
    num_heads: tuple[int, ...] = (4, 8, 16, 32)
    fusion: bool = True
    spec_size: int = 256
    patch_size: int = 4
    window_size: int = 8
    mlp_ratio: float = 4.0
    mel_bins: int = 64
    joint_dim: int = 512

    @property
    def latent_dim(self) -> int:
        """Width of the pooled HTS-AT latent (768 for tiny, 1024 for base)."""
        return self.embed_dim * 2 ** (len(self.depths) - 1)

    @property
    def freq_ratio(self) -> int:
        return self.spec_size // self.mel_bins

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HTSATConfig:
        return cls(**{**data, "depths": tuple(data["depths"]), "num_heads": tuple(data["num_heads"])})


AMODELS: dict[str, dict[str, Any]] = {
    "HTSAT-tiny": {"embed_dim": 96, "depths": (2, 2, 6, 2), "num_heads": (4, 8, 16, 32)},
    "HTSAT-base": {"embed_dim": 128, "depths": (2, 2, 12, 2), "num_heads": (4, 8, 16, 32)},
}


def htsat_config(amodel: str, fusion: bool) -> HTSATConfig:
    """Config of a named LAION-CLAP audio model (``HTSAT-tiny`` or ``HTSAT-base``)."""
    if amodel not in AMODELS:
        raise ValueError(f"unknown audio model {amodel!r}; choose one of {', '.join(AMODELS)}")
    return HTSATConfig(name=amodel, fusion=fusion, **AMODELS[amodel])


def window_partition(x: torch.Tensor, size: int, h: int, w: int, c: int) -> torch.Tensor:
    """(B, h, w, c) -> (B * nW, size * size, c) non-overlapping windows.

    The sizes are given, not read from ``x``: read, each would be traced into the exported graph as
    shape arithmetic (Shape, Gather, Unsqueeze, Concat nodes) run on every call."""
    x = x.reshape(-1, h // size, size, w // size, size, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, size * size, c)


def window_order(resolution: int, window: int, shift: int) -> torch.Tensor | None:
    """The tokens of a (resolution x resolution) map in the order of its windows after the cyclic shift:
    the map shifted by ``-shift`` on both axes (``torch.roll``) and cut by :func:`window_partition`,
    flattened. None where that order is the map's own (one window, no shift)."""
    tokens = torch.arange(resolution * resolution).reshape(1, resolution, resolution, 1)
    if shift:
        tokens = torch.roll(tokens, shifts=(-shift, -shift), dims=(1, 2))
    order = window_partition(tokens, window, resolution, resolution, 1).flatten()
    return None if torch.equal(order, torch.arange(len(order))) else order


class WindowAttention(nn.Module):
    """Multi-head self-attention inside a window, with a learned relative position bias."""

    def __init__(self, dim: int, window: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.dim, self.tokens = dim, window * window
        self.scale = (dim // num_heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, num_heads))
        coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
        self.register_buffer("relative_position_index", rel[..., 0] * (2 * window - 1) + rel[..., 1])
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        n, c = self.tokens, self.dim
        qkv = self.qkv(x).reshape(-1, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * self.scale, qkv[1], qkv[2]
        attn = q @ k.transpose(-2, -1)
        bias = self.relative_position_bias_table[self.relative_position_index.reshape(-1)]
        attn = attn + bias.reshape(n, n, -1).permute(2, 0, 1)[None]
        if mask is not None:
            windows = mask.shape[0]
            attn = attn.reshape(-1, windows, self.num_heads, n, n) + mask[None, :, None]
            attn = attn.reshape(-1, self.num_heads, n, n)
        x = (attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(-1, n, c)
        return self.proj(x)


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


def _shift_mask(resolution: int, window: int, shift: int) -> torch.Tensor:
    """Attention mask that keeps shifted windows from attending across the wrapped border."""
    region = torch.zeros(1, resolution, resolution, 1)
    bands = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
    for label, (hs, ws) in enumerate((hs, ws) for hs in bands for ws in bands):
        region[:, hs, ws, :] = label
    ids = window_partition(region, window, resolution, resolution, 1).squeeze(-1)
    different = ids[:, None, :] != ids[:, :, None]
    return torch.zeros(different.shape).masked_fill(different, -100.0)


class SwinBlock(nn.Module):
    """Swin transformer block: (shifted) window attention and an MLP, both pre-norm residual."""

    def __init__(self, dim: int, resolution: int, num_heads: int, window: int, shift: int, mlp_ratio: float):
        super().__init__()
        if resolution <= window:
            window, shift = resolution, 0
        self.resolution, self.window, self.dim = resolution, window, dim
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window, num_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.register_buffer("attn_mask", _shift_mask(resolution, window, shift) if shift else None)
        # Shift and window cut as one gather of tokens, and their inverse as another: pure data movement,
        # the values of roll + partition (and of reverse + roll back), where those ran as two Slice and a
        # Concat per axis and a 6-d Transpose each way in the exported graph
        order = window_order(resolution, window, shift)
        self.register_buffer("window_order", order, persistent=False)
        self.register_buffer("token_order", None if order is None else torch.argsort(order), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        if self.window_order is not None:
            h = h.index_select(1, self.window_order)
        h = self.attn(h.reshape(-1, self.window * self.window, self.dim), self.attn_mask)
        h = h.reshape(-1, self.resolution * self.resolution, self.dim)
        if self.token_order is not None:
            h = h.index_select(1, self.token_order)
        x = x + h
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):
    """Halve the resolution and double the width: concatenate 2x2 neighbours, normalise, project."""

    def __init__(self, resolution: int, dim: int) -> None:
        super().__init__()
        self.resolution, self.dim = resolution, dim
        self.norm = nn.LayerNorm(4 * dim)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.dim
        x = x.reshape(-1, self.resolution, self.resolution, c)
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], dim=-1)
        return self.reduction(self.norm(x.reshape(-1, (self.resolution // 2) ** 2, 4 * c)))


class SwinStage(nn.Module):
    def __init__(self, dim: int, resolution: int, depth: int, num_heads: int, cfg: HTSATConfig, merge: bool):
        super().__init__()
        self.blocks = nn.ModuleList(
            SwinBlock(
                dim, resolution, num_heads, cfg.window_size, 0 if i % 2 == 0 else cfg.window_size // 2, cfg.mlp_ratio
            )
            for i in range(depth)
        )
        self.downsample = PatchMerging(resolution, dim) if merge else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.downsample(x) if self.downsample is not None else x


def _per_token(layers: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """Run 1x1 convolutions, batch norms (inference statistics) and ReLUs on a (..., C) map, channel
    last: the arithmetic they do on a (N, C, H, W) one, as matrix products."""
    for layer in layers:
        if isinstance(layer, nn.Conv2d):
            x = F.linear(x, layer.weight.flatten(1), layer.bias)
        elif isinstance(layer, nn.BatchNorm2d):
            assert layer.running_mean is not None and layer.running_var is not None
            x = (x - layer.running_mean) * torch.rsqrt(layer.running_var + layer.eps) * layer.weight + layer.bias
        else:
            x = layer(x)
    return x


class AFF(nn.Module):
    """Attentional feature fusion (Dai et al. 2021) of two 2-D feature maps, CLAP's ``aff_2d``.

    Computed on (L, H, W, C) maps, channel last, as matrix products: ONNX Runtime's blocked-layout
    convolutions cannot take an empty batch, and a batch with no ``longer`` loop hands this an empty one."""

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        inner = channels // reduction

        def branch(*head: nn.Module) -> nn.Sequential:
            return nn.Sequential(
                *head,
                nn.Conv2d(channels, inner, 1),
                nn.BatchNorm2d(inner),
                nn.ReLU(inplace=True),
                nn.Conv2d(inner, channels, 1),
                nn.BatchNorm2d(channels),
            )

        self.local_att = branch()
        self.global_att = branch(nn.AdaptiveAvgPool2d(1))

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        """Fuse (L, H, W, C) maps ``x`` and ``residual``."""
        both = x + residual
        pooled = both.mean(dim=(1, 2), keepdim=True)  # global_att[0], the average over the map
        weight = torch.sigmoid(_per_token(self.local_att, both) + _per_token(self.global_att[1:], pooled))
        return 2 * x * weight + 2 * residual * (1 - weight)


class PatchEmbed(nn.Module):
    """Patch projection of the whole loop's mel image, fused with its three local chunks for the loops
    longer than the clip (the ``longer`` ones); the others never compute the fusion branch."""

    def __init__(self, cfg: HTSATConfig) -> None:
        super().__init__()
        p = cfg.patch_size
        self.proj = nn.Conv2d(1, cfg.embed_dim, kernel_size=p, stride=p)
        self.norm = nn.LayerNorm(cfg.embed_dim)
        self.fusion = cfg.fusion
        if cfg.fusion:
            self.mel_conv2d = nn.Conv2d(1, cfg.embed_dim, kernel_size=(p, 3 * p), stride=(p, 3 * p))
            self.fusion_model = AFF(cfg.embed_dim)

    def forward(self, whole: torch.Tensor, chunks: torch.Tensor | None, rows: torch.Tensor | None) -> torch.Tensor:
        """``whole`` (B, 1, H, W); ``chunks`` (L, 3, H, W), the local chunks of the batch's ``rows`` (L,)."""
        global_x = self.proj(whole)
        if self.fusion and chunks is not None and rows is not None:
            # no reshape of the gathered loops: ONNX Runtime refuses to reshape an empty batch, and a batch
            # without a longer loop gathers one
            local = torch.cat([self.mel_conv2d(chunks[:, k : k + 1]) for k in range(chunks.shape[1])], dim=-1)
            width = global_x.shape[-1]
            local = F.pad(local, (0, max(0, width - local.shape[-1])))[..., :width]
            fused = self.fusion_model(global_x[rows].permute(0, 2, 3, 1), local.permute(0, 2, 3, 1))
            global_x = global_x.index_put((rows,), fused.permute(0, 3, 1, 2))
        return self.norm(global_x.flatten(2).transpose(1, 2))


class HTSATEncoder(nn.Module):
    """HTS-AT + CLAP audio projection: log-mel -> (pooled latent, L2-normalised 512-d embedding).

    State-dict keys are those of LAION-CLAP's ``audio_branch.*`` (without the front-end and AudioSet
    head) and ``audio_projection.*``; see :func:`export.clap_checkpoint.load_encoder_weights`.
    """

    def __init__(self, cfg: HTSATConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.bn0 = nn.BatchNorm2d(cfg.mel_bins)
        self.patch_embed = PatchEmbed(cfg)
        grid = cfg.spec_size // cfg.patch_size
        self.layers = nn.ModuleList(
            SwinStage(cfg.embed_dim * 2**i, grid // 2**i, depth, heads, cfg, merge=i < len(cfg.depths) - 1)
            for i, (depth, heads) in enumerate(zip(cfg.depths, cfg.num_heads, strict=True))
        )
        self.norm = nn.LayerNorm(cfg.latent_dim)
        self.audio_projection = nn.Sequential(
            nn.Linear(cfg.latent_dim, cfg.joint_dim), nn.ReLU(), nn.Linear(cfg.joint_dim, cfg.joint_dim)
        )

    def _to_image(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T, F) mel -> (B, C, 256, 256): normalise each mel bin (bn0), stretch time to 1024
        frames, fold it into 4 rows."""
        cfg = self.cfg
        x = self.bn0(x.transpose(1, 3)).transpose(1, 3)
        target_t = cfg.spec_size * cfg.freq_ratio
        if x.shape[2] < target_t:
            x = stretch_time(x, target_t)
        # slices and a concatenation, no reshape: this also folds the empty batch of local chunks that a
        # batch without a longer loop has, which ONNX Runtime's reshapes refuse
        x, rows = x.transpose(2, 3), target_t // cfg.freq_ratio
        return torch.cat([x[..., k * rows : (k + 1) * rows] for k in range(cfg.freq_ratio)], dim=2)

    def latent(self, mel: torch.Tensor, longer: torch.Tensor) -> torch.Tensor:
        """Pooled HTS-AT latent (CLAP's ``embedding`` output of the audio branch), (B, latent_dim).

        Channel 0 of ``mel`` is the whole loop; with fusion, channels 1-3 are its local chunks, which
        only the ``longer`` loops use (CLAP's own indexing): the others' are never computed, so a
        batch of loops within the clip costs what a model without fusion does."""
        whole = self._to_image(mel[:, :1])
        rows = chunks = None
        if self.cfg.fusion:
            rows = torch.nonzero(longer).flatten()
            chunks = self._to_image(mel[rows, 1:])
        x = self.patch_embed(whole, chunks, rows)
        for stage in self.layers:
            x = stage(x)
        return self.norm(x).mean(dim=1)

    def forward(self, mel: torch.Tensor, longer: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        latent = self.latent(mel, longer)
        return latent, F.normalize(self.audio_projection(latent), dim=-1)

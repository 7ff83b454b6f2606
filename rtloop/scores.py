"""What scoring returns: plain arrays, so the daemon's process need not load onnxruntime to read them."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rtloop.grid import Grid


@dataclass(frozen=True)
class Scores:
    """Scores of a batch of loops.

    ``raw``, ``variation`` and ``flagged`` are the overall ones; ``aspects`` and ``aspect_raw`` hold
    each aspect's variation (0..1) and raw detector score, in :data:`rtloop.aspects.ASPECTS` order
    (empty for a format-1 bundle, whose overall is the network's alone); ``grids`` the grid each loop
    was described against.
    """

    raw: np.ndarray
    variation: np.ndarray
    flagged: np.ndarray
    embedding: np.ndarray
    aspects: dict[str, np.ndarray] = field(default_factory=dict)
    aspect_raw: dict[str, np.ndarray] = field(default_factory=dict)
    grids: tuple[Grid, ...] = ()
    top_aspects: tuple[str, ...] = ()  # per loop, the aspect furthest beyond its own threshold


@dataclass(frozen=True)
class AspectScores:
    """The loop-descriptor aspects of a batch, scored without the network (milliseconds, so they can
    be sent before the network answers): each aspect's variation (0..1) and raw score, and the grid
    each loop was described against."""

    variation: dict[str, np.ndarray]
    raw: dict[str, np.ndarray]
    grids: tuple[Grid, ...]

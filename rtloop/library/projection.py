"""The explorer's 2-D map: a PCA of the embeddings, computed in two streaming passes over the database."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from rtloop.library.db import LibraryDB


def pca_axes(chunks: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and the two leading principal axes of the embeddings, from running sums (memory O(d^2)).

    Args:
        chunks: arrays of shape (n_i, d), together the whole collection.

    Returns:
        ``(mean (d,), axes (d, 2))``; the axes' signs are fixed (largest coordinate positive) so that
        the map does not flip between scans.
    """
    count, total, outer = 0, None, None
    for x in chunks:
        if total is None:
            total, outer = np.zeros(x.shape[1]), np.zeros((x.shape[1], x.shape[1]))
        count += len(x)
        total += x.sum(axis=0)
        outer += x.T @ x
    if total is None or outer is None:
        return np.zeros(0), np.zeros((0, 2))
    mean = total / count
    cov = outer / count - np.outer(mean, mean)
    _, vectors = np.linalg.eigh(cov)  # ascending eigenvalues
    axes = vectors[:, ::-1][:, :2]
    if axes.shape[1] < 2:
        axes = np.pad(axes, ((0, 0), (0, 2 - axes.shape[1])))
    signs = np.sign(axes[np.argmax(np.abs(axes), axis=0), [0, 1]])
    return mean, axes * np.where(signs == 0, 1.0, signs)


def update_map(db: LibraryDB) -> int:
    """Recompute every scored loop's map coordinates; returns how many loops the map holds."""
    mean, axes = pca_axes(x for _, x in db.embeddings())
    # all coordinates first, then the writes: no UPDATE while a SELECT over the same table is open
    placed = [(ids, (x - mean) @ axes) for ids, x in db.embeddings()]
    for ids, xy in placed:
        db.set_map(ids, xy)
    return sum(len(ids) for ids, _ in placed)

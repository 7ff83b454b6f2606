"""Short-time power spectra computed a block of frames at a time."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def power_blocks(
    framed: np.ndarray, window: np.ndarray, block_bytes: int, bins: slice = slice(None)
) -> Iterator[tuple[slice, np.ndarray]]:
    """``|rfft(frames * window)|^2`` (float64) for consecutive blocks of about ``block_bytes`` of frames,
    each with the rows it covers; only the frequency ``bins`` asked for.

    Blocks keep every temporary small: a multi-megabyte temporary is a fresh memory mapping each call,
    and its page faults cost as much as the FFT itself.
    """
    rows = max(1, block_bytes // (8 * len(window)))
    for start in range(0, len(framed), rows):
        spectrum = np.fft.rfft(framed[start : start + rows] * window, axis=-1)[:, bins]
        yield slice(start, start + rows), spectrum.real**2 + spectrum.imag**2

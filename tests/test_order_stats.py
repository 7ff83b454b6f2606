"""The descriptors' percentiles and medians give numpy's values exactly (a feature must not move)."""

from __future__ import annotations

import numpy as np
import pytest

from rtloop.descriptors.order_stats import median, percentile
from rtloop.descriptors.spectra import windows


def _arrays(rng: np.random.Generator) -> list[np.ndarray]:
    out = []
    for trial in range(300):
        n = int(rng.integers(1, 300))
        shape = (n,) if trial % 3 else (n, int(rng.integers(1, 12)))
        a = rng.standard_normal(shape) * 10.0 ** int(rng.integers(-3, 4))
        if trial % 5 == 0:
            a = np.round(a)  # ties
        if trial % 17 == 0:
            a.flat[rng.integers(a.size)] = np.nan
        out.append(a.astype(np.float32) if trial % 2 else a)
    return out


@pytest.mark.parametrize("q", [0, 5, 10, 25, 33.3, 50.0, 90, 99.9, 100])
def test_percentiles_are_numpys_to_the_bit(q: float) -> None:
    for a in _arrays(np.random.default_rng(int(q * 10))):
        for axis in (None, 0) if a.ndim == 2 else (None,):
            expected, got = np.percentile(a, q, axis=axis), percentile(a, q, axis=axis)
            assert np.asarray(got).dtype == np.asarray(expected).dtype
            assert np.array_equal(got, expected, equal_nan=True), (a.shape, a.dtype, q, axis)


def test_medians_are_numpys_to_the_bit_and_leave_the_input_alone() -> None:
    for a in _arrays(np.random.default_rng(7)):
        a = a.reshape(-1)
        before = a.copy()
        expected, got = np.median(a), median(a)
        assert np.asarray(got).dtype == np.asarray(expected).dtype
        assert np.array_equal(got, expected, equal_nan=True), (a.shape, a.dtype)
        assert np.array_equal(a, before, equal_nan=True)


def test_windows_are_numpys_sliding_windows() -> None:
    x = np.arange(40.0)[::2]  # strided, as a slice of a longer signal is
    for size in (1, 5, 20):
        got = windows(x, size)
        assert np.array_equal(got, np.lib.stride_tricks.sliding_window_view(x, size))
        assert not got.flags.writeable

"""rtloop.descriptors.circular gives numpy's values exactly (the descriptors' VERSION depends on it)."""

from __future__ import annotations

import numpy as np
import pytest

from rtloop.descriptors.circular import roll, wrap_pad


@pytest.mark.parametrize("n", [1, 2, 7, 250])
@pytest.mark.parametrize("shift", [0, 1, -1, 3, -17, 251, -500])
def test_roll_is_numpys_along_the_first_axis(n: int, shift: int) -> None:
    rng = np.random.default_rng(n)
    for a in (rng.standard_normal(n).astype(np.float32), rng.standard_normal((n, 3)), rng.random(n) > 0.5):
        got = roll(a, shift)
        assert got.dtype == a.dtype and np.array_equal(got, np.roll(a, shift, axis=0))
        assert not np.shares_memory(got, a)


def test_roll_of_nothing_is_nothing() -> None:
    assert roll(np.zeros(0), 5).shape == (0,)


@pytest.mark.parametrize("n", [1, 3, 16, 1000])
@pytest.mark.parametrize(("before", "after"), [(0, 0), (1, 0), (0, 4), (8, 7), (256, 300), (2100, 5)])
def test_wrap_pad_is_numpys(n: int, before: int, after: int) -> None:
    x = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    got = wrap_pad(x, before, after)
    assert got.dtype == x.dtype and np.array_equal(got, np.pad(x, (before, after), mode="wrap"))

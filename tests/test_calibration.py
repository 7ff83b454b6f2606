"""Calibration: median -> 0.05, threshold -> 0.5, monotonic, bounded, safe on degenerate scores."""

from __future__ import annotations

import numpy as np
import pytest

from rtloop.calibration import Calibration, fit_calibration


def test_anchor_points() -> None:
    scores = np.random.default_rng(0).gamma(2.0, 1.0, 200)
    cal = fit_calibration(scores, quantile=0.95)
    assert cal.threshold == pytest.approx(np.quantile(scores, 0.95))
    assert cal.variation(np.array([np.median(scores)]))[0] == pytest.approx(0.05)
    assert cal.variation(np.array([cal.threshold]))[0] == pytest.approx(0.5)
    assert cal.flagged(np.array([cal.threshold * 1.01, cal.threshold * 0.99])).tolist() == [True, False]
    assert np.mean(cal.flagged(scores)) == pytest.approx(0.05, abs=0.01)


def test_monotonic_and_bounded_even_for_extreme_scores() -> None:
    cal = fit_calibration(np.array([1.0, 2.0, 3.0, 4.0]))
    values = cal.variation(np.array([-1e300, -5.0, 0.0, 2.5, 10.0, 1e300]))
    assert np.all(np.diff(values) >= 0) and values[0] >= 0.0 and values[-1] <= 1.0
    assert np.all(np.isfinite(values))


def test_constant_scores_give_a_valid_step() -> None:
    cal = fit_calibration(np.full(5, 2.0))
    assert cal.width > 0
    assert cal.variation(np.array([1.9, 2.1])).tolist() == pytest.approx([0.0, 1.0])


def test_round_trip_and_refusals() -> None:
    cal = fit_calibration(np.arange(10.0))
    assert Calibration.from_dict(cal.to_dict()) == cal
    with pytest.raises(ValueError):
        Calibration.from_dict({**cal.to_dict(), "method": "other"})
    with pytest.raises(ValueError):
        fit_calibration(np.array([1.0, np.nan]))

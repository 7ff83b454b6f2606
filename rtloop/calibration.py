"""Calibration: raw detector score -> variation value 0..1 and a default threshold.

Method ("logistic-quantile"), fitted on the scores of held-out normal loops:

* ``threshold`` = the ``quantile`` (default 0.95) of those scores: about 5 % of normal loops are flagged;
* ``median`` = their median;
* ``variation(s) = 1 / (1 + exp(-(s - threshold) / width))`` with ``width = (threshold - median) / ln 19``.

So a typical normal loop reads 0.05, a loop exactly at the threshold 0.5 (the flag's edge), and a loop
as far above the threshold as the threshold is above the median 0.95. The map is monotonic, so
rankings and ROC curves are those of the raw score.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

METHOD = "logistic-quantile"


@dataclass(frozen=True)
class Calibration:
    """Fitted calibration; stored in the bundle manifest."""

    median: float
    threshold: float
    width: float
    quantile: float = 0.95
    method: str = METHOD

    def logit(self, scores: np.ndarray) -> np.ndarray:
        """Raw scores in units of the calibration: 0 at the threshold, ln 19 per threshold-median spread."""
        return (np.asarray(scores, dtype=np.float64) - self.threshold) / self.width

    def variation(self, scores: np.ndarray) -> np.ndarray:
        """Map raw scores (higher = more anomalous) to 0..1."""
        return 0.5 * (1.0 + np.tanh(0.5 * np.clip(self.logit(scores), -500, 500)))  # logistic, overflow-free

    def flagged(self, scores: np.ndarray) -> np.ndarray:
        """True where a raw score is over the threshold."""
        return np.asarray(scores) > self.threshold

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        if data.get("method") != METHOD:
            raise ValueError(f"unknown calibration method {data.get('method')!r}")
        return cls(**data)


def fit_calibration(normal_scores: np.ndarray, quantile: float = 0.95) -> Calibration:
    """Fit the calibration on scores of normal loops the detector did not train on."""
    scores = np.asarray(normal_scores, dtype=np.float64)
    if scores.size == 0 or not np.all(np.isfinite(scores)):
        raise ValueError("calibration needs at least one finite score")
    median = float(np.median(scores))
    threshold = float(np.quantile(scores, quantile))
    spread = threshold - median
    if spread <= 0.0:  # (near-)constant scores: keep the map a steep, valid step at the threshold
        spread = max(abs(threshold), 1.0) * 1e-6
    return Calibration(median=median, threshold=threshold, width=spread / math.log(19.0), quantile=quantile)


OVERALL_METHOD = "logsumexp-of-logits"


def combine_logits(logits: dict[str, np.ndarray], aspects: tuple[str, ...]) -> np.ndarray:
    """The overall raw score of several aspects: log-sum-exp of their calibrated logits.

    Each aspect's logit is 0 at its own threshold, so the aspects are on one scale whatever their
    detectors' units. Log-sum-exp is a smooth maximum: one aspect far out lifts the overall as much as
    it lifts itself (a wrong-notes loop is as unusual as its harmony), and several aspects a little out
    add up. The overall has its own calibration, fitted on held-out normal loops.
    """
    stacked = np.stack([np.asarray(logits[a], dtype=np.float64) for a in aspects])
    top = stacked.max(axis=0)
    return top + np.log(np.exp(stacked - top).sum(axis=0))

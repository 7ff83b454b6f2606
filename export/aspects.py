"""Training the descriptor aspects of a bundle (format 2): grids, descriptors, one detector and one
calibration per aspect, and the overall calibration that combines them with the network's ``sound``.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from export.detectors import Detector, OneSided, make_detector
from rtloop.aspects import SOUND
from rtloop.audio_io import load_audio
from rtloop.bundle import selftest_waves
from rtloop.calibration import OVERALL_METHOD, Calibration, combine_logits, fit_calibration
from rtloop.descriptors import ASPECTS as DESCRIPTOR_ASPECTS
from rtloop.descriptors import VERSION as DESCRIPTORS_VERSION
from rtloop.descriptors import describe, fault_signs, feature_names
from rtloop.grid import Grid, estimate_grid, grid_for_file

FOLDS = 5


@dataclass(frozen=True)
class DescribedLoops:
    """Every training loop's grid and descriptor vectors: ``features[aspect]`` is (loops, dim)."""

    grids: list[Grid]
    features: dict[str, np.ndarray]


@dataclass(frozen=True)
class AspectFit:
    """One descriptor aspect: its detector (fitted on every training loop), the out-of-fold scores of
    every training loop, and the calibration fitted on those."""

    name: str
    detector: Detector
    calibration: Calibration
    oof_scores: np.ndarray

    @property
    def file(self) -> str:
        return f"{self.name}.onnx"


def describe_loops(
    paths: list[Path], sample_rate: int, bpm: float | None, bars_hint: int | None, beats_per_bar: int
) -> DescribedLoops:
    """Grid (acid chunk, file name, options, else estimated) and descriptors of each loop file (a
    progress bar with loops/s on a terminal)."""
    grids, vectors = [], []
    for path in tqdm(paths, desc="describing", unit="loop", disable=None):
        wave = load_audio(path, sample_rate)
        grid = grid_for_file(path, wave, sample_rate, bpm=bpm, bars_hint=bars_hint, beats_per_bar=beats_per_bar)
        grids.append(grid)
        vectors.append(describe(wave, sample_rate, grid))
    return DescribedLoops(grids, {a: np.stack([v[a] for v in vectors]) for a in DESCRIPTOR_ASPECTS})


def fit_aspects(
    described: DescribedLoops, val_idx: np.ndarray, detector: str, seed: int, quantile: float, folds: int = FOLDS
) -> dict[str, AspectFit]:
    """One ``detector`` per descriptor aspect, calibrated on out-of-fold scores.

    A held-out fifth of a few dozen loops gives a threshold (a 95th percentile) from a handful of
    scores. Instead every training loop is scored by a detector fitted without it (``folds``-fold), the
    calibration is fitted on all those scores, and the detector the bundle keeps is fitted on every loop.
    ``val_idx`` (the network's held-out loops) only serves detectors that stop early. An aspect whose
    features measure faults (integrity) gets the detector behind a :class:`OneSided` floor.
    """
    signs = fault_signs()

    def fresh(aspect: str) -> Detector:
        inner = make_detector(detector, seed)
        return OneSided(inner, signs[aspect]) if aspect in signs else inner

    n = len(described.grids)
    order = np.random.default_rng(seed).permutation(n)
    parts = np.array_split(order, min(folds, n))
    fits = {}
    for aspect in DESCRIPTOR_ASPECTS:
        X = described.features[aspect]
        oof = np.empty(n, dtype=np.float64)
        for held in parts:
            kept = np.setdiff1d(order, held)
            oof[held] = fresh(aspect).fit(X[kept], X[held]).decision_function(X[held])
        model = fresh(aspect).fit(X, X[val_idx])
        fits[aspect] = AspectFit(aspect, model, fit_calibration(oof, quantile), oof)
    return fits


def overall_calibration(
    fits: dict[str, AspectFit],
    sound: Calibration,
    sound_val: np.ndarray,
    val_idx: np.ndarray,
    aspects: tuple[str, ...],
    quantile: float,
) -> Calibration:
    """The overall calibration, fitted on combined logits (:func:`rtloop.calibration.combine_logits`)
    of loops no detector was fitted on: every training loop's out-of-fold descriptor scores, or, when
    the overall includes ``sound``, the network's held-out loops."""
    loops = val_idx if SOUND in aspects else np.arange(len(next(iter(fits.values())).oof_scores))
    logits = {name: fit.calibration.logit(fit.oof_scores[loops]) for name, fit in fits.items()}
    if SOUND in aspects:
        logits[SOUND] = sound.logit(sound_val)
    return fit_calibration(combine_logits(logits, aspects), quantile)


def selftest(
    fits: dict[str, AspectFit], sound: Calibration, sound_scores: list[float], aspects: tuple[str, ...], rate: int
) -> dict[str, Any]:
    """What the self-test signals score per aspect and overall, as :meth:`rtloop.scorer.Scorer.self_test`
    recomputes them from the graphs (their grids are estimated, as for any loop without a tempo)."""
    waves = selftest_waves(rate)
    described = [describe(wave, rate, estimate_grid(wave, rate)) for wave in waves]
    raw = {name: fit.detector.decision_function(np.stack([d[name] for d in described])) for name, fit in fits.items()}
    logits = {name: fits[name].calibration.logit(values) for name, values in raw.items()}
    logits[SOUND] = sound.logit(np.asarray(sound_scores))
    return {
        "aspects": {name: [float(v) for v in values] for name, values in raw.items()},
        "overall": [float(v) for v in combine_logits(logits, aspects)],
    }


def manifest_entries(
    fits: dict[str, AspectFit], overall: Calibration, aspects: tuple[str, ...], described: DescribedLoops
) -> dict[str, Any]:
    """The format-2 manifest keys: ``aspects``, ``overall`` and ``descriptors``."""
    names = feature_names()
    return {
        "aspects": {
            name: {
                "file": fit.file,
                "dim": int(described.features[name].shape[1]),
                "detector": fit.detector.manifest(),
                "calibration": fit.calibration.to_dict(),
            }
            for name, fit in fits.items()
        },
        "overall": {"method": OVERALL_METHOD, "aspects": list(aspects), "calibration": overall.to_dict()},
        "descriptors": {"names": names, "version": DESCRIPTORS_VERSION},
    }


def grid_record(paths: list[Path], grids: list[Grid]) -> dict[str, Any]:
    """Where each training loop's grid came from (the manifest's ``training.grids``)."""
    return {
        "sources": dict(collections.Counter(g.source.value for g in grids)),
        "loops": [
            {"file": path.name, "source": g.source.value, "bpm": round(g.bpm, 2), "bars": g.bars}
            for path, g in zip(paths, grids, strict=True)
        ],
    }


def overall_aspects(pretrained: bool, choice: str) -> tuple[str, ...]:
    """The aspects the overall variation combines: every descriptor aspect, and ``sound`` (the network)
    when the encoder is pretrained (``choice`` "auto"), always ("with-sound") or never ("without-sound").

    A randomly initialised encoder's ``sound`` catches gross changes the descriptors catch too, and adds
    noise to everything else: measured by bench/quality.py, it lowers the overall (README, Numbers).
    """
    with_sound = {"auto": pretrained, "with-sound": True, "without-sound": False}[choice]
    return (*DESCRIPTOR_ASPECTS, SOUND) if with_sound else tuple(DESCRIPTOR_ASPECTS)


def check_aspect_parity(fits: dict[str, AspectFit], described: DescribedLoops, folder: Path) -> float:
    """The worst relative difference between each aspect detector in Python and its exported graph,
    over every training loop.

    Raises:
        ParityError: a difference above the export's score tolerance.
    """
    import onnxruntime as ort

    from export.onnx_export import SCORE_RTOL, ParityError
    from rtloop.session_options import session_options

    worst = 0.0
    for name, fit in fits.items():
        X = described.features[name]
        session = ort.InferenceSession(str(folder / fit.file), session_options(), providers=["CPUExecutionProvider"])
        (onnx_scores,) = session.run(["score"], {"features": X.astype(np.float32)})
        python_scores = fit.detector.decision_function(X)
        scale = np.maximum(np.abs(python_scores), 1e-6 * max(1.0, float(np.max(np.abs(python_scores)))))
        rel = float(np.max(np.abs(onnx_scores - python_scores) / scale))
        if not rel <= SCORE_RTOL:
            raise ParityError(
                f"ONNX Runtime disagrees with the {name} detector in Python: relative difference {rel:.2e}"
            )
        worst = max(worst, rel)
    return worst

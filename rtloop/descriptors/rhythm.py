"""Rhythm descriptors: where the onsets fall on the loop's beat grid, missing beats, repetition, tempo fit."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from rtloop.descriptors.circular import roll
from rtloop.descriptors.spectra import Spectra

if TYPE_CHECKING:
    from rtloop.grid import Grid

# The grid's beat is folded by octaves into this tempo range, so a tempo read at half or double
# gives the same rhythm unit and the same features.
CANONICAL_BPM = (80.0, 160.0)
VS_RATES = (1, 2, 3, 4, 6, 8)  # subdivisions per beat: beats, 8ths, triplet 8ths, 16ths, triplet 16ths, 32nds
ALIGN_RATES = (1, 2, 3, 4, 6)
PERIOD_RATES = (1, 2)  # periodicity checked at the beat and the 8th
# A window cut a little early or late (input latency, MIDI clock jitter, a loop file trimmed loosely)
# is not a rhythm change: the grid is realigned by up to this much, or an eighth of a beat if less.
MAX_REALIGN_S = 0.04
REALIGN_STEPS = 33  # offsets tried across +-MAX_REALIGN_S: 2.5 ms apart
REALIGN_RATES = (1, 2, 4)  # what the realigned grid lines up with: beats, 8ths and 16ths
_EPS = 1e-9

NAMES: tuple[str, ...] = (
    *(f"strength_{r}" for r in VS_RATES),
    *(f"alignment_{r}" for r in ALIGN_RATES),
    "looseness_16th",
    "beat_min",
    "beat_spread",
    "beat_weak_share",
    "slot_entropy",
    "slot_occupancy",
    *(f"position_16th_{m}" for m in range(4)),
    "downbeat",
    "repeat_beat",
    "repeat_half_bar",
    "repeat_bar",
    *(f"{what}_{r}" for r in PERIOD_RATES for what in ("periodicity", "tempo_shift", "period_fit")),
    "onset_rate",
    "onset_peakiness",
)


def canonical_beat(bpm: float) -> float:
    """The grid's beat folded by octaves into CANONICAL_BPM, in seconds."""
    lo, hi = CANONICAL_BPM
    while bpm < lo:
        bpm *= 2.0
    while bpm >= hi:
        bpm /= 2.0
    return 60.0 / bpm


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.sqrt(np.dot(a, a) * np.dot(b, b)) + _EPS))


def _circular_acf(o: np.ndarray) -> np.ndarray:
    z = o - o.mean()
    spec = np.fft.rfft(z)
    acf = np.fft.irfft(spec.real**2 + spec.imag**2, len(z))
    return acf / (acf[0] + _EPS)


def _acf_at(acf: np.ndarray, lag: float) -> float:
    i = int(np.floor(lag))
    f = lag - i
    n = len(acf)
    return float((1 - f) * acf[i % n] + f * acf[(i + 1) % n])


def _period_features(acf: np.ndarray, lag: float) -> tuple[float, float, float]:
    """ACF at the grid's lag, log2 of the best lag near it over the grid's lag, and their ratio."""
    n = len(acf)
    lo, hi = int(np.floor(lag * 0.8)), int(np.ceil(lag * 1.25))
    if lag < 2 or hi >= n // 2 + 1:
        return 0.0, 0.0, 1.0
    at_grid = _acf_at(acf, lag)
    seg = acf[lo : hi + 1]
    k = int(np.argmax(seg))
    best = float(seg[k])
    shift = 0.0
    if 0 < k < len(seg) - 1:  # parabolic interpolation of the peak
        a, b, c = seg[k - 1], seg[k], seg[k + 1]
        denom = a - 2 * b + c
        shift = float(0.5 * (a - c) / denom) if abs(denom) > _EPS else 0.0
    best_lag = lo + k + shift
    fit = (at_grid + 1.0) / (best + 1.0 + _EPS)  # ACF is in [-1, 1]: shift so the ratio stays in (0, 1]
    return at_grid, float(np.log2(max(best_lag, 1.0) / lag)), fit


def realigned_positions(weights: np.ndarray, times: np.ndarray, beat_s: float, downbeat: float) -> np.ndarray:
    """Beat positions of the analysis frames on the grid shifted by the constant offset (within
    +-MAX_REALIGN_S, at most an eighth of a beat) that best lines the onset energy ``weights`` up with
    the beats, 8ths and 16ths; a loop without onsets keeps its grid."""
    limit = min(MAX_REALIGN_S, beat_s / 8.0)
    offsets = np.linspace(-limit, limit, REALIGN_STEPS)
    positions = (times - downbeat) / beat_s
    # sum_t w(t) cos(2 pi r (b(t) - d)) = Re(S_r e^{-2 pi i r d}), S_r = sum_t w(t) e^{2 pi i r b(t)}
    fit = sum(
        np.real(np.sum(weights * np.exp(2j * np.pi * r * positions)) * np.exp(-2j * np.pi * r * offsets / beat_s))
        for r in REALIGN_RATES
    )
    best = offsets[int(np.argmax(fit))] if float(weights.sum()) > _EPS else 0.0
    return positions - best / beat_s


def features(spectra: Spectra, grid: Grid) -> np.ndarray:
    """Rhythm features of one loop against its grid (see docs/descriptors.md)."""
    o = spectra.onsets.astype(np.float64)
    total = float(o.sum())
    w = o / total if total > _EPS else np.zeros_like(o)
    beat_s = canonical_beat(grid.bpm)
    dt = spectra.frame_seconds
    beat_pos = realigned_positions(w, np.arange(len(o)) * dt, beat_s, grid.downbeat)
    n_beats = max(1, int(round(spectra.seconds / beat_s)))
    beats_per_bar = max(1, int(round(grid.bar_seconds / beat_s)))

    strength = [abs(np.sum(w * np.exp(2j * np.pi * beat_pos * r))) for r in VS_RATES]
    alignment = [float(np.sum(w * np.cos(2 * np.pi * beat_pos * r))) for r in ALIGN_RATES]
    phase16 = beat_pos * 4 - np.round(beat_pos * 4)  # offset from the nearest 16th, in 16ths
    looseness = float(np.sum(w * np.abs(phase16)))

    # Beat spans start an eighth of a beat early, so a slightly early note still counts to its beat.
    beat_index = np.floor(beat_pos + 0.125).astype(int) % n_beats
    beat_energy = np.bincount(beat_index, weights=w, minlength=n_beats)
    rel = beat_energy / (beat_energy.mean() + _EPS)
    has_onsets = total > _EPS
    beat_min = float(rel.min()) if has_onsets else 0.0
    beat_spread = float(rel.std()) if has_onsets else 0.0
    beat_weak = float(np.mean(rel < 0.25)) if has_onsets else 1.0

    n_slots = 4 * n_beats
    slot = np.round(beat_pos * 4).astype(int) % n_slots
    slots = np.bincount(slot, weights=w, minlength=n_slots)
    p = slots[slots > _EPS]
    slot_entropy = float(-np.sum(p * np.log(p)) / np.log(n_slots)) if n_slots > 1 and has_onsets else 0.0
    slot_occupancy = float(np.mean(slots > 0.5 / n_slots)) if has_onsets else 0.0
    position = [float(slots[m::4].sum()) for m in range(4)]
    downbeats = beat_energy[::beats_per_bar]
    downbeat = float(downbeats.mean() / (beat_energy.mean() + _EPS)) if has_onsets else 0.0

    bar_slots = 4 * beats_per_bar
    half_bar = max(4, bar_slots // 2)
    bar_lag = bar_slots if n_slots > bar_slots else half_bar  # a one-bar loop compares its half bars
    repeat = [_cosine(slots, roll(slots, lag)) for lag in (4, half_bar, bar_lag)]

    acf = _circular_acf(o)
    period: list[float] = []
    for r in PERIOD_RATES:
        period.extend(_period_features(acf, beat_s / r / dt))

    peaks = (o > roll(o, 1)) & (o >= roll(o, -1)) & (o > 0.25 * (o.max() + _EPS))
    onset_rate = float(peaks.sum()) / n_beats
    peakiness = float(np.log((o.max() + _EPS) / (o.mean() + _EPS))) if has_onsets else 0.0

    return np.array(
        [
            *strength,
            *alignment,
            looseness,
            beat_min,
            beat_spread,
            beat_weak,
            slot_entropy,
            slot_occupancy,
            *position,
            downbeat,
            *repeat,
            *period,
            onset_rate,
            peakiness,
        ],
        dtype=np.float64,
    )

"""Harmony descriptors: key-invariant pitch-class content, tonal clarity, intervals, note changes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from rtloop.descriptors.circular import roll
from rtloop.descriptors.rhythm import canonical_beat
from rtloop.descriptors.spectra import MIDI_LOW, Pitch

if TYPE_CHECKING:
    from rtloop.grid import Grid

_EPS = 1e-9
_SORTED = 6  # the six strongest pitch classes of the profile

NAMES: tuple[str, ...] = (
    *(f"profile_dft_{k}" for k in range(1, 7)),
    *(f"profile_rank_{i}" for i in range(1, _SORTED + 1)),
    "profile_entropy",
    "frame_clarity",
    "frame_entropy",
    "pitchedness",
    *(f"chord_interval_{k}" for k in range(1, 7)),
    *(f"step_interval_{k}" for k in range(7)),
    "changes_per_beat",
    "pitch_spread",
    "repeat_half_bar",
    "repeat_bar",
)


def chroma(pitch: Pitch) -> np.ndarray:
    """Per-frame pitch-class distribution (frames, 12), each row summing to 1 (or 0 in silence).

    Only salience peaks along the pitch axis count, so the smear of a partial into neighbouring
    pitches does not leak into neighbouring classes.
    """
    s = pitch.salience
    up = np.pad(s, ((0, 0), (1, 0)))[:, :-1]
    down = np.pad(s, ((0, 0), (0, 1)))[:, 1:]
    top = s.max(axis=1, keepdims=True)
    peaks = np.where((s >= up) & (s >= down) & (s > 0.1 * top), s, 0.0)
    classes = (np.arange(s.shape[1]) + MIDI_LOW) % 12
    c = np.zeros((s.shape[0], 12))
    for pc in range(12):
        c[:, pc] = peaks[:, classes == pc].sum(axis=1)
    total = c.sum(axis=1, keepdims=True)
    return np.where(total > _EPS, c / np.maximum(total, _EPS), 0.0)


def _entropy(p: np.ndarray, axis: int = -1) -> np.ndarray:
    return -np.sum(np.where(p > _EPS, p * np.log(np.maximum(p, _EPS)), 0.0), axis=axis) / np.log(12)


def _circular_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """r[t, k] = sum_i a[t, i] b[t, (i + k) % 12] for each row."""
    fa, fb = np.fft.rfft(a, axis=1), np.fft.rfft(b, axis=1)
    return np.fft.irfft(np.conj(fa) * fb, 12, axis=1)


def _fold(r: np.ndarray, with_unison: bool) -> np.ndarray:
    """Interval classes from a 12-lag correlation: k and 12 - k are the same class."""
    folded = [r[..., k] + r[..., 12 - k] for k in range(1, 6)] + [r[..., 6]]
    if with_unison:
        folded = [r[..., 0], *folded]
    return np.stack(folded, axis=-1)


def _sequence_similarity(c: np.ndarray, lag: int) -> float:
    if lag < 1 or lag >= len(c):
        return 1.0 if len(c) <= 1 else 0.0
    a, b = c.reshape(-1), roll(c, lag).reshape(-1)
    return float(np.dot(a, b) / (np.sqrt(np.dot(a, a) * np.dot(b, b)) + _EPS))


def features(pitch: Pitch, grid: Grid, seconds: float) -> np.ndarray:
    """Harmony features of one loop (see docs/descriptors.md)."""
    c = chroma(pitch)
    w = pitch.weight.astype(np.float64)
    tonal = float(w.sum()) > 0.5
    profile = w @ c
    profile = profile / (profile.sum() + _EPS)
    dft = np.abs(np.fft.rfft(profile))[1:7]
    ranked = np.sort(profile)[::-1][:_SORTED]
    profile_entropy = float(_entropy(profile)) if tonal else 1.0
    frame_clarity = float(w @ c.max(axis=1))
    frame_entropy = float(w @ _entropy(c)) if tonal else 1.0
    s = pitch.salience
    pitchedness = float(w @ np.log((s.max(axis=1) + _EPS) / (s.mean(axis=1) + _EPS))) if tonal else 0.0

    chord = w @ _fold(_circular_correlation(c, c), with_unison=False)
    beat_s = canonical_beat(grid.bpm)
    step = max(1, int(round(beat_s / 2 / pitch.frame_seconds)))  # successive notes an 8th apart
    nxt = roll(c, -step)
    pair_w = w * roll(w, -step)
    pair_w = pair_w / (pair_w.sum() + _EPS)
    steps = pair_w @ _fold(_circular_correlation(c, nxt), with_unison=True)

    following = roll(c, -1)
    cos = np.sum(c * following, axis=1) / (np.linalg.norm(c, axis=1) * np.linalg.norm(following, axis=1) + _EPS)
    change = float(w @ (1.0 - cos)) if tonal else 0.0
    changes_per_beat = change * beat_s / pitch.frame_seconds

    dominant = np.argmax(s, axis=1).astype(np.float64)
    mean_pitch = float(w @ dominant)
    spread = float(np.sqrt(w @ (dominant - mean_pitch) ** 2)) if tonal else 0.0

    frames_per_bar = grid.bar_seconds / pitch.frame_seconds
    bars_in_loop = seconds / grid.bar_seconds
    half_bar = int(round(frames_per_bar / 2))
    bar = int(round(frames_per_bar)) if bars_in_loop > 1.5 else half_bar
    repeat = [_sequence_similarity(c, half_bar), _sequence_similarity(c, bar)]

    return np.array(
        [
            *dft,
            *ranked,
            profile_entropy,
            frame_clarity,
            frame_entropy,
            pitchedness,
            *chord,
            *steps,
            changes_per_beat,
            spread,
            *repeat,
        ],
        dtype=np.float64,
    )

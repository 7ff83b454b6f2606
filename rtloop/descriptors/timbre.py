"""Timbre descriptors: spectral shape and its movement, noisiness, distortion."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from rtloop.blas import matmul_unthreaded
from rtloop.descriptors.samples import Samples
from rtloop.descriptors.spectra import (
    ANALYSIS_RATE,
    MIDI_LOW,
    N_BANDS,
    N_FFT,
    PITCH_FFT,
    PITCH_RATE,
    Pitch,
    Spectra,
)

N_CEPSTRA = 13
_EPS = 1e-12
_FLATNESS_BINS = slice(4, None)  # from 125 Hz up: below, a bass note alone makes any spectrum look "peaky"

NAMES: tuple[str, ...] = (
    *(f"cepstrum_mean_{i}" for i in range(1, N_CEPSTRA)),
    *(f"cepstrum_std_{i}" for i in range(N_CEPSTRA)),
    *(f"{what}_{stat}" for what in ("centroid", "bandwidth", "rolloff", "flatness") for stat in ("mean", "std")),
    "movement_mean",
    "movement_std",
    "zero_crossings",
    "high_2k",
    "high_4k",
    "crest",
    "clipping",
    "odd_even",
    "harmonic_share",
)


@lru_cache(maxsize=1)
def _dct() -> np.ndarray:
    n = np.arange(N_BANDS)
    k = np.arange(N_CEPSTRA)[:, None]
    m = np.cos(np.pi / N_BANDS * (n + 0.5) * k) * np.sqrt(2.0 / N_BANDS)
    m[0] /= np.sqrt(2.0)
    return m.T.astype(np.float32)  # (bands, cepstra)


@lru_cache(maxsize=1)
def _freqs() -> np.ndarray:
    return (np.arange(N_FFT // 2 + 1) * ANALYSIS_RATE / N_FFT).astype(np.float32)


def _weighted_stats(values: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    mean = float(np.einsum("i,i->", w, values))  # einsum: no BLAS threads (see rtloop.blas)
    return mean, float(np.sqrt(max(np.einsum("i,i->", w, (values - mean) ** 2), 0.0)))


def _harmonic_amplitudes(pitch: Pitch) -> np.ndarray:
    """Magnitude at harmonics 1..8 of each frame's most salient pitch, (frames, 8); NaN past 2 kHz."""
    f0 = 440.0 * 2.0 ** ((np.argmax(pitch.salience, axis=1) + MIDI_LOW - 69) / 12.0)
    bins = np.arange(1, 9)[None, :] * f0[:, None] * PITCH_FFT / PITCH_RATE
    mag = pitch.magnitude
    n = mag.shape[1]
    out = np.full(bins.shape, np.nan)
    ok = bins < n - 2
    rows = np.nonzero(ok)[0]
    centre = np.round(bins[ok]).astype(int)
    # The peak within +-1 bin: a partial of a slightly detuned or inharmonic string still counts.
    out[ok] = np.max(np.stack([mag[rows, centre - 1], mag[rows, centre], mag[rows, centre + 1]]), axis=0)
    return out


def features(spectra: Spectra, pitch: Pitch, samples: Samples) -> np.ndarray:
    """Timbre features of one loop (see docs/descriptors.md)."""
    power = spectra.power
    energy = power.sum(axis=1, dtype=np.float64)
    total = float(energy.sum())
    w = energy / total if total > _EPS else np.full(len(energy), 1.0 / len(energy))

    cep = matmul_unthreaded(spectra.log_bands, _dct())
    cep_mean = cep.mean(axis=0)[1:]
    cep_std = cep.std(axis=0)

    freqs = _freqs()
    nyq = ANALYSIS_RATE / 2
    p = power / (energy[:, None].astype(np.float32) + 1e-20)
    centroid = np.einsum("fk,k->f", p, freqs)
    bandwidth = np.sqrt(np.maximum(np.einsum("fk,k->f", p, freqs**2) - centroid**2, 0.0))
    rolloff = np.argmax(np.cumsum(p, axis=1) >= 0.85, axis=1) * (ANALYSIS_RATE / N_FFT)
    upper = power[:, _FLATNESS_BINS] + np.float32(1e-20)
    flatness = np.exp(np.mean(np.log(upper), axis=1)) / np.mean(upper, axis=1)
    shape = []
    for values in (centroid / nyq, bandwidth / nyq, rolloff / nyq, flatness):
        shape.extend(_weighted_stats(values.astype(np.float64), w))

    move = np.sqrt(np.mean(np.diff(spectra.log_bands, axis=0) ** 2, axis=1)) if len(power) > 1 else np.zeros(1)
    x = spectra.x
    zc = float(np.mean(np.signbit(x[1:]) != np.signbit(x[:-1]))) if len(x) > 1 else 0.0
    high_2k = float(np.log10((power[:, freqs >= 2000].sum() + _EPS) / (total + _EPS)))
    high_4k = float(np.log10((power[:, freqs >= 4000].sum() + _EPS) / (total + _EPS)))

    crest = float(20 * np.log10(samples.peak / samples.rms)) if samples.rms > 1e-9 else 0.0
    clipping = float(np.log10(samples.clipped + 1e-6)) if samples.peak > 1e-9 else -6.0

    harm = _harmonic_amplitudes(pitch)
    pw = pitch.weight.astype(np.float64)
    odd = np.nansum(harm[:, [2, 4, 6]] ** 2, axis=1)
    even = np.nansum(harm[:, [1, 3, 5]] ** 2, axis=1)
    odd_even = float(pw @ np.log10((odd + 1e-6) / (even + 1e-6)))
    below = pitch.magnitude[:, : pitch.magnitude.shape[1] - 2] ** 2
    harmonic = np.nansum(harm**2, axis=1) / (below.sum(axis=1) + _EPS)
    harmonic_share = float(pw @ np.minimum(harmonic, 1.0))

    return np.array(
        [
            *cep_mean,
            *cep_std,
            *shape,
            float(move.mean()),
            float(move.std()),
            zc,
            high_2k,
            high_4k,
            crest,
            clipping,
            odd_even,
            harmonic_share,
        ],
        dtype=np.float64,
    )

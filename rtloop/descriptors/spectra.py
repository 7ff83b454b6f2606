"""The shared analysis front end of the descriptors: resampling, log-band spectrogram, onsets, pitch salience."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import soxr

from rtloop.blas import matmul_unthreaded
from rtloop.descriptors.circular import roll, wrap_pad
from rtloop.stft import power_blocks

ANALYSIS_RATE = 16000  # spectral and envelope analysis: content up to 8 kHz is enough for shape and onsets
N_FFT = 512  # 32 ms
HOP = 128  # 8 ms: onset times to a few ms, fine beside a 32nd note (62 ms at 120 BPM)
N_BANDS = 32
F_MIN = 40.0

PITCH_RATE = 4000  # pitch analysis: harmonics up to 2 kHz carry every bass and guitar pitch
PITCH_WIN = 1536  # 384 ms: long enough to resolve harmonics of E1 (41 Hz) a semitone apart
PITCH_FFT = 2048  # zero padding to 2 Hz bins for interpolation
PITCH_HOP = 256  # 64 ms
MIDI_LOW, MIDI_HIGH = 24, 84  # C1 (33 Hz) .. C6 (1047 Hz): 5-string bass to guitar leads
HARMONICS = 8
_DECIMATE_TAPS = 48
_FLOOR_DB = 80.0  # log spectra are floored this far below their loudest value, so silence stays finite


def to_analysis_rate(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono float32 audio at ANALYSIS_RATE, DC removed, non-finite samples set to zero."""
    x = np.asarray(wave, dtype=np.float32).reshape(-1)
    if not np.all(np.isfinite(x)):
        x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    if sample_rate != ANALYSIS_RATE and len(x) > 0:
        x = soxr.resample(x, sample_rate, ANALYSIS_RATE, quality="LQ").astype(np.float32)
    if len(x):
        x = x - np.mean(x)
    return x


def normalise_level(x: np.ndarray) -> np.ndarray:
    """Scale to unit RMS (silence stays zero), so that no feature depends on the absolute level."""
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0
    return (x / rms).astype(np.float32) if rms > 1e-7 else np.zeros_like(x)


def windows(x: np.ndarray, size: int) -> np.ndarray:
    """Every run of ``size`` consecutive samples of one-dimensional ``x`` (``size <= len(x)``), a read-only
    view of shape (len(x) - size + 1, size): numpy's ``sliding_window_view`` without its 15 µs of checks."""
    return np.lib.stride_tricks.as_strided(x, (len(x) - size + 1, size), (x.strides[0],) * 2, writeable=False)


def frames(x: np.ndarray, size: int, hop: int) -> np.ndarray:
    """Frames of ``size`` samples every ``hop`` samples, centred on multiples of ``hop``, wrapping around.

    A loop repeats, so the frames at its ends see its other end rather than silence.
    """
    n = max(1, -(-len(x) // hop))
    if len(x) == 0:
        return np.zeros((1, size), dtype=np.float32)
    padded = wrap_pad(x, size // 2, size // 2 + n * hop - len(x))
    return windows(padded, size)[: n * hop : hop]


@lru_cache(maxsize=4)
def _window(size: int) -> np.ndarray:
    return np.hanning(size + 2)[1:-1]  # float64: numpy's float32 FFT is several times slower


@lru_cache(maxsize=2)
def band_matrix(n_bands: int = N_BANDS) -> np.ndarray:
    """Triangular mel-spaced bands over the STFT bins (each at least one bin wide), shape (bins, bands)."""
    bins = N_FFT // 2 + 1
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    edges_mel = np.linspace(mel(F_MIN), mel(ANALYSIS_RATE / 2), n_bands + 2)
    edges = 700.0 * (10.0 ** (edges_mel / 2595.0) - 1.0) * N_FFT / ANALYSIS_RATE
    for i in range(1, len(edges)):
        edges[i] = max(edges[i], edges[i - 1] + 1.0)
    k = np.arange(bins)[:, None]
    lo, mid, hi = edges[:-2], edges[1:-1], edges[2:]
    w = np.clip(np.minimum((k - lo) / (mid - lo), (hi - k) / (hi - mid)), 0.0, None)
    return (w / np.maximum(w.sum(axis=0, keepdims=True), 1e-9)).astype(np.float32)


@dataclass(frozen=True)
class Spectra:
    """One loop's spectral analysis at ANALYSIS_RATE (level-normalised), shared by every aspect."""

    x: np.ndarray  # level-normalised audio at ANALYSIS_RATE
    power: np.ndarray  # (frames, N_FFT // 2 + 1) power spectrogram
    bands: np.ndarray  # (frames, N_BANDS) band powers
    log_bands: np.ndarray  # (frames, N_BANDS) dB, floored _FLOOR_DB below the loudest band value
    flux: np.ndarray  # (frames,) positive log-band change per frame (raw onset strength)
    onsets: np.ndarray  # (frames,) onset strength with its local mean removed, >= 0
    seconds: float  # length of the loop

    @property
    def frame_seconds(self) -> float:
        """Time between frames."""
        return HOP / ANALYSIS_RATE


def onset_envelope(x: np.ndarray) -> np.ndarray:
    """Onset strength per frame (HOP apart) of audio at ANALYSIS_RATE: spectral flux on log bands."""
    return _onsets(_flux(_log_bands(_bands(_power(normalise_level(x))))))


def _spectrum_power(framed: np.ndarray, window: np.ndarray) -> np.ndarray:
    """|rfft|^2 of windowed frames (float32), computed in blocks of about 256 kB (see rtloop.stft)."""
    out = np.empty((len(framed), len(window) // 2 + 1), dtype=np.float32)
    for rows, power in power_blocks(framed, window, 1 << 18):
        out[rows] = power
    return out


def _power(x: np.ndarray) -> np.ndarray:
    return _spectrum_power(frames(x, N_FFT, HOP), _window(N_FFT))


def _bands(power: np.ndarray) -> np.ndarray:
    return matmul_unthreaded(power, band_matrix())


def _log_bands(bands: np.ndarray) -> np.ndarray:
    top = max(float(bands.max()), 1e-12)
    return 10.0 * np.log10(np.maximum(bands, top * 10.0 ** (-_FLOOR_DB / 10.0)))


def _flux(log_bands: np.ndarray) -> np.ndarray:
    # Circular difference: the first frame's change is measured from the loop's last frame.
    return np.maximum(log_bands - roll(log_bands, 1), 0.0).mean(axis=1)


def _onsets(flux: np.ndarray, span: int = 16) -> np.ndarray:
    # Removing the local mean (128 ms) keeps the peaks and drops the steady flux of noise and vibrato.
    kernel = np.ones(span, dtype=np.float32) / span
    local = np.convolve(wrap_pad(flux, span // 2, span - span // 2 - 1), kernel, mode="valid")
    return np.maximum(flux - local, 0.0)


def analyse(wave: np.ndarray, sample_rate: int) -> Spectra:
    """Run the shared spectral analysis of one loop (any rate, any level)."""
    raw = to_analysis_rate(wave, sample_rate)
    x = normalise_level(raw)
    power = _power(x)
    bands = _bands(power)
    log_bands = _log_bands(bands)
    flux = _flux(log_bands)
    return Spectra(x, power, bands, log_bands, flux, _onsets(flux), len(raw) / ANALYSIS_RATE)


@lru_cache(maxsize=1)
def _decimation_filter() -> np.ndarray:
    ratio = ANALYSIS_RATE // PITCH_RATE
    n = np.arange(_DECIMATE_TAPS) - (_DECIMATE_TAPS - 1) / 2
    cutoff = 0.45 / ratio  # pass to 1.8 kHz, stop before 2 kHz
    h = 2 * cutoff * np.sinc(2 * cutoff * n) * np.blackman(_DECIMATE_TAPS)
    return (h / h.sum()).astype(np.float32)


def decimate_for_pitch(x: np.ndarray) -> np.ndarray:
    """Low-pass and decimate audio at ANALYSIS_RATE to PITCH_RATE (circular, as the loop repeats)."""
    ratio = ANALYSIS_RATE // PITCH_RATE
    h = _decimation_filter()
    if len(x) == 0:
        return np.zeros(1, dtype=np.float32)
    half = _DECIMATE_TAPS // 2
    padded = wrap_pad(x, half, _DECIMATE_TAPS - half)
    taps = windows(padded, _DECIMATE_TAPS)[: len(x) : ratio]
    return np.einsum("ij,j->i", taps, h[::-1])  # einsum: no BLAS threads (see rtloop.blas)


def moving_mean(a: np.ndarray, span: int) -> np.ndarray:
    """Mean over ``span`` neighbours along the last axis (edges repeated), same shape as ``a``."""
    half = span // 2
    padded = np.pad(a, [(0, 0)] * (a.ndim - 1) + [(half + 1, span - half - 1)], mode="edge")
    c = np.cumsum(padded, axis=-1, dtype=np.float64)
    return ((c[..., span:] - c[..., :-span]) / span).astype(a.dtype)


def midi_hz(midi: np.ndarray) -> np.ndarray:
    """Frequency in Hz of MIDI note numbers."""
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=np.float64) - 69.0) / 12.0)


@lru_cache(maxsize=1)
def salience_matrix() -> np.ndarray:
    """Harmonic-sum weights (bins, pitches): pitch p collects its first HARMONICS partials, 0.8^(h-1) each.

    Each partial is a triangle half a semitone wide (at least 1.5 bins), so a slightly detuned
    instrument still lands on its pitch.
    """
    bins = PITCH_FFT // 2 + 1
    hz_per_bin = PITCH_RATE / PITCH_FFT
    k = np.arange(bins)[:, None]
    pitches = np.arange(MIDI_LOW, MIDI_HIGH + 1)
    w = np.zeros((bins, len(pitches)))
    for h in range(1, HARMONICS + 1):
        centre = h * midi_hz(pitches) / hz_per_bin
        width = np.maximum(centre * (2 ** (0.5 / 12) - 1), 1.5)
        tri = np.clip(1.0 - np.abs(k - centre) / width, 0.0, None)
        tri[:, centre >= 0.95 * (bins - 1)] = 0.0
        w += 0.8 ** (h - 1) * tri / np.maximum(tri.sum(axis=0, keepdims=True), 1e-9)
    return w.astype(np.float32)


@dataclass(frozen=True)
class Pitch:
    """Pitch analysis of one loop at PITCH_RATE: magnitude spectra and harmonic-sum pitch salience."""

    magnitude: np.ndarray  # (frames, PITCH_FFT // 2 + 1)
    salience: np.ndarray  # (frames, MIDI_HIGH - MIDI_LOW + 1), >= 0
    weight: np.ndarray  # (frames,) share of the loop's tonal energy in each frame, sums to 1 (or all 0)

    @property
    def frame_seconds(self) -> float:
        """Time between frames."""
        return PITCH_HOP / PITCH_RATE


def analyse_pitch(x: np.ndarray) -> Pitch:
    """Pitch salience of level-normalised audio at ANALYSIS_RATE."""
    y = decimate_for_pitch(x)
    win = np.zeros(PITCH_FFT)
    off = (PITCH_FFT - PITCH_WIN) // 2
    win[off : off + PITCH_WIN] = _window(PITCH_WIN)
    mag = np.sqrt(_spectrum_power(frames(y, PITCH_FFT, PITCH_HOP), win))
    # Whitening: compressed magnitude above its local average over ~60 Hz keeps partials, drops the
    # spectral envelope (timbre) and broadband noise.
    comp = np.sqrt(mag)
    peaks = np.maximum(comp - moving_mean(comp, 31), 0.0)
    sal = matmul_unthreaded(peaks, salience_matrix())
    energy = peaks.sum(axis=1)
    total = float(energy.sum())
    weight = energy / total if total > 1e-9 else np.zeros_like(energy)
    return Pitch(mag, sal, weight.astype(np.float32))

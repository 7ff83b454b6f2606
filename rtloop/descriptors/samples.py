"""Sample-level statistics of a loop at its own rate: peak, clipping, digital silence, clicks, fine levels."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from rtloop.stft import power_blocks

_CHUNK = 32768  # samples per pass step: temporaries stay small (see rtloop.stft)
_SILENT = 1e-6  # a sample this far below the peak counts as digital silence
_CLIP = 0.98  # a sample this close to the peak counts as clipped
_FLOOR_DB = -100.0  # block levels are floored here (relative to the loop's RMS)
# The top octaves, read at the input's own rate (the spectral analysis stops at 8 kHz). The last band
# ends at 20 kHz, below the Nyquist frequency of 44.1 kHz material, so resampled CD-rate loops fill it.
TOP_BANDS_HZ: tuple[tuple[float, float], ...] = (
    (4000.0, 8000.0),
    (8000.0, 12000.0),
    (12000.0, 16000.0),
    (16000.0, 20000.0),
)
_TOP_FRAME_SECONDS = 0.02  # frames of about 20 ms (the next power of two): a cymbal's decay, not its grain
_TOP_BLOCK_BYTES = 1 << 18


@dataclass(frozen=True)
class Samples:
    """What the sample-level descriptors need from the input, gathered in two chunked passes."""

    peak: float  # largest |x - mean|
    rms: float  # RMS of x - mean
    clipped: float  # share of samples within 2 % of the peak
    inner_silence: float  # share of digitally silent samples between the first and last sound
    click_blocks: np.ndarray  # max |second difference| per block of about 1 ms
    # Mean square of the second difference per block of about 1 ms, over the loop's mean square: the power
    # of the top octaves (at 48 kHz, the second difference weights 12 kHz 57 dB above 400 Hz).
    hiss_blocks: np.ndarray
    levels: np.ndarray  # peak |x - mean| per block of about 0.5 ms, dB relative to the loop's peak
    level_seconds: float  # length of one level block
    # (frames, len(TOP_BANDS_HZ)): power in each top band per frame of about 20 ms, dB relative to the
    # loop's mean power per frame; floored at _FLOOR_DB (a band above the Nyquist frequency stays there)
    top_bands: np.ndarray
    wave: np.ndarray  # the input itself (not a copy), for the checks that need its every sample
    rate: int  # its sample rate in Hz


def gather(wave: np.ndarray, sample_rate: int) -> Samples:
    """Sample-level statistics of finite mono audio at its own rate."""
    n = len(wave)
    if n == 0:
        silent = np.full((1, len(TOP_BANDS_HZ)), _FLOOR_DB)
        return Samples(
            0.0, 0.0, 0.0, 1.0, np.zeros(1), np.zeros(1), np.full(1, _FLOOR_DB), 0.0005, silent, wave, sample_rate
        )
    mean = float(np.sum(wave, dtype=np.float64)) / n
    top, bottom = float(wave.max()), float(wave.min())
    peak = max(top - mean, mean - bottom)
    quiet = _SILENT * max(top, -bottom)  # digital silence is judged on the samples as they are, DC and all
    energy = 0.0
    clipped = 0
    silent_inside = 0
    first = last = -1
    block = max(8, sample_rate // 1000)
    level_block = max(4, sample_rate // 2000)
    step = int(np.lcm(block, level_block))
    chunk = max(1, _CHUNK // step) * step
    clicks, hiss, peaks = [], [], []
    for start in range(0, n, chunk):
        raw = wave[start : start + chunk + 2].astype(np.float64)  # 2 samples overlap for the difference
        part = raw - mean
        body = part[: min(chunk, n - start)]
        square = body * body
        energy += float(square.sum())
        whole_levels = len(body) // level_block * level_block
        if whole_levels:
            peaks.append(square[:whole_levels].reshape(-1, level_block).max(axis=1))
        clipped += int(np.count_nonzero(square >= (_CLIP * peak) ** 2))
        sounding = np.abs(raw[: len(body)]) > quiet
        count = int(np.count_nonzero(sounding))
        if count:
            here_first = start + int(np.argmax(sounding))
            here_last = start + len(sounding) - 1 - int(np.argmax(sounding[::-1]))
            if first < 0:
                first = here_first
            # Silence between this chunk's first sound and the previous sound is inside the loop.
            silent_inside += (here_first - last - 1) if last >= 0 else 0
            silent_inside += here_last - here_first + 1 - count
            last = here_last
        d2 = np.abs(np.diff(part, 2))
        whole = len(d2) // block * block
        if whole:
            per_block = d2[:whole].reshape(-1, block)
            clicks.append(per_block.max(axis=1))
            hiss.append(np.einsum("ij,ij->i", per_block, per_block) / block)
    inner = last - first + 1 if first >= 0 else 0
    mean_square = energy / n
    block_peak = np.concatenate(peaks) if peaks else np.zeros(1)  # squared
    levels = (
        10 * np.log10(block_peak / peak**2 + 10 ** (_FLOOR_DB / 10))
        if peak > 0
        else np.full(len(block_peak), _FLOOR_DB)
    )
    return Samples(
        peak=peak,
        rms=float(np.sqrt(mean_square)),
        clipped=clipped / n if peak > 0 else 0.0,
        inner_silence=silent_inside / inner if inner > 0 else 1.0,
        click_blocks=np.concatenate(clicks) if clicks else np.zeros(1),
        hiss_blocks=np.concatenate(hiss) / mean_square if hiss and mean_square > 0 else np.zeros(1),
        levels=levels,
        level_seconds=level_block / sample_rate,
        top_bands=top_band_levels(wave, sample_rate, mean),
        wave=wave,
        rate=sample_rate,
    )


def top_band_levels(wave: np.ndarray, sample_rate: int, mean: float = 0.0) -> np.ndarray:
    """Power in each of TOP_BANDS_HZ per Hann frame of about 20 ms (consecutive, not overlapping), in dB
    relative to the loop's mean power per frame (all bins), floored at -100 dB: shape (frames, bands)."""
    size = 1 << max(6, int(np.ceil(np.log2(_TOP_FRAME_SECONDS * sample_rate))))
    n_frames = max(1, len(wave) // size)
    framed = np.zeros((n_frames, size))
    whole = min(len(wave), n_frames * size)
    framed.reshape(-1)[:whole] = wave[:whole]
    framed -= mean
    freqs = np.fft.rfftfreq(size, 1.0 / sample_rate)
    edges = [(int(np.searchsorted(freqs, lo)), int(np.searchsorted(freqs, hi))) for lo, hi in TOP_BANDS_HZ]
    bands = np.zeros((n_frames, len(TOP_BANDS_HZ)))
    total = 0.0
    for rows, power in power_blocks(framed, _hann(size), _TOP_BLOCK_BYTES):
        total += float(power.sum())
        for j, (lo, hi) in enumerate(edges):
            if hi > lo:
                bands[rows, j] = power[:, lo:hi].sum(axis=1)
    reference = total / n_frames
    if reference <= 0.0:
        return np.full_like(bands, _FLOOR_DB)
    return 10 * np.log10(bands / reference + 10 ** (_FLOOR_DB / 10))


@lru_cache(maxsize=4)
def _hann(size: int) -> np.ndarray:
    return np.hanning(size + 2)[1:-1]

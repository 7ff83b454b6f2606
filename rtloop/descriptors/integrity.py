"""Integrity descriptors: dropouts, clicks, stutters and added noise, the faults of a broken signal chain."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from rtloop.descriptors.circular import roll, wrap_pad
from rtloop.descriptors.order_stats import median, percentile
from rtloop.descriptors.rhythm import canonical_beat
from rtloop.descriptors.samples import TOP_BANDS_HZ, Samples
from rtloop.descriptors.spectra import ANALYSIS_RATE, HOP, N_FFT, Spectra, windows

if TYPE_CHECKING:
    from rtloop.grid import Grid

_EPS = 1e-12
_HOLD = 0.012  # a level holds its peak this long: longer than half the period of E1 (41 Hz)
_CONTEXT = 0.05  # the sound around a possible hole
_ON_GRID = 0.15  # a hole ending within this share of a 16th from the grid ends where a note may start
_CLICK_SIDE = 8  # blocks on each side a click must stand out of
_HISS_BLOCKS = 10  # the top octaves' power is read over ~10 ms: a cymbal's decay, not its grain
_MOTION_GROUPS = 8  # the 32 analysis bands in 8 registers of 4 (about 2/3 of an octave each above 1 kHz)
_STUTTER_LAGS = range(3, 15)  # 24..112 ms: the length of a repeated snippet, shorter than most notes
# Reversed repeats are checked on the waveform at the best 3 candidates: a reversed snippet that changes
# little inside may rank below a chance likeness elsewhere. A forward repeat is checked at the best only,
# at the analysis rate: a held note repeats itself at multiples of its period, and a plucked string's
# period is whole samples at the input's rate, where it repeats all but exactly.
_MIRROR_CHECKS = 3

# Every feature with the way a fault moves it: +1 a fault raises it, -1 a fault lowers it. A loop cleaner
# than usual (no clicks, deeper quiet between the notes) is not a fault: see export.detectors.OneSided.
_FEATURES: tuple[tuple[str, int], ...] = (
    ("sudden_drop", 1),
    ("hole_share", 1),
    ("hole_depth", 1),
    ("hole_off_grid", 1),
    ("digital_silence", 1),
    ("click_peak", 1),
    ("click_rate", 1),
    ("stutter_peak", 1),
    ("stutter_mean", 1),
    ("stutter_exact", 1),
    ("mirror_peak", 1),
    ("mirror_exact", 1),
    ("noise_floor", 1),
    ("quiet_flatness", 1),
    ("quiet_high", 1),
    ("band_floor", 1),
    ("hiss_floor", 1),
    ("hiss_depth", -1),
    *((f"band_motion_{k}", -1) for k in range(1, _MOTION_GROUPS + 1)),
    *((f"top_floor_{k}", 1) for k in range(1, len(TOP_BANDS_HZ) + 1)),
)
NAMES: tuple[str, ...] = tuple(name for name, _ in _FEATURES)
FAULT_SIGNS: tuple[int, ...] = tuple(sign for _, sign in _FEATURES)


def _blocks(x: np.ndarray, size: int) -> np.ndarray:
    n = len(x) // size
    return x[: n * size].reshape(n, size) if n else np.zeros((1, size), dtype=x.dtype)


def _running_max(levels: np.ndarray, width: int) -> np.ndarray:
    """r[i] = max(levels[i : i + width]), circular; by doubling spans, O(n log width)."""
    n = len(levels)
    m = np.concatenate([levels, levels[: width - 1]]) if width <= n else np.resize(levels, n + width - 1)
    span = 1
    while 2 * span <= width:
        m = np.maximum(m[:-span], m[span:])  # m[i] = max over [i, i + 2 * span)
        span *= 2
    return np.maximum(m[:n], m[width - span : width - span + n])


def _dropouts(samples: Samples, grid: Grid) -> list[float]:
    """Sudden falls to near silence and holes framed by sound, from 0.5 ms peak levels at the input's rate.

    Peak levels held for 12 ms follow the loudness without dipping at each zero crossing of a low bass
    note, so a hole is a real absence of sound.
    """
    levels = samples.levels
    n = len(levels)
    hold = max(1, int(round(_HOLD / samples.level_seconds)))
    if n < 4 * hold:
        return [0.0, 0.0, 0.0, 0.0, samples.inner_silence]
    ahead = _running_max(levels, hold)  # max over the next 12 ms
    behind = roll(ahead, hold)  # max over the previous 12 ms
    audible = median(ahead) - 20.0
    # A cut signal is gone within a block; even a fast release leaves sound in the next 12 ms.
    sudden_drop = float(np.clip(np.max(np.where(behind > audible, behind - ahead, 0.0)), 0.0, 100.0))
    context = max(hold + 1, int(round(_CONTEXT / samples.level_seconds)))
    held = roll(_running_max(levels, 2 * hold + 1), hold)  # max over +-12 ms
    after = roll(_running_max(levels, context), -hold - 1)  # 12..62 ms ahead
    before = roll(_running_max(levels, context), context + hold + 1)  # 62..12 ms back
    frame = np.minimum(before, after)
    framed = frame > audible
    depth = np.clip(frame - held, 0.0, 80.0)
    hole = (depth > 30.0) & framed
    # A player's rest ends where the next note starts, on the grid; a dropout ends anywhere: the share
    # of the loop in holes whose sound resumes off the 16th grid.
    ends = np.flatnonzero(hole & ~roll(hole, -1))
    starts = np.flatnonzero(hole & ~roll(hole, 1))
    hole_share = float(np.mean(hole))
    hole_depth = float(np.max(np.where(framed, depth, 0.0)))
    off_grid_share = 0.0
    if len(ends) and len(starts) == len(ends):
        if ends[0] < starts[0]:  # the first run wraps around the loop's end
            ends = roll(ends, -1)
        sixteenth = canonical_beat(grid.bpm) / 4
        resumes = (ends + 1 + hold) * samples.level_seconds - grid.downbeat  # the held level ends early
        off_grid = np.abs((resumes / sixteenth + 0.5) % 1.0 - 0.5) > _ON_GRID
        lengths = (ends - starts) % n + 1
        off_grid_share = float(np.sum(lengths[off_grid]) / n)
    # Exact digital silence inside the loop (not the silent ends some loops are trimmed with).
    return [sudden_drop, hole_share, hole_depth, off_grid_share, samples.inner_silence]


def _clicks(samples: Samples, seconds: float) -> list[float]:
    """How far the sharpest sample-level jump stands out of its surroundings, and how many do.

    Measured at the input's own rate, where a click is one or two samples wide and the music's own
    second difference is small (a second difference damps low frequencies by 12 dB per octave).
    """
    blocks = samples.click_blocks
    c = np.concatenate([[0.0], np.cumsum(wrap_pad(blocks, _CLICK_SIDE, _CLICK_SIDE))])
    idx = np.arange(len(blocks))
    before = (c[idx + _CLICK_SIDE] - c[idx]) / _CLICK_SIDE
    after = (c[idx + 2 * _CLICK_SIDE + 1] - c[idx + _CLICK_SIDE + 1]) / _CLICK_SIDE
    # A click stands out of the blocks before AND after it; a note's attack is followed by more sound.
    ratio = blocks / (np.maximum(before, after) + 1e-3 * (blocks.max() + _EPS) + _EPS)
    return [float(np.log10(ratio.max() + 1.0)), float(np.sum(ratio > 8.0) / max(seconds, 0.25))]


def _stutters(log_bands: np.ndarray, x: np.ndarray, samples: Samples) -> list[float]:
    """How exactly a short, changing snippet repeats right after itself, forward and reversed.

    For each length, the spectral change inside a snippet is set against its difference from the snippet
    a length later (a buffer repeat) and, apart, from the mirror image of the snippet before it (a
    ping-pong repeat, played back and forth): a repeat is near-identical although it changes inside,
    whereas a held note does not change and replayed notes differ in detail. The best candidate of each
    is then checked on the waveform itself: a repeat is a sample-exact copy, which no player produces.
    """
    n = len(log_bands)
    lags = np.array([lag for lag in _STUTTER_LAGS if 2 * lag < n])
    if len(lags) == 0:
        return [0.0] * 5
    lb = log_bands.astype(np.float32)
    change = np.sqrt(np.mean(np.diff(lb, axis=0, append=lb[:1]) ** 2, axis=1))
    c_change = np.concatenate([[0.0], np.cumsum(np.concatenate([change, change[: lags[-1]]]))])
    forward = _best_per_length(_forward_ratios(lb, c_change, lags))
    mirror = _best_per_length(_mirror_ratios(lb, c_change, lags))
    top = np.sort(forward[0])[::-1][:3]
    j = int(np.argmax(forward[0]))
    start = int(forward[1][j])
    return [
        float(top[0]),
        float(top.mean()),
        _sample_repeat(x, start * HOP, int(lags[j]) * HOP),
        float(np.max(mirror[0])),
        max(  # the mirror lies between frames k - 1 and k
            _sample_mirror(x, samples, k * HOP - HOP // 2, int(lags[j]) * HOP)
            for j, k in _candidates(*mirror, _MIRROR_CHECKS)
        ),
    ]


def _best_per_length(ratios: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Each length's best ratio and the frame where it is."""
    frames = np.array([int(np.argmax(r)) for r in ratios])
    return np.array([r[k] for r, k in zip(ratios, frames, strict=True)]), frames


def _candidates(scores: np.ndarray, frames: np.ndarray, count: int) -> list[tuple[int, int]]:
    """(length index, frame) of the best lengths at up to ``count`` different frames, best first."""
    out: list[tuple[int, int]] = []
    for j in np.argsort(-scores, kind="stable"):
        if all(abs(int(frames[j]) - k) > 1 for _, k in out):
            out.append((int(j), int(frames[j])))
        if len(out) == count:
            break
    return out


def _forward_ratios(lb: np.ndarray, c_change: np.ndarray, lags: np.ndarray) -> list[np.ndarray]:
    """Per lag, per start frame k: log((change in k..k+lag + lag) / (difference from a lag later + lag))."""
    n = len(lb)
    later = np.lib.stride_tricks.sliding_window_view(np.concatenate([lb, lb[: lags[-1]]]), lags[-1] + 1, axis=0)
    diff = np.sqrt(np.mean((later[:, :, lags] - lb[:, :, None]) ** 2, axis=1))  # (frames, lags)
    c_diff = np.concatenate([np.zeros((1, len(lags))), np.cumsum(diff, axis=0)])
    return [
        np.log((c_change[lag : n + 1] - c_change[: n + 1 - lag] + lag) / (c_diff[lag:, j] - c_diff[:-lag, j] + lag))
        for j, lag in enumerate(lags)
    ]


def _mirror_ratios(lb: np.ndarray, c_change: np.ndarray, lags: np.ndarray) -> list[np.ndarray]:
    """Per length L, per frame c: log((change in c..c+L + L) / (difference of frames c+k from c-1-k, k < L, + L)),
    circular (the loop repeats)."""
    n, longest = len(lb), int(lags[-1])
    ahead = np.concatenate([lb, lb[:longest]])  # ahead[c + k] = lb[c + k]
    behind = np.concatenate([lb[n - longest :], lb])  # behind[c + longest - 1 - k] = lb[c - 1 - k]
    lengths = set(lags.tolist())
    mirror_diff = np.zeros(n)
    ratios = []
    for k in range(longest):
        pair = ahead[k : k + n] - behind[longest - 1 - k : longest - 1 - k + n]
        mirror_diff += np.sqrt(np.mean(pair**2, axis=1))
        if k + 1 in lengths:
            inside = c_change[k + 1 : k + 1 + n] - c_change[:n]
            ratios.append(np.log((inside + k + 1) / (mirror_diff + k + 1)))
    return ratios


def _sample_repeat(x: np.ndarray, start: int, lag: int) -> float:
    """-log10(1 - r): r the best correlation of x[start:start+lag] with the snippet a lag (+-1 hop) later."""
    if len(x) < 2 * lag + 2 * HOP + 1:
        return 0.0
    wrapped = np.concatenate([x, x[: 2 * lag + 2 * HOP]])
    a = wrapped[start : start + lag].astype(np.float64)
    shifts = windows(wrapped[start + lag - HOP : start + 2 * lag + HOP], lag)
    num = np.einsum("ij,j->i", shifts, a)  # einsum: no BLAS threads (see rtloop.blas)
    den = np.sqrt(np.einsum("ij,ij->i", shifts, shifts) * float(np.einsum("i,i->", a, a))) + _EPS
    return _exactness(float(np.max(num / den)))


def _sample_mirror(x: np.ndarray, samples: Samples, centre: int, length: int) -> float:
    """-log10(1 - r): r the best correlation of the ``length`` samples after a point within 1 hop of
    ``centre`` with the ``length`` before it reversed (analysis-rate units, circular).

    The point is found at the analysis rate, then to the sample at the input's own rate: resampling puts
    the axis of a mirror exact at the input's rate between the new samples (a Karplus-Strong bass mirrored
    at 48 kHz correlates 0.73 with its mirror at 16 kHz), so only the input itself shows it exact.
    """
    if len(x) < 2 * length + 2 * HOP + 1:
        return 0.0
    _, point = _mirror_scan(x, centre, length, HOP)
    scale = samples.rate / ANALYSIS_RATE
    reach = int(np.ceil(2 * scale))
    length = round(length * scale)
    if len(samples.wave) < 2 * length + 2 * reach + 1:
        return 0.0
    return _exactness(_mirror_scan(samples.wave, round(point * scale), length, reach)[0])


def _mirror_scan(x: np.ndarray, centre: int, length: int, reach: int) -> tuple[float, int]:
    """The best correlation (means removed) of x[m : m + length] with x[m - length : m] reversed, for m
    within ``reach`` of ``centre`` (circular), and that m."""
    seg = np.take(x, np.arange(centre - reach - length, centre + reach + length + 1), mode="wrap").astype(np.float64)
    m = np.arange(2 * reach + 1)  # candidate point - (centre - reach); in seg, its window before
    after = windows(seg, length)[length : length + 2 * reach + 1]
    # The window before m, reversed, is a window of the reversed segment: contiguous, so the products
    # below run at full speed (a reversed view is strided).
    reversed_windows = windows(seg[::-1].copy(), length)
    before = reversed_windows[len(seg) - length - 2 * reach : len(seg) - length + 1][::-1]
    # Window sums from running sums: the means are removed without copying a window.
    c1 = np.concatenate([[0.0], np.cumsum(seg)])
    c2 = np.concatenate([[0.0], np.cumsum(seg**2)])
    sum_b, sum_a = c1[m + length] - c1[m], c1[m + 2 * length] - c1[m + length]
    var_b = c2[m + length] - c2[m] - sum_b**2 / length
    var_a = c2[m + 2 * length] - c2[m + length] - sum_a**2 / length
    cov = np.einsum("ij,ij->i", after, before) - sum_a * sum_b / length  # einsum: no BLAS threads
    r = cov / (np.sqrt(np.maximum(var_a, 0.0) * np.maximum(var_b, 0.0)) + _EPS)
    best = int(np.argmax(r))
    return float(r[best]), centre - reach + best


def _exactness(r: float) -> float:
    return float(-np.log10(max(1.0 - r, 1e-4)))


def _noise(spectra: Spectra) -> list[float]:
    power = spectra.power.astype(np.float64)
    energy = power.sum(axis=1)
    level = 10 * np.log10(energy + _EPS)
    noise_floor = float(np.clip(percentile(level, 10) - percentile(level, 90), -80.0, 0.0))
    quiet = energy <= percentile(energy, 25)
    qp = power[quiet, 4:] + _EPS
    quiet_flatness = float(np.mean(np.exp(np.mean(np.log(qp), axis=1)) / np.mean(qp, axis=1)))
    freqs = np.arange(power.shape[1]) * ANALYSIS_RATE / N_FFT
    high = power[:, freqs >= 4000].sum(axis=1)
    quiet_high = float(np.log10((high[quiet].sum() + _EPS) / (energy[quiet].sum() + _EPS) + 1e-8))
    # Steady noise lifts the quietest moments of every high band.
    high_bands = spectra.log_bands[:, spectra.log_bands.shape[1] // 2 :]
    band_floor = float(np.mean(percentile(high_bands, 5, axis=0) - high_bands.mean(axis=0)))
    return [noise_floor, quiet_flatness, quiet_high, band_floor]


def _hiss(samples: Samples) -> list[float]:
    """How loud the top octaves are at their quietest, and how much they move (dB).

    Steady broadband noise (hiss) shows most above 8 kHz, which the 16 kHz analysis never sees: there
    instruments sound only in bursts (a cymbal's or a pick's attack, then its decay), whereas hiss keeps
    the quietest moments lit and flattens the movement.
    """
    level = 10 * np.log10(_blocks(samples.hiss_blocks, _HISS_BLOCKS).mean(axis=1) + 1e-10)
    low, high = percentile(level, 10), percentile(level, 90)
    return [float(low), float(high - low)]


def _band_motion(spectra: Spectra) -> list[float]:
    """How much each register's level moves over the loop: the std (dB) of the log energy of 8 groups of
    4 adjacent bands. Notes and hits leave gaps between them in every register; added noise fills the
    gaps, and every register's level then moves less."""
    groups = spectra.log_bands.astype(np.float64).reshape(len(spectra.log_bands), _MOTION_GROUPS, -1).mean(axis=2)
    return [float(v) for v in groups.std(axis=0)]


def _top_floor(samples: Samples) -> list[float]:
    """The quietest tenth of each top band (4..20 kHz, at the input's rate), dB relative to the loop's
    mean power: instruments sound up there in bursts (a cymbal's or a pick's attack and decay), whereas
    broadband noise keeps every top band lit, most of all the highest, where the instrument has least."""
    return [float(v) for v in percentile(samples.top_bands, 10, axis=0)]


def features(spectra: Spectra, samples: Samples, grid: Grid) -> np.ndarray:
    """Integrity features of one loop (see docs/descriptors.md)."""
    return np.array(
        [
            *_dropouts(samples, grid),
            *_clicks(samples, spectra.seconds),
            *_stutters(spectra.log_bands, spectra.x, samples),
            *_noise(spectra),
            *_hiss(samples),
            *_band_motion(spectra),
            *_top_floor(samples),
        ],
        dtype=np.float64,
    )

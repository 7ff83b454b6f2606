"""A loop's bar and beat grid: from the clock, a WAV ``acid`` chunk, the file name, options, or the audio."""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np

from rtloop.descriptors.spectra import ANALYSIS_RATE, HOP, onset_envelope, to_analysis_rate
from rtloop.manifest_schema import MAX_GRID_BPM, MIN_GRID_BPM

MIN_BPM = 60.0
MAX_BPM = 200.0
_MAX_RIFF_CHUNKS = 64  # a WAV file has a handful of chunks; more means a corrupt or hostile file
_ACID_SIZE = 24
# A tempo read from metadata must make the loop a whole number of beats to within this share of a beat.
_BEAT_FIT = 0.06
# Prior over bar counts of a loop (powers of two are by far the most common lengths).
_BAR_PRIOR = {1: 1.0, 2: 1.0, 4: 1.0, 8: 0.9, 16: 0.8, 3: 0.5, 6: 0.5, 12: 0.4}


class GridSource(str, Enum):
    """Where a loop's grid came from."""

    CLOCK = "clock"
    ACID = "acid"
    FILENAME = "filename"
    OPTION = "option"
    ESTIMATED = "estimated"


@dataclass(frozen=True)
class Grid:
    """A loop's tempo and metre: ``bars`` bars of ``beats_per_bar`` beats at ``bpm``.

    ``downbeat`` is the time in seconds from the start of the audio to its first downbeat: 0 for a loop
    cut at its bar lines (files, clocked windows), estimated for clock-free windows (:func:`window_grid`).
    """

    bpm: float
    beats_per_bar: int
    bars: int
    source: GridSource
    downbeat: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.bpm) and self.bpm > 0):
            raise ValueError(f"bpm must be a positive number, got {self.bpm!r}")
        if not math.isfinite(self.downbeat):
            raise ValueError(f"downbeat must be finite, got {self.downbeat!r}")
        if self.beats_per_bar < 1 or self.bars < 1:
            raise ValueError(f"beats_per_bar and bars must be at least 1, got {self.beats_per_bar}, {self.bars}")

    @property
    def beat_seconds(self) -> float:
        """Length of one beat in seconds."""
        return 60.0 / self.bpm

    @property
    def bar_seconds(self) -> float:
        """Length of one bar in seconds."""
        return self.beats_per_bar * self.beat_seconds

    @property
    def loop_seconds(self) -> float:
        """Length of the whole loop (``bars`` bars) in seconds."""
        return self.bars * self.bar_seconds

    @property
    def beats(self) -> int:
        """Number of beats in the loop."""
        return self.bars * self.beats_per_bar


def read_acid(path: str | Path) -> tuple[int | None, float | None] | None:
    """The beat count and tempo of a WAV file's ``acid`` chunk (written by Live, ACID and most sample packs).

    The RIFF chunk list is walked with every size checked against the file, so a truncated or hostile
    file yields None rather than a huge read.

    Args:
        path: a WAV (RIFF/RIFX is not supported, RF64 neither) file.

    Returns:
        ``(beats, tempo)`` with either set to None where the chunk leaves it out or holds an implausible
        value, or None when the file has no readable ``acid`` chunk (or is not a RIFF WAVE file).
    """
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            f.seek(0, 2)
            end = f.tell()
            pos = 12
            for _ in range(_MAX_RIFF_CHUNKS):
                if pos + 8 > end:
                    return None
                f.seek(pos)
                tag, size = struct.unpack("<4sI", f.read(8))
                if tag == b"acid":
                    if size < _ACID_SIZE or pos + 8 + _ACID_SIZE > end:
                        return None
                    return _parse_acid(f.read(_ACID_SIZE))
                pos += 8 + size + (size & 1)  # chunks are padded to an even size
    except OSError:
        return None
    return None


def _plausible(bpm: float) -> bool:
    """Whether a tempo that metadata gives or implies (an acid chunk, a bars hint) is believed: the range of
    ``--bpm`` and of a bundle's training grid."""
    return math.isfinite(bpm) and MIN_GRID_BPM <= bpm <= MAX_GRID_BPM


def _parse_acid(body: bytes) -> tuple[int | None, float | None]:
    # flags u32, root note u16, ? u16, ? f32, beats u32, meter denominator u16, meter numerator u16, tempo f32
    _flags, _root, _, _, beats, _den, _num, tempo = struct.unpack("<IHHfIHHf", body)
    beats_out = int(beats) if 0 < beats <= 4096 else None
    tempo_out = float(tempo) if _plausible(tempo) else None
    return beats_out, tempo_out


_BPM_MARKED = re.compile(
    r"(?<![\d.])(\d{2,3}(?:\.\d{1,2})?)\s*[-_ ]?bpm|bpm\s*[-_ =]?\s*(\d{2,3}(?:\.\d{1,2})?)(?![\d.])"
)
# Hash-like tokens ("3f8379d621d9", uuids) hold digits by chance, never a tempo.
_HASH = re.compile(r"(?<![0-9a-z])(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{8,}(?![0-9a-z])", re.I)
_NUMBER = re.compile(r"(?<![\d.])(\d{2,3})(?![\d.])")
# Words before a number that make it a count, not a tempo ("take 120", "v100", "#95", "part 2").
_NOT_TEMPO_BEFORE = re.compile(r"(take|tk|ver|version|v|no|nr|num|part|pt|track|trk|var|x|#)[\s_-]*$", re.I)
# Units after a number that make it something else ("96k", "24bit", "100ms", "120hz", "808").
_NOT_TEMPO_AFTER = re.compile(r"^\s*(k|khz|hz|bit|bits|ms|s\b|sec|st\b|x\b|%|db)", re.I)


def tempo_from_name(name: str) -> float | None:
    """The tempo a file name states: ``bass110Em.wav``, ``funk_120bpm.wav``, ``120 BPM``, ``Loop_95_Am``.

    A number marked with "bpm" wins. Otherwise an unmarked 2–3 digit number in 60..200 (``080`` too)
    counts when it is the only such number and is not a take/version/part number, a value with a unit
    (kHz, bit, ms, ...) nor part of a hash-like token (``8da5d66c7e6a``). Ambiguous names give None
    rather than a guess.

    Args:
        name: a file name or path (only the last component, without its extension, is read).

    Returns:
        The tempo in BPM, or None.
    """
    stem = Path(name).stem if ("/" in name or "." in name) else name
    stem = _HASH.sub(" ", stem)
    marked = [float(a or b) for a, b in _BPM_MARKED.findall(stem)]
    marked = [t for t in marked if MIN_BPM <= t <= MAX_BPM]
    if marked:
        return marked[0] if len(set(marked)) == 1 else None
    found = set()
    for m in _NUMBER.finditer(stem):
        value = float(m.group(1))
        if not (MIN_BPM <= value <= MAX_BPM):
            continue
        if _NOT_TEMPO_BEFORE.search(stem[: m.start()]) or _NOT_TEMPO_AFTER.match(stem[m.end() :]):
            continue
        found.add(value)
    return found.pop() if len(found) == 1 else None


def _fits_whole_beats(seconds: float, bpm: float) -> bool:
    beats = seconds * bpm / 60.0
    return beats >= 0.9 and abs(beats - round(beats)) <= _BEAT_FIT


def _bars_at(seconds: float, bpm: float, beats_per_bar: int) -> int:
    return max(1, int(round(seconds * bpm / 60.0 / beats_per_bar)))


def estimate_grid(wave: np.ndarray, sample_rate: int, beats_per_bar: int = 4) -> Grid:
    """Estimate a loop's grid from its length and onsets: the loop is taken as a whole number of bars.

    Every bar count whose tempo lies in 60..200 BPM is a candidate; each is scored by how much onset
    energy its sixteenth-note grid catches, weighted by a prior that favours
    power-of-two bar counts and tempi near 120 BPM (half and double tempo catch the same onsets, so the
    prior settles them). A loop too short for any whole bar in range gets the nearest tempo with one bar.

    Args:
        wave: mono audio, any length.
        sample_rate: its sample rate in Hz.
        beats_per_bar: the metre to assume.

    Returns:
        A Grid with source ESTIMATED.
    """
    seconds = len(wave) / float(sample_rate)
    if seconds <= 0:
        return Grid(120.0, beats_per_bar, 1, GridSource.ESTIMATED)
    candidates = []
    for bars in range(1, 65):
        bpm = bars * beats_per_bar * 60.0 / seconds
        if bpm > MAX_BPM:
            break
        if bpm >= MIN_BPM:
            candidates.append((bars, bpm))
    if not candidates:
        bars = 1
        bpm = float(np.clip(beats_per_bar * 60.0 / seconds, MIN_BPM, MAX_BPM))
        return Grid(bpm, beats_per_bar, bars, GridSource.ESTIMATED)
    onsets = onset_envelope(to_analysis_rate(np.asarray(wave, dtype=np.float32), sample_rate))
    times = np.arange(len(onsets)) * HOP / ANALYSIS_RATE
    weights = onsets / max(float(onsets.sum()), 1e-12)
    best, best_score = candidates[0], -np.inf
    for bars, bpm in candidates:
        beat_phase = times * bpm / 60.0
        # Energy on the candidate's 16th grid. Not coarser grids: off-beat notes cancel there, which
        # pushes the estimate to double tempo. Tempi an octave apart catch about the same; the prior decides.
        caught = abs(np.sum(weights * np.exp(2j * np.pi * beat_phase * 4)))
        prior = _BAR_PRIOR.get(bars, 0.2) * math.exp(-0.5 * (math.log2(bpm / 120.0) / 0.5) ** 2)
        score = math.log(caught + 0.05) + math.log(prior)
        if score > best_score:
            best, best_score = (bars, bpm), score
    return Grid(best[1], beats_per_bar, best[0], GridSource.ESTIMATED)


def window_grid(wave: np.ndarray, sample_rate: int, beats_per_bar: int = 4) -> Grid:
    """Estimate the grid of a clock-free window (``--window 4s``): tempo and downbeat, not whole bars.

    A window starts anywhere in the music, so its length says nothing about the tempo. The beat is the
    lag, within 80..160 BPM, at which the onset envelope best repeats (at a half, one and two beats); the
    downbeat is the 16th-grid phase, then the beat, then the bar position that catches most onset
    energy. Half and double tempo give the same rhythm features (see docs/descriptors.md), so the
    octave of the tempo does not matter here.

    Args:
        wave: mono audio of the window.
        sample_rate: its sample rate in Hz.
        beats_per_bar: the metre to assume.

    Returns:
        A Grid with source ESTIMATED, ``bars`` the window length in whole bars (at least 1).
    """
    seconds = len(wave) / float(sample_rate)
    onsets = onset_envelope(to_analysis_rate(np.asarray(wave, dtype=np.float32), sample_rate)).astype(np.float64)
    dt = HOP / ANALYSIS_RATE
    n = len(onsets)
    z = onsets - onsets.mean()
    spec = np.fft.rfft(z, 2 * n)
    acf = np.fft.irfft(spec.real**2 + spec.imag**2, 2 * n)[:n]
    acf = acf / (acf[0] + 1e-12) / np.maximum(1.0 - np.arange(n) / n, 0.25)  # unbiased: fewer pairs at long lags
    lags = np.arange(int(60.0 / 160.0 / dt), int(np.ceil(60.0 / 80.0 / dt)) + 1)
    lags = lags[2 * lags < n]
    if len(lags) == 0 or float(onsets.sum()) <= 1e-12:
        return Grid(120.0, beats_per_bar, max(1, round(seconds / 2.0)), GridSource.ESTIMATED)
    # The beat repeats at one and two beats, and its half (the 8th) repeats too; a lag of 1.5 or 2/3
    # beats, which also lines up with a run of 8ths, fails the half-lag test.
    score = acf[lags] + acf[2 * lags] + np.interp(lags / 2.0, np.arange(n), acf)
    k = int(np.argmax(score))
    lag = float(lags[k])
    if 0 < k < len(lags) - 1:
        a, b, c = score[k - 1], score[k], score[k + 1]
        if abs(a - 2 * b + c) > 1e-12:
            lag += float(0.5 * (a - c) / (a - 2 * b + c))
    beat = lag * dt
    times = np.arange(n) * dt
    w = onsets / onsets.sum()
    sixteenth = float(np.angle(np.sum(w * np.exp(2j * np.pi * times / (beat / 4))))) / (2 * np.pi) * beat / 4
    sixteenth %= beat / 4

    def caught(offset: float, period: float) -> float:
        phase = ((times - offset) / period + 0.5) % 1.0 - 0.5
        return float(np.sum(w[np.abs(phase) < 0.125 * beat / period]))

    on_beat = max((sixteenth + i * beat / 4 for i in range(4)), key=lambda t: caught(t, beat))
    bar = beats_per_bar * beat
    downbeat = max(((on_beat + i * beat) % bar for i in range(beats_per_bar)), key=lambda t: caught(t, bar))
    return Grid(60.0 / beat, beats_per_bar, max(1, round(seconds / bar)), GridSource.ESTIMATED, downbeat)


def grid_for_file(
    path: str | Path,
    wave: np.ndarray,
    sample_rate: int,
    bpm: float | None = None,
    bars_hint: int | None = None,
    beats_per_bar: int = 4,
) -> Grid:
    """The grid of a loop file, from the best source that has one.

    In this order: the WAV ``acid`` chunk; a tempo in the file name (only when it makes the loop a whole
    number of beats, so a stray number is not taken for a tempo); ``bpm`` / ``bars_hint`` (the
    ``--bpm`` / ``--bars-hint`` options); else estimated from the audio (:func:`estimate_grid`).

    Args:
        path: the file the loop was read from (its name and, for WAV files, its ``acid`` chunk).
        wave: the loop's mono audio.
        sample_rate: its sample rate in Hz.
        bpm: tempo given by the user, or None.
        bars_hint: number of bars given by the user, or None.
        beats_per_bar: the metre.

    Returns:
        The loop's Grid, its ``source`` saying where it came from.
    """
    seconds = len(wave) / float(sample_rate)
    acid = read_acid(path) if str(path).lower().endswith((".wav", ".wave")) else None
    if acid is not None:
        beats, tempo = acid
        if tempo is not None:
            bars = max(1, int(round(beats / beats_per_bar))) if beats else _bars_at(seconds, tempo, beats_per_bar)
            return Grid(tempo, beats_per_bar, bars, GridSource.ACID)
        implied = beats * 60.0 / seconds if beats and seconds > 0 else 0.0
        if _plausible(implied):  # 4096 beats in 8 s is no tempo: the next source decides
            return Grid(implied, beats_per_bar, max(1, round(beats / beats_per_bar)), GridSource.ACID)
    named = tempo_from_name(Path(path).name)
    if named is not None and _fits_whole_beats(seconds, named):
        return Grid(named, beats_per_bar, _bars_at(seconds, named, beats_per_bar), GridSource.FILENAME)
    if bpm is not None:
        bars = bars_hint if bars_hint else _bars_at(seconds, bpm, beats_per_bar)
        return Grid(float(bpm), beats_per_bar, bars, GridSource.OPTION)
    hinted = bars_hint * beats_per_bar * 60.0 / seconds if bars_hint and seconds > 0 else 0.0
    if _plausible(hinted):  # 1 bar over a 16 s file is no tempo: estimate it
        return Grid(hinted, beats_per_bar, bars_hint or 1, GridSource.OPTION)
    return estimate_grid(wave, sample_rate, beats_per_bar)

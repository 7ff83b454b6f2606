"""A virtual bass player: Karplus-Strong bass loops and planted deviations, for the demo and the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

RIFF = (0, 0, 7, 0, 5, 0, 7, 10)  # semitones over the root, one note per eighth
ROOT_HZ = 55.0  # A1
DEVIATIONS = ("instrument", "noise", "glitch", "wrong_notes", "broken_rhythm")


def pluck(freq: float, samples: int, sample_rate: int, rng: np.random.Generator, damping: float = 0.996) -> np.ndarray:
    """One Karplus-Strong plucked string: a noise burst circulating in a damped delay line."""
    period = max(2, int(round(sample_rate / freq)))
    line = rng.uniform(-1.0, 1.0, period)
    out = np.empty(samples)
    for start in range(0, samples, period):
        n = min(period, samples - start)
        out[start : start + n] = line[:n]
        line = damping * 0.5 * (line + np.roll(line, -1))
    return out


def _square(freq: float, samples: int, sample_rate: int) -> np.ndarray:
    t = np.arange(samples) / sample_rate
    return np.sign(np.sin(2 * np.pi * freq * t)) * np.exp(-3.0 * t)


def bass_loop(
    bpm: float,
    bars: int,
    sample_rate: int,
    rng: np.random.Generator,
    beats_per_bar: int = 4,
    deviation: str | None = None,
) -> np.ndarray:
    """A loop of ``bars`` bars of the riff, humanised, optionally with one planted ``deviation``.

    Args:
        deviation: None (normal), "instrument" (a square-wave synth plays the riff), "noise" (a loud
            noise burst), "glitch" (stutter and dropouts), "wrong_notes" (random pitches) or
            "broken_rhythm" (a third of the notes off the grid, late by a 16th triplet or more).
    """
    if deviation is not None and deviation not in DEVIATIONS:
        raise ValueError(f"unknown deviation {deviation!r}")
    eighth = 60.0 / bpm / 2
    total = int(round(bars * beats_per_bar * 60.0 / bpm * sample_rate))
    out = np.zeros(total)
    notes = bars * beats_per_bar * 2
    off_grid: set[int] = set()
    if deviation == "broken_rhythm":
        off_grid = set(rng.choice(notes, size=max(2, notes // 3), replace=False).tolist())
    for k in range(notes):
        semis = RIFF[k % len(RIFF)]
        if deviation == "wrong_notes" and rng.random() < 0.5:
            semis = int(rng.integers(1, 12))
        freq = ROOT_HZ * 2 ** (semis / 12)
        shift = rng.uniform(1 / 3, 2 / 3) * eighth if k in off_grid else 0.0  # a 16th triplet or more late
        start = int(round((k * eighth + shift + rng.normal(0, 0.004)) * sample_rate))
        start = min(max(start, 0), total - 1)
        length = min(int(eighth * 1.8 * sample_rate), total - start)
        gain = 0.5 * (1.0 + 0.1 * rng.standard_normal()) * (1.2 if k % 2 == 0 else 0.9)
        note = (
            _square(freq, length, sample_rate) if deviation == "instrument" else pluck(freq, length, sample_rate, rng)
        )
        out[start : start + length] += gain * note
    if deviation == "noise":
        a = int(rng.integers(0, total // 2))
        out[a : a + total // 3] += rng.normal(0, 0.5, len(out[a : a + total // 3]))
    if deviation == "glitch":
        block = int(sample_rate * eighth / 2)
        for b in range(block, total - block, block):
            if rng.random() < 0.4:
                out[b : b + block] = 0.0 if rng.random() < 0.5 else out[b - block : b][::-1]
    return (0.8 * out / max(1e-9, np.max(np.abs(out)))).astype(np.float32)


def write_loop_set(
    folder: Path,
    count: int,
    *,
    bpm: float = 120.0,
    bars: int = 1,
    sample_rate: int = 48000,
    seed: int = 0,
    deviation: str | None = None,
) -> list[Path]:
    """Write ``count`` loops as WAV files into ``folder``; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        path = folder / f"{deviation or 'normal'}_{i:03d}.wav"
        sf.write(path, bass_loop(bpm, bars, sample_rate, rng, deviation=deviation), sample_rate, subtype="FLOAT")
        paths.append(path)
    return paths

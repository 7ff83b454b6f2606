"""Reading audio files: any format libsndfile reads, mixed to mono and resampled to the model rate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from rtloop.errors import AudioError

AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".aif", ".aiff", ".ogg", ".oga", ".mp3", ".w64", ".caf"})
SILENCE_PEAK = 1e-5  # -100 dBFS: below this a loop holds nothing to learn from
MIN_SECONDS = 0.25


def check_waveform(wave: np.ndarray, sample_rate: int, min_seconds: float = MIN_SECONDS) -> np.ndarray:
    """Return ``wave`` as float32 if it is usable audio, else raise AudioError saying why."""
    if wave.size == 0:
        raise AudioError("empty audio")
    if not np.all(np.isfinite(wave)):
        raise AudioError("audio contains NaN or Inf samples")
    if len(wave) < min_seconds * sample_rate:
        raise AudioError(f"too short: {len(wave) / sample_rate:.3f} s, at least {min_seconds} s needed")
    if float(np.max(np.abs(wave))) < SILENCE_PEAK:
        raise AudioError("silent (peak below -100 dBFS)")
    return np.ascontiguousarray(wave, dtype=np.float32)


def to_mono(frames: np.ndarray) -> np.ndarray:
    """Average the channels of (n, channels) audio; 1-D audio passes through."""
    return frames.mean(axis=1) if frames.ndim == 2 else frames


def resample(wave: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling (libsoxr, very high quality); a no-op at equal rates."""
    if rate_in <= 0:
        raise AudioError(f"invalid sample rate {rate_in}")
    if rate_in == rate_out:
        return wave.astype(np.float32, copy=False)
    return soxr.resample(wave.astype(np.float32, copy=False), rate_in, rate_out, quality="VHQ")


def load_audio(path: Path, sample_rate: int) -> np.ndarray:
    """Read a file as mono float32 at ``sample_rate``.

    Raises:
        AudioError: unreadable, corrupt, empty, silent, non-finite or too short; the message says which.
    """
    try:
        frames, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise AudioError(f"cannot read: {exc}") from exc
    mono = to_mono(frames)
    check_waveform(mono, rate)
    return check_waveform(resample(mono, rate, sample_rate), sample_rate)


def find_audio_files(root: Path) -> list[Path]:
    """Audio files under ``root`` (recursive, by suffix), sorted; ``root`` itself if it is a file."""
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise AudioError(f"{root} is neither a folder nor a file")
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)


def iter_loops(paths: list[Path], sample_rate: int) -> Iterator[tuple[Path, np.ndarray | AudioError]]:
    """Yield each path with its audio, or with the AudioError that says why it is skipped."""
    for path in paths:
        try:
            yield path, load_audio(path, sample_rate)
        except AudioError as exc:
            yield path, exc

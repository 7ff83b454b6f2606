"""Reading audio files: any format libsndfile reads, mixed to mono and resampled to the model rate.

Files are checked before and while they are decoded, so no file can hang a read (a FIFO named
``x.wav``), make it allocate without bound (a header claiming 1 Hz, hours of audio, 1000 channels) or
pass as whole when its header claims more audio than it holds. Decoding runs block by block into a
streaming resampler, so memory stays at the mono output's size whatever the channel count.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf
import soxr

from rtloop.errors import AudioError
from rtloop.manifest_schema import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE

AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".aif", ".aiff", ".ogg", ".oga", ".mp3", ".w64", ".caf"})
SILENCE_PEAK = 1e-5  # -100 dBFS: below this a loop holds nothing to learn from
MIN_SECONDS = 0.25
MAX_LOOP_SECONDS = 600.0  # one loop for `score`, `train`, `eval`: 10 minutes (110 MB at 48 kHz)
MAX_REPLAY_SECONDS = 3600.0  # `run --file` replays a recording bar by bar: 1 hour (660 MB at 48 kHz)
MAX_CHANNELS = 256
BLOCK_FRAMES = 1 << 16
TRUNCATION_SLACK = 0.05  # seconds: lossy decoders may deliver an encoder frame less than the header says
# libsndfile's log notes a chunk whose header claims more bytes than the file holds, e.g.
# "data : 96000 (should be 47978)" (WAV, W64) or "SSND : 96008 (should be 48010)" (AIFF)
_TRUNCATED = re.compile(r"^\s*(data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)


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


def resample(wave: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling (libsoxr, very high quality); a no-op at equal rates."""
    if rate_in <= 0:
        raise AudioError(f"invalid sample rate {rate_in}")
    if rate_in == rate_out:
        return wave.astype(np.float32, copy=False)
    return soxr.resample(wave.astype(np.float32, copy=False), rate_in, rate_out, quality="VHQ")


def open_regular(path: Path) -> int:
    """A file descriptor of ``path`` if it is a regular file (opened non-blocking: a FIFO cannot hang it)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise AudioError(f"cannot read: {exc.strerror}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = "a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "a device or socket"
        raise AudioError(f"not a regular file ({kind})")
    return fd


def _check_header(info: sf.SoundFile, max_seconds: float) -> int:
    """Refuse rates, channel counts and lengths out of bounds; returns the frames allowed."""
    rate, channels = info.samplerate, info.channels
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise AudioError(f"sample rate {rate} Hz in its header, outside {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz")
    if not 1 <= channels <= MAX_CHANNELS:
        raise AudioError(f"{channels} channels in its header, outside 1..{MAX_CHANNELS}")
    max_frames = int(max_seconds * rate)
    if info.frames > max_frames:
        raise AudioError(_too_long(info.frames / rate, max_seconds))
    match = _TRUNCATED.search(info.extra_info)
    if match:
        chunk, claimed, held = match.group(1), int(match.group(2)), int(match.group(3))
        raise AudioError(
            f"truncated: its {chunk} chunk claims {claimed} bytes of audio, the file holds {held} "
            f"({info.frames / rate:.3f} s of audio are there)"
        )
    return max_frames


def _too_long(seconds: float, max_seconds: float) -> str:
    return (
        f"{seconds:.0f} s long, more than the {max_seconds:.0f} s one loop may last; to score a long "
        "recording bar by bar, replay it: rtloop run BUNDLE --file FILE --bpm N"
    )


def load_audio(
    path: Path, sample_rate: int, max_seconds: float = MAX_LOOP_SECONDS, min_seconds: float = MIN_SECONDS
) -> np.ndarray:
    """Read a file as mono float32 at ``sample_rate``.

    Args:
        path: an audio file (a symbolic link to one is fine).
        sample_rate: the rate to resample to.
        max_seconds: longer files are refused (:data:`MAX_LOOP_SECONDS` for one loop,
            :data:`MAX_REPLAY_SECONDS` for a replayed recording).
        min_seconds: shorter files are refused.

    Raises:
        AudioError: not a regular file, unreadable, corrupt, truncated, a sample rate outside
            8 kHz..384 kHz, more than 256 channels, longer than ``max_seconds``, or empty, silent,
            non-finite or too short; the message says which.
    """
    fd = open_regular(path)
    with os.fdopen(fd, "rb") as fh:
        return read_audio(fh, sample_rate, max_seconds, min_seconds)[0]


def read_audio(
    fh: BinaryIO, sample_rate: int, max_seconds: float = MAX_LOOP_SECONDS, min_seconds: float = MIN_SECONDS
) -> tuple[np.ndarray, float]:
    """Read an open audio file (or bytes in memory) as :func:`load_audio` reads a path: mono float32 at
    ``sample_rate``, and the length in seconds of the audio the file holds.

    Raises:
        AudioError: as :func:`load_audio`.
    """
    try:
        with sf.SoundFile(fh) as info:
            max_frames = _check_header(info, max_seconds)
            rate, claimed = info.samplerate, info.frames
            stream = None if rate == sample_rate else soxr.ResampleStream(rate, sample_rate, 1, quality="VHQ")
            parts: list[np.ndarray] = []
            read, peak, finite = 0, 0.0, True
            for block in info.blocks(BLOCK_FRAMES, dtype="float32", always_2d=True, frames=max_frames + 1):
                mono = block.mean(axis=1, dtype=np.float32)
                read += len(mono)
                finite = finite and bool(np.all(np.isfinite(mono)))
                peak = max(peak, float(np.max(np.abs(mono)))) if finite else peak
                parts.append(mono if stream is None else stream.resample_chunk(mono))
    except AudioError:
        raise
    except sf.LibsndfileError as exc:  # its str() names the descriptor or buffer, not the file: keep the reason
        raise AudioError(f"cannot read: {exc.error_string}") from exc
    except (RuntimeError, TypeError, ValueError) as exc:
        raise AudioError(f"cannot read: {exc}") from exc
    if read > max_frames:
        raise AudioError(_too_long(read / rate, max_seconds))
    if claimed - read > TRUNCATION_SLACK * rate:
        raise AudioError(f"truncated: its header claims {claimed / rate:.3f} s, the file holds {read / rate:.3f} s")
    if read == 0:
        raise AudioError("empty audio")
    if not finite:
        raise AudioError("audio contains NaN or Inf samples")
    if read < min_seconds * rate:
        raise AudioError(f"too short: {read / rate:.3f} s, at least {min_seconds} s needed")
    if peak < SILENCE_PEAK:
        raise AudioError("silent (peak below -100 dBFS)")
    if stream is not None:
        parts.append(stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True))
    return check_waveform(np.concatenate(parts), sample_rate, min_seconds), read / rate


@dataclass(frozen=True)
class Skipped:
    """A path a folder search left out, and why."""

    path: Path
    reason: str


@dataclass(frozen=True)
class AudioScan:
    """What a folder search found: audio files (sorted) and what it left out, with reasons."""

    files: tuple[Path, ...]
    skipped: tuple[Skipped, ...] = ()


def _broken_link(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "a symbolic link loop"
    if exc.errno == errno.ENOENT:
        try:
            return f"a dangling symbolic link (to {os.readlink(path)!r}, which does not exist)"
        except OSError:
            return "a dangling symbolic link"
    return f"cannot follow: {exc.strerror}"


def find_audio_files(root: Path) -> AudioScan:
    """Audio files under ``root`` (recursive, by suffix, following links), or ``root`` itself if it is a file.

    Nothing is dropped silently: broken and looping symbolic links, folders that cannot be listed,
    links back to a folder already searched, folders named like audio files (searched as folders)
    and non-regular files named like audio files are listed in ``skipped`` with the reason.

    Raises:
        AudioError: ``root`` is neither a folder nor a regular file.
    """
    root = Path(root)
    if root.is_file():
        return AudioScan((root,))
    if not root.is_dir():
        raise AudioError(f"{root} is neither a folder nor a file")
    files: list[Path] = []
    skipped: list[Skipped] = []
    top = root.stat()
    seen = {(top.st_dev, top.st_ino)}
    folders = [root]
    while folders:
        folder = folders.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            skipped.append(Skipped(folder, f"cannot list this folder: {exc.strerror}"))
            continue
        for entry in entries:
            path = Path(entry.path)
            audio_name = path.suffix.lower() in AUDIO_SUFFIXES
            try:
                info = os.stat(path)
            except OSError as exc:
                skipped.append(Skipped(path, _broken_link(path, exc) if entry.is_symlink() else exc.strerror or ""))
                continue
            if stat.S_ISDIR(info.st_mode):
                if (info.st_dev, info.st_ino) in seen:
                    skipped.append(Skipped(path, "a link to a folder already searched (a loop or a duplicate)"))
                    continue
                seen.add((info.st_dev, info.st_ino))
                folders.append(path)
                if audio_name:
                    skipped.append(Skipped(path, "a folder named like an audio file (its contents are searched)"))
            elif audio_name and stat.S_ISREG(info.st_mode):
                files.append(path)
            elif audio_name:
                skipped.append(Skipped(path, "not a regular file (a FIFO, device or socket)"))
    return AudioScan(tuple(sorted(files)), tuple(sorted(skipped, key=lambda s: s.path)))


def iter_loops(
    paths: list[Path] | tuple[Path, ...], sample_rate: int
) -> Iterator[tuple[Path, np.ndarray | AudioError]]:
    """Yield each path with its audio, or with the AudioError that says why it is skipped."""
    for path in paths:
        try:
            yield path, load_audio(path, sample_rate)
        except AudioError as exc:
            yield path, exc

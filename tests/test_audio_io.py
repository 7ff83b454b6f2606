"""Reading loops: formats, mono mixdown, resampling, and a clear reason for every file refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rtloop.audio_io import find_audio_files, iter_loops, load_audio
from rtloop.errors import AudioError


def test_every_bad_file_is_refused_with_its_reason(bad_files: tuple[Path, dict[str, str]]) -> None:
    folder, expected = bad_files
    assert len(find_audio_files(folder)) == len(expected)
    for path, result in iter_loops(find_audio_files(folder), 48000):
        assert isinstance(result, AudioError), path
        assert expected[path.name] in str(result), (path, result)


@pytest.mark.parametrize("fmt, suffix", [("WAV", ".wav"), ("FLAC", ".flac"), ("AIFF", ".aiff"), ("OGG", ".ogg")])
def test_formats_stereo_mixdown_and_resampling(tmp_path: Path, fmt: str, suffix: str) -> None:
    t = np.arange(44100) / 44100
    left = 0.5 * np.sin(2 * np.pi * 440 * t)
    path = tmp_path / f"a{suffix}"
    sf.write(path, np.stack([left, -0.5 * left + 0.2 * np.sin(2 * np.pi * 220 * t)], axis=1), 44100, format=fmt)
    wave = load_audio(path, 48000)
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert abs(len(wave) - 48000) <= 1
    spectrum = np.abs(np.fft.rfft(wave[4800:-4800]))
    freqs = np.fft.rfftfreq(len(wave[4800:-4800]), 1 / 48000)
    assert abs(freqs[spectrum.argmax()] - 440) < 5 or abs(freqs[spectrum.argmax()] - 220) < 5


def test_folders_are_walked_recursively_and_non_audio_ignored(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/x.wav", "a/b/y.FLAC", "a/notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert [p.relative_to(tmp_path).as_posix() for p in find_audio_files(tmp_path)] == ["a/b/y.FLAC", "a/x.wav"]
    with pytest.raises(AudioError, match="neither a folder nor a file"):
        find_audio_files(tmp_path / "missing")

"""Reading loops: formats, mono mixdown, resampling, and a clear reason for every file refused."""

from __future__ import annotations

import os
import struct
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rtloop.audio_io import MAX_LOOP_SECONDS, find_audio_files, iter_loops, load_audio
from rtloop.errors import AudioError


def test_every_bad_file_is_refused_with_its_reason(bad_files: tuple[Path, dict[str, str]]) -> None:
    folder, expected = bad_files
    assert len(find_audio_files(folder).files) == len(expected)
    for path, result in iter_loops(find_audio_files(folder).files, 48000):
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
    scan = find_audio_files(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in scan.files] == ["a/b/y.FLAC", "a/x.wav"]
    assert scan.skipped == ()
    with pytest.raises(AudioError, match="neither a folder nor a file"):
        find_audio_files(tmp_path / "missing")


def _refusal(path: Path, **kwargs: float) -> str:
    with pytest.raises(AudioError) as refused:
        load_audio(path, 48000, **kwargs)
    return str(refused.value)


def test_a_fifo_named_like_audio_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "x.wav"
    os.mkfifo(fifo)
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(_refusal(fifo)), daemon=True)
    reader.start()
    reader.join(timeout=30)  # a guard against a hang, not a speed target: the refusal takes microseconds
    assert not reader.is_alive(), "load_audio blocked on a FIFO"
    assert result == ["not a regular file (a FIFO)"]


def _with_rate_in_header(path: Path, rate: int) -> Path:
    """A valid 16-bit mono WAV whose header then claims ``rate`` (and the matching byte rate)."""
    sf.write(path, 0.1 * np.ones(4800), 48000, subtype="PCM_16")
    data = bytearray(path.read_bytes())
    data[24:32] = struct.pack("<II", rate, rate * 2)
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("rate", [1, 4000, 1_000_000])
def test_sample_rates_outside_8k_to_384k_are_refused_before_decoding(tmp_path: Path, rate: int) -> None:
    path = _with_rate_in_header(tmp_path / "odd.wav", rate)
    assert _refusal(path) == f"sample rate {rate} Hz in its header, outside 8000..384000 Hz"


def test_files_longer_than_ten_minutes_point_to_bar_by_bar_scoring(tmp_path: Path) -> None:
    path = tmp_path / "set.wav"
    sf.write(path, np.zeros(int(8000 * (MAX_LOOP_SECONDS + 1)), dtype=np.int16), 8000, subtype="PCM_16")
    message = _refusal(path)
    assert message.startswith("601 s long, more than the 600 s one loop may last")
    assert "rtloop run BUNDLE --file FILE --bpm N" in message
    short = tmp_path / "short.wav"
    sf.write(short, 0.1 * np.ones(96000), 48000)
    assert _refusal(short, max_seconds=1.0).startswith("2 s long, more than the 1 s")


@pytest.mark.parametrize("fmt, chunk", [("WAV", "data"), ("AIFF", "SSND")])
def test_a_header_claiming_more_audio_than_the_file_holds_is_reported(tmp_path: Path, fmt: str, chunk: str) -> None:
    path = tmp_path / f"cut.{fmt.lower()}"
    sf.write(path, 0.1 * np.ones(48000), 48000, format=fmt, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    message = _refusal(path)
    assert message.startswith(f"truncated: its {chunk} chunk claims 9600")
    assert "the file holds" in message


def test_channels_are_mixed_block_by_block(tmp_path: Path) -> None:
    path = tmp_path / "multi.wav"
    frames = np.zeros((150_000, 16), dtype=np.float32)  # more than two decoding blocks
    frames[:, 3] = 0.8 * np.sin(np.arange(150_000) / 7.0)
    sf.write(path, frames, 48000, subtype="FLOAT")
    np.testing.assert_allclose(load_audio(path, 48000), frames.mean(axis=1), atol=1e-7)
    too_many = tmp_path / "many.wav"
    sf.write(too_many, np.zeros((100, 300), dtype=np.float32), 48000, subtype="FLOAT")
    assert _refusal(too_many) == "300 channels in its header, outside 1..256"


def test_a_folder_search_reports_what_it_leaves_out(tmp_path: Path) -> None:
    sf.write(tmp_path / "good.wav", 0.1 * np.ones(48000), 48000)
    (tmp_path / "album.wav").mkdir()
    sf.write(tmp_path / "album.wav" / "inner.flac", 0.1 * np.ones(48000), 48000)
    (tmp_path / "gone.wav").symlink_to(tmp_path / "nowhere.wav")
    (tmp_path / "loop_a").symlink_to(tmp_path / "loop_b")
    (tmp_path / "loop_b").symlink_to(tmp_path / "loop_a")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "up").symlink_to(tmp_path)
    (tmp_path / "linked.wav").symlink_to(tmp_path / "good.wav")
    os.mkfifo(tmp_path / "pipe.wav")
    (tmp_path / "notes.txt").write_text("not audio, not reported")
    scan = find_audio_files(tmp_path)
    assert [p.name for p in scan.files] == ["inner.flac", "good.wav", "linked.wav"]
    reasons = {s.path.relative_to(tmp_path).as_posix(): s.reason for s in scan.skipped}
    assert reasons == {
        "album.wav": "a folder named like an audio file (its contents are searched)",
        "gone.wav": f"a dangling symbolic link (to {str(tmp_path / 'nowhere.wav')!r}, which does not exist)",
        "loop_a": "a symbolic link loop",
        "loop_b": "a symbolic link loop",
        "sub/up": "a link to a folder already searched (a loop or a duplicate)",
        "pipe.wav": "not a regular file (a FIFO, device or socket)",
    }


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads folders whatever their permissions")
def test_an_unreadable_subfolder_is_reported(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        scan = find_audio_files(tmp_path)
    finally:
        locked.chmod(0o755)
    assert [(s.path, s.reason) for s in scan.skipped] == [(locked, "cannot list this folder: Permission denied")]


def test_a_folder_that_cannot_be_listed_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same path as above where permissions cannot be taken away (root): scandir refuses one folder."""
    (tmp_path / "locked").mkdir()
    sf.write(tmp_path / "good.wav", 0.1 * np.ones(48000), 48000)
    real_scandir = os.scandir

    def scandir(path: os.PathLike[str]) -> object:
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    scan = find_audio_files(tmp_path)
    assert [p.name for p in scan.files] == ["good.wav"]
    assert [(s.path.name, s.reason) for s in scan.skipped] == [("locked", "cannot list this folder: Permission denied")]


@pytest.mark.slow
def test_train_prints_and_records_what_the_folder_search_left_out(
    trained_bundle: Path, loop_sets: dict[str, Path], cache_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Trains on the fixture's loops again (trained_bundle filled the embedding cache), plus two odd paths."""
    pytest.importorskip("torch")
    from rtloop.bundle import load_bundle
    from rtloop.cli import main

    loops = tmp_path / "loops"
    loops.mkdir()
    for path in find_audio_files(loop_sets["train"] / "bass").files:
        (loops / path.name).write_bytes(path.read_bytes())  # same bytes: the cached embeddings are reused
    (loops / "gone.wav").symlink_to(tmp_path / "nowhere.wav")
    (loops / "album.wav").mkdir()
    out = tmp_path / "pca.rtloop"
    argv = ["train", str(loops), "-o", str(out), "--random-encoder", "--detector", "pca", "--cache-dir", str(cache_dir)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert f"skipped {loops / 'gone.wav'}: a dangling symbolic link" in printed
    assert f"skipped {loops / 'album.wav'}: a folder named like an audio file" in printed
    assert "12 files: 12 used (12 from cache), 0 skipped; 2 other paths left out" in printed
    skipped = {Path(s["file"]).name: s["reason"] for s in load_bundle(out).manifest["training"]["skipped"]}
    assert set(skipped) == {"gone.wav", "album.wav"} and skipped["gone.wav"].startswith("a dangling symbolic link")

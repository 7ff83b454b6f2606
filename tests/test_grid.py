"""The loop grid: acid chunks, tempi in file names, the order of sources, and the estimate from audio."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rtloop.grid import Grid, GridSource, estimate_grid, grid_for_file, read_acid, tempo_from_name, window_grid
from rtloop.synth import bass_loop

SR = 48000


def _acid_chunk(beats: int, tempo: float, size: int | None = None) -> bytes:
    body = struct.pack("<IHHfIHHf", 0x2, 60, 0x8000, 0.0, beats, 4, 4, tempo)
    return b"acid" + struct.pack("<I", len(body) if size is None else size) + body


def _with_chunk(path: Path, chunk: bytes) -> None:
    """Append a chunk to a RIFF WAVE file and fix the RIFF size."""
    data = bytearray(path.read_bytes()) + chunk
    data[4:8] = struct.pack("<I", len(data) - 8)
    path.write_bytes(bytes(data))


def _loop_file(tmp_path: Path, name: str, bpm: float = 120.0, bars: int = 1, seed: int = 0) -> tuple[Path, np.ndarray]:
    wave = bass_loop(bpm, bars, SR, np.random.default_rng(seed))
    path = tmp_path / name
    sf.write(path, wave, SR, subtype="FLOAT")
    return path, wave


def test_grid_lengths() -> None:
    grid = Grid(120.0, 4, 2, GridSource.CLOCK)
    assert grid.beat_seconds == pytest.approx(0.5)
    assert grid.bar_seconds == pytest.approx(2.0)
    assert grid.loop_seconds == pytest.approx(4.0)
    assert grid.beats == 8
    assert GridSource("acid") is GridSource.ACID


@pytest.mark.parametrize("bpm, bpb, bars", [(0.0, 4, 1), (float("nan"), 4, 1), (120.0, 0, 1), (120.0, 4, 0)])
def test_grid_rejects_nonsense(bpm: float, bpb: int, bars: int) -> None:
    with pytest.raises(ValueError):
        Grid(bpm, bpb, bars, GridSource.OPTION)
    with pytest.raises(ValueError):
        Grid(120.0, 4, 1, GridSource.OPTION, downbeat=float("inf"))


def test_read_acid_chunk(tmp_path: Path) -> None:
    path, _ = _loop_file(tmp_path, "loop.wav")
    assert read_acid(path) is None, "a WAV file without an acid chunk has none"
    _with_chunk(path, b"junk" + struct.pack("<I", 3) + b"abc\x00")  # odd size: padded to even
    _with_chunk(path, _acid_chunk(8, 97.5))
    assert read_acid(path) == (8, 97.5)


def test_read_acid_survives_broken_files(tmp_path: Path) -> None:
    path, _ = _loop_file(tmp_path, "short.wav")
    _with_chunk(path, _acid_chunk(8, 120.0)[:20])  # truncated chunk body
    assert read_acid(path) is None
    lying, _ = _loop_file(tmp_path, "lying.wav")
    data = bytearray(lying.read_bytes())
    data[40:44] = struct.pack("<I", 0xFFFFFFF0)  # the data chunk claims 4 GB
    lying.write_bytes(bytes(data) + _acid_chunk(8, 120.0))
    assert read_acid(lying) is None
    not_wav = tmp_path / "x.wav"
    not_wav.write_bytes(b"ID3 this is an mp3")
    assert read_acid(not_wav) is None
    assert read_acid(tmp_path / "missing.wav") is None
    implausible, _ = _loop_file(tmp_path, "implausible.wav")
    _with_chunk(implausible, _acid_chunk(0, float("nan")))
    assert read_acid(implausible) == (None, None)


@pytest.mark.parametrize(
    "name, tempo",
    [
        ("bass110Em.wav", 110.0),
        ("funk_120bpm.wav", 120.0),
        ("120 BPM.wav", 120.0),
        ("Loop_95_Am.wav", 95.0),
        ("BPM=128 chords.wav", 128.0),
        ("dub 87.5bpm.wav", 87.5),
        ("Groove_100_v2.wav", 100.0),
        ("song_90_take_3.wav", 90.0),
        ("/some/dir.d/bass080A.wav", 80.0),
        ("take_120.wav", None),
        ("kick_808.wav", None),
        ("bass_01.wav", None),
        ("pad_44k_24bit.wav", None),
        ("hit_100ms.wav", None),
        ("loop_90_120.wav", None),
        ("riff.wav", None),
        ("v150_bass.wav", None),
        ("deadbeef_loop_95.wav", 95.0),
    ],
)
def test_tempo_from_name(name: str, tempo: float | None) -> None:
    assert tempo_from_name(name) == tempo


@pytest.mark.parametrize("bpm, bars", [(100.0, 1), (120.0, 2), (90.0, 2), (130.0, 1)])
def test_estimate_grid_finds_tempo_and_bars(bpm: float, bars: int) -> None:
    wave = bass_loop(bpm, bars, SR, np.random.default_rng(int(bpm)))
    grid = estimate_grid(wave, SR)
    assert grid.source is GridSource.ESTIMATED
    assert (grid.bars, round(grid.bpm, 1)) == (bars, bpm)


def test_estimate_grid_of_degenerate_audio() -> None:
    assert estimate_grid(np.zeros(0, np.float32), SR).bpm == 120.0
    short = estimate_grid(np.zeros(SR // 4, np.float32), SR)
    assert (short.bars, short.bpm) == (1, 200.0)
    silent = estimate_grid(np.zeros(2 * SR, np.float32), SR)
    assert silent.bars * silent.bar_seconds == pytest.approx(2.0)


def test_grid_sources_in_order(tmp_path: Path) -> None:
    # The name says 110, the acid chunk 120 (and the audio is at 120): the chunk wins.
    acid, wave = _loop_file(tmp_path, "bass110Em.wav", bpm=120.0, bars=2)
    _with_chunk(acid, _acid_chunk(8, 120.0))
    assert grid_for_file(acid, wave, SR, bpm=90.0) == Grid(120.0, 4, 2, GridSource.ACID)
    named, wave = _loop_file(tmp_path, "funk_100bpm.wav", bpm=100.0)
    assert grid_for_file(named, wave, SR, bpm=90.0) == Grid(100.0, 4, 1, GridSource.FILENAME)
    # 97 BPM does not make a 2 s loop a whole number of beats: the number is not its tempo.
    stray, wave = _loop_file(tmp_path, "riff_97.wav", bpm=120.0)
    assert grid_for_file(stray, wave, SR, bpm=120.0) == Grid(120.0, 4, 1, GridSource.OPTION)
    assert grid_for_file(stray, wave, SR, bars_hint=2) == Grid(240.0, 4, 2, GridSource.OPTION)
    assert grid_for_file(stray, wave, SR, bpm=120.0, bars_hint=1, beats_per_bar=3).beats_per_bar == 3
    assert grid_for_file(stray, wave, SR) == Grid(120.0, 4, 1, GridSource.ESTIMATED)


def test_acid_beats_without_tempo(tmp_path: Path) -> None:
    path, wave = _loop_file(tmp_path, "loop.wav", bpm=120.0, bars=2)
    _with_chunk(path, _acid_chunk(8, 0.0))
    assert grid_for_file(path, wave, SR) == Grid(120.0, 4, 2, GridSource.ACID)


def test_acid_beats_that_imply_no_tempo_leave_the_grid_to_the_next_source(tmp_path: Path) -> None:
    """4096 beats in 4 s made a grid of 61440 bpm, 1024 bars, and the loop was flagged for it."""
    path, wave = _loop_file(tmp_path, "loop.wav", bpm=120.0, bars=2)
    _with_chunk(path, _acid_chunk(4096, 0.0))
    assert grid_for_file(path, wave, SR, bpm=120.0) == Grid(120.0, 4, 2, GridSource.OPTION)
    # A bundle's bars hint of 1 over a 4 s file would be 60 bpm (fine); over 0.4 s of one beat, 600 bpm: estimated
    assert grid_for_file(path, wave[: len(wave) // 10], SR, bars_hint=1).source is GridSource.ESTIMATED
    slow, wave = _loop_file(tmp_path, "slow.wav", bpm=120.0, bars=2)
    _with_chunk(slow, _acid_chunk(1, 0.0))  # one beat in 4 s: 15 bpm
    assert grid_for_file(slow, wave, SR, bpm=120.0).source is GridSource.OPTION


@pytest.mark.parametrize(
    "name", ["8da5d66c7e6a.wav", "3f8379d621d9.wav", "loop_1b4e28ba-2fa1-11d2-883f-0016d3cca427.wav"]
)
def test_hash_names_have_no_tempo(name: str) -> None:
    assert tempo_from_name(name) is None


@pytest.mark.parametrize("bpm", [85.0, 110.0, 128.0])
@pytest.mark.parametrize("offset", [0.0, 0.3, 1.4])
def test_window_grid_finds_tempo_and_beat_phase(bpm: float, offset: float) -> None:
    """A 4 s window cut anywhere from a played riff: its tempo and where its beats fall."""
    rng = np.random.default_rng(int(bpm))
    music = np.concatenate([bass_loop(bpm, 1, SR, rng) for _ in range(4)])
    start = int(offset * SR)
    grid = window_grid(music[start : start + 4 * SR], SR)
    assert grid.source is GridSource.ESTIMATED
    assert grid.bpm == pytest.approx(bpm, rel=0.02)
    beat = 60.0 / bpm
    error = (grid.downbeat + offset + beat / 2) % beat - beat / 2
    assert abs(error) < 0.05 * beat, f"beat phase off by {error * 1000:.0f} ms"


def test_window_grid_of_silence() -> None:
    grid = window_grid(np.zeros(4 * SR, np.float32), SR)
    assert (grid.bpm, grid.downbeat) == (120.0, 0.0)

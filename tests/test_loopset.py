"""The labelled loop set of bench/quality.py: patterns, deviations, loudness, metadata, rendering."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bench import loopset
from bench.loopset import SAMPLE_RATE, SCALES, Note


def _chunk_ids(path: Path) -> list[bytes]:
    data = path.read_bytes()
    ids, pos = [], 12
    while pos + 8 <= len(data):
        size = struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        ids.append(data[pos : pos + 4])
        pos += 8 + size + (size % 2)
    return ids


def _in_key(pitch: int, key: tuple[int, str]) -> bool:
    tonic, mode = key
    return (pitch - tonic) % 12 in SCALES[mode]


@pytest.mark.parametrize("seed", range(5))
def test_patterns_stay_in_key_and_in_the_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for make in (loopset.bass_pattern, loopset.guitar_pattern):
        for bars in (1, 2):
            _, notes, key = make(rng, bars)
            assert notes and all(_in_key(n.pitch, key) for n in notes)
            assert all(0 <= n.start < bars * 4 and n.duration > 0 for n in notes)
    drums = loopset.drum_pattern(rng, 2)
    assert {loopset.KICK, loopset.SNARE} <= {n.pitch for n in drums}


def test_wrong_notes_leave_the_key() -> None:
    rng = np.random.default_rng(1)
    _, notes, key = loopset.bass_pattern(rng, 2)
    wrong = loopset.wrong_notes(rng, notes, key)
    out_of_key = [n for n in wrong if not _in_key(n.pitch, key)]
    assert len(out_of_key) >= 2
    assert all(abs(w.pitch - n.pitch) <= 1 for w, n in zip(wrong, notes, strict=True))


def test_broken_rhythm_moves_onsets_off_the_grid_and_drops_beats() -> None:
    notes = [Note(i / 4, 0.2, 40, 90) for i in range(16)]  # straight 16ths, one bar
    broken = loopset.broken_rhythm(np.random.default_rng(2), notes, 4.0)
    off_grid = [n for n in broken if abs(n.start * 4 - round(n.start * 4)) > 0.05]
    assert len(off_grid) >= 2
    assert len(broken) < len(notes)


def test_audio_edits_change_the_audio_and_normalise_to_the_target() -> None:
    rng = np.random.default_rng(3)
    t = np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE
    wave = (0.3 * np.sin(2 * np.pi * 110 * t) * (1 + np.sin(2 * np.pi * 2 * t))).astype(np.float32)
    for edit in loopset.AUDIO_EDITS.values():
        edited = loopset.normalise(edit(rng, loopset.normalise(wave)))
        assert edited.shape == wave.shape
        assert loopset.loudness(edited) == pytest.approx(loopset.TARGET_LKFS, abs=0.01)
        assert not np.allclose(edited, loopset.normalise(wave), atol=1e-3)


def test_smf_writer_writes_a_parseable_file(tmp_path: Path) -> None:
    path = tmp_path / "x.mid"
    loopset.write_smf(path, [(0.5, bytes([0x90, 60, 100])), (1.25, bytes([0x80, 60, 0])), (0.0, bytes([0xC0, 33]))])
    data = path.read_bytes()
    assert data[:4] == b"MThd" and struct.unpack(">HHH", data[8:14]) == (0, 1, 500)
    length = struct.unpack(">I", data[18:22])[0]
    assert len(data) == 22 + length and data[-4:] == b"\x00\xff\x2f\x00"
    # program change at tick 0, note on after 500 ticks (0x83 0x74 = 500), note off 750 ticks later
    assert bytes([0x00, 0xC0, 33, 0x83, 0x74, 0x90, 60, 100, 0x85, 0x6E, 0x80, 60, 0]) in data


def test_acid_chunk_round_trips_and_keeps_the_audio_readable(tmp_path: Path) -> None:
    path = tmp_path / "loop.wav"
    sf.write(str(path), np.zeros(4800, np.float32) + 0.1, SAMPLE_RATE, subtype="FLOAT")
    assert loopset.read_acid(path) is None
    loopset.add_riff_chunk(path, loopset.acid_chunk(8, 97.5))
    assert loopset.read_acid(path) == (8, pytest.approx(97.5))
    audio, rate = sf.read(str(path))
    assert rate == SAMPLE_RATE and len(audio) == 4800


@pytest.mark.skipif(bool(loopset.missing_tools()), reason="needs fluidsynth, a GM soundfont and sonic-pi-samples")
def test_a_tiny_rendered_set_has_its_labels_lengths_loudness_and_no_tempo_metadata(tmp_path: Path) -> None:
    sizes = loopset.SetSizes(train=2, test_normal=2, test_per_class=1)
    soundfont = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
    if not soundfont.exists():
        soundfont = loopset.default_soundfont()
    seed_dir = loopset.ensure_set(tmp_path, 0, ("bass",), sizes, soundfont, acid=True)
    folder = tmp_path / "0" / "bass"
    rows = loopset.read_labels(folder)
    assert [r["label"] for r in rows if r["split"] == "test"] == ["normal", "normal", *loopset.DEVIATIONS]
    assert all(r["split"] == "train" and r["label"] == "normal" for r in rows[:2])
    assert sorted(p.name for p in folder.iterdir()) == ["DONE", "labels.csv", "test", "train"]
    for row in rows:
        path = folder / row["file"]
        assert re.fullmatch(r"[0-9a-f]{12}\.wav", path.name)
        wave, rate = sf.read(str(path), dtype="float32")
        assert rate == SAMPLE_RATE and wave.ndim == 1
        assert len(wave) == round(int(row["bars"]) * 240 / float(row["bpm"]) * SAMPLE_RATE)
        assert loopset.loudness(wave) == pytest.approx(loopset.TARGET_LKFS, abs=0.01)
        assert set(_chunk_ids(path)) <= {b"fmt ", b"data", b"fact", b"PEAK"}
        acid = seed_dir / "bass" / row["file"]
        assert loopset.read_acid(acid) == (4 * int(row["bars"]), pytest.approx(float(row["bpm"]), abs=1e-3))
        assert np.array_equal(sf.read(str(acid), dtype="float32")[0], wave)
    # a second call finds the cache and renders nothing
    stamp = (folder / "DONE").stat().st_mtime_ns
    loopset.ensure_set(tmp_path, 0, ("bass",), sizes, soundfont, acid=False)
    assert (folder / "DONE").stat().st_mtime_ns == stamp


def test_quality_aucs_per_class_and_overall() -> None:
    from bench import quality

    labels = ["normal", "normal", "glitch", "noise", "noise"]
    scores = np.array([0.1, 0.2, 0.15, 0.9, 0.8])
    result = quality.aucs(scores, labels)
    assert result["glitch"] == pytest.approx(0.5)
    assert result["noise"] == pytest.approx(1.0)
    assert result["overall"] == pytest.approx(5 / 6)
    assert "tempo_off" not in result  # no loops of that class: no number rather than a made-up one


def test_logmel_baseline_features_are_128_numbers() -> None:
    from bench import quality

    wave = np.random.default_rng(0).standard_normal(SAMPLE_RATE).astype(np.float32)
    features = quality.logmel_stats(wave, SAMPLE_RATE)
    assert features.shape == (128,) and np.all(np.isfinite(features))


def test_quality_bundles_train_with_the_checkpoint_asked_for() -> None:
    from bench import quality

    default = quality.encoder_from(quality.build_parser().parse_args([]))
    assert default.train_options()["random_encoder"] is True and default.train_options()["checkpoint"] is None
    args = ["--clap-ckpt", "music.pt", "--amodel", "HTSAT-base", "--no-fusion", "--trust-checkpoint"]
    chosen = quality.encoder_from(quality.build_parser().parse_args(args)).train_options()
    assert chosen == {
        "checkpoint": Path("music.pt"),
        "random_encoder": False,
        "amodel": "HTSAT-base",
        "fusion": False,
        "trust_checkpoint": True,
    }

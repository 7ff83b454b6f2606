"""A labelled loop set rendered from recordings of real instruments, for ``bench/quality.py``.

Bass and guitar are played from seeded, musically plausible patterns (Standard MIDI Files written
here) through FluidSynth and a multi-sampled soundfont (MuseScore General, else TimGM6mb). Drums are
GM drum-kit grooves from the same soundfont plus real drum loops from ``sonic-pi-samples`` resampled
(libsoxr) to the bar length. Several keys and tempos (85-135 BPM), 1 and 2 bars of 4/4, humanised
timing (a few ms) and velocity. Each test loop is normal or one of seven deviation classes:

* ``instrument``: the same kind of pattern on another GM program (another drum kit for drums);
* ``distortion``: soft clipping, hard clipping or sine foldback of the rendered audio;
* ``wrong_notes``: a quarter of the notes (at least 2) moved a semitone out of the key (drums: other
  percussion sounds instead of kit pieces);
* ``broken_rhythm``: a quarter of the onsets moved off the grid (a 16th-triplet or a random 80-220 ms
  share of a beat) and one or two notes on beats dropped;
* ``glitch``: dropouts, clicks and stutters edited into the audio;
* ``tempo_off``: the pattern played at 0.80-0.90 or 1.10-1.25 times the tempo the loop length implies;
* ``noise``: white or pink noise at 10-20 dB SNR.

Every loop is mono 48 kHz float WAV, normalised to -24 LKFS (BS.1770 K-weighted mean square, no gating),
named at random, without tempo metadata. The ``acid`` variant writes the same audio with a WAV
``acid`` chunk (beats, 4/4, tempo).

Layout: ``<root>/<seed>/<instrument>/{train,test}/*.wav`` and ``<root>/<seed>/<instrument>/labels.csv``
(file relative to the instrument folder, split, instrument, label, bpm, bars, key, source). The acid
variant lives in ``<root>/acid/<seed>/...``.

    python bench/loopset.py --out /work/data/quality --seed 0 [--instruments bass guitar drums] [--acid]
"""

from __future__ import annotations

import argparse
import csv
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from scipy.signal import lfilter

SAMPLE_RATE = 48000
TARGET_LKFS = -24.0
INSTRUMENTS = ("bass", "guitar", "drums")
LABELS = ("normal", "instrument", "distortion", "wrong_notes", "broken_rhythm", "glitch", "tempo_off", "noise")
DEVIATIONS = LABELS[1:]
BPM_RANGE = (85.0, 135.0)
SOUNDFONTS = (
    Path("/usr/share/sounds/sf3/MuseScore_General_Lite.sf3"),
    Path("/usr/share/sounds/sf3/MuseScore_General.sf3"),
    Path("/usr/share/sounds/sf2/TimGM6mb.sf2"),
)
SONIC_PI = Path("/usr/share/sonic-pi/samples")
APT_LINE = "apt-get install -y fluidsynth musescore-general-soundfont-small timgm6mb-soundfont sonic-pi-samples"
GENERATOR_VERSION = 1  # bump when the set changes, so caches regenerate

NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
# Half-bar chords as scale degrees (0-based); a 1-bar loop takes the first two.
PROGRESSIONS = {
    "major": ((0, 0, 3, 3), (0, 0, 4, 4), (0, 4, 5, 3), (5, 5, 3, 4), (0, 0, 0, 4), (0, 3, 0, 4)),
    "minor": ((0, 0, 5, 5), (0, 0, 6, 6), (0, 6, 5, 6), (0, 0, 3, 4), (0, 3, 0, 6), (0, 0, 0, 4)),
}
BASS_RHYTHMS = (
    "x.......x.......",
    "x...x...x...x...",
    "x..x..x.x...x...",
    "x.x.x.x.x.x.x.x.",
    "x..x..x...x.x...",
    "x.......x.x.....",
    "x..x....x..x..x.",
    "x...x.xx..x.x...",
)
STRUM_RHYTHMS = ("x.x.x.x.x.x.x.x.", "x..x..x.x..x..x.", "x...x.x...x.x...", "x.......x.......", "..x...x...x...x.")
DRUM_GROOVES = (  # (kick, snare) per bar of 16ths
    ("x.......x.x.....", "....x.......x..."),
    ("x......x..x.....", "....x.......x..."),
    ("x..x..x...x..x..", "....x..x.x..x..."),
    ("x.........x.....", "........x......."),
    ("x...x...x...x...", "....x.......x..."),
    ("x.x.......x.....", "....x.......x..x"),
)
NORMAL_PROGRAMS = {"bass": (33, 34), "guitar": (25, 26, 27), "drums": (0, 8, 16)}
OTHER_PROGRAMS = {
    "bass": (0, 36, 38, 39, 42, 58, 70),
    "guitar": (0, 6, 11, 16, 46, 80, 104, 105),
    "drums": (24, 25, 40, 48),
}
KICK, SNARE, CLOSED_HAT, OPEN_HAT, CRASH, RIDE = 36, 38, 42, 46, 49, 51
TOMS = (50, 48, 47, 45)
OTHER_PERCUSSION = (39, 54, 56, 60, 61, 62, 63, 64, 69, 75, 76, 77, 81)
# Real drum loops of sonic-pi-samples: (file, bars in the file).
DRUM_LOOPS = (("loop_amen.flac", 1), ("loop_breakbeat.flac", 1), ("loop_amen_full.flac", 4))
SONIC_SHARE = 0.25


@dataclass(frozen=True)
class Note:
    """One note of a pattern, in beats from the pattern start."""

    start: float
    duration: float
    pitch: int
    velocity: int


@dataclass(frozen=True)
class Loop:
    """A loop to make: its pattern, how it is played, and its label."""

    label: str
    bpm: float  # the tempo the loop length implies
    bars: int
    key: str
    notes: tuple[Note, ...] = ()
    program: int = 0
    drums: bool = False
    tempo_factor: float = 1.0  # played at bpm * tempo_factor, cut to the nominal length
    drum_loop: str = ""  # a sonic-pi file instead of notes
    drum_bar: int = 0  # the bar of that file the loop starts on
    audio_edit: str = ""  # a DEVIATIONS class applied to the audio after rendering

    @property
    def seconds(self) -> float:
        return self.bars * 4 * 60.0 / self.bpm

    @property
    def source(self) -> str:
        return self.drum_loop or f"gm{'-kit' if self.drums else ''}{self.program}"


@dataclass(frozen=True)
class SetSizes:
    """How many loops per instrument: normal training loops, normal test loops, test loops per deviation."""

    train: int = 40
    test_normal: int = 20
    test_per_class: int = 8


QUICK_SIZES = SetSizes(train=8, test_normal=4, test_per_class=2)


def missing_tools() -> list[str]:
    """What the generator needs and does not find (empty when all is there)."""
    missing = [] if shutil.which("fluidsynth") else ["fluidsynth"]
    if not any(p.exists() for p in SOUNDFONTS):
        missing.append("a GM soundfont")
    if not all((SONIC_PI / name).exists() for name, _ in DRUM_LOOPS):
        missing.append("sonic-pi-samples")
    return missing


def default_soundfont() -> Path:
    """The first installed soundfont of SOUNDFONTS (MuseScore General preferred)."""
    for path in SOUNDFONTS:
        if path.exists():
            return path
    raise FileNotFoundError(f"no soundfont found; install one: {APT_LINE}")


# ---------------------------------------------------------------------------------------------- patterns


def _steps(rhythm: str) -> list[int]:
    return [i for i, c in enumerate(rhythm) if c == "x"]


def _key(rng: np.random.Generator) -> tuple[int, str]:
    tonic = int(rng.integers(12))
    mode = str(rng.choice(list(SCALES)))
    return tonic, mode


def _chords(rng: np.random.Generator, mode: str, bars: int) -> list[int]:
    progressions = PROGRESSIONS[mode]
    return list(progressions[int(rng.integers(len(progressions)))][: 2 * bars])


def _degree_pitch(tonic: int, mode: str, degree: int) -> int:
    scale = SCALES[mode]
    return tonic + scale[degree % 7] + 12 * (degree // 7)


def _legato_notes(
    onsets: list[float], pitches: list[int], velocities: list[int], length: float, legato: float
) -> list[Note]:
    ends = onsets[1:] + [length]
    return [
        Note(t, max(0.1, (end - t) * legato), p, v)
        for t, end, p, v in zip(onsets, ends, pitches, velocities, strict=True)
    ]


def _velocity(rng: np.random.Generator, base: int, step: int) -> int:
    accent = 12 if step % 4 == 0 else 0
    return int(np.clip(base + accent + rng.normal(0, 6), 30, 127))


def bass_pattern(rng: np.random.Generator, bars: int) -> tuple[str, list[Note], tuple[int, str]]:
    """Roots, fifths and octaves on a chord progression, with approach notes into chord changes."""
    tonic, mode = _key(rng)
    chords = _chords(rng, mode, bars)
    rhythm = BASS_RHYTHMS[int(rng.integers(len(BASS_RHYTHMS)))]
    base = 28 + (tonic - 4) % 12  # E1..D#2
    legato = float(rng.uniform(0.55, 0.95))
    onsets, pitches, velocities = [], [], []
    for bar in range(bars):
        steps = _steps(rhythm)
        if bar == bars - 1 and bars > 1 and rng.random() < 0.5:  # a variation in the last bar
            steps = sorted(set(steps) | {int(rng.integers(8, 16))})
        for step in steps:
            half = 2 * bar + step // 8
            degree = chords[half]
            root = base + SCALES[mode][degree] - (12 if SCALES[mode][degree] > 7 else 0)
            next_half = (half + 1) % len(chords)
            if step % 8 == 0:
                pitch = root
            elif step % 8 >= 6 and chords[next_half] != degree and rng.random() < 0.6:
                target = chords[next_half]
                approach = target - 1 if target > degree else target + 1
                pitch = base + _degree_pitch(0, mode, approach) - (12 if _degree_pitch(0, mode, approach) > 7 else 0)
            else:
                pitch = root + int(rng.choice([0, 7, 12, 0, 7]))
            onsets.append(bar * 4 + step / 4)
            pitches.append(pitch)
            velocities.append(_velocity(rng, 88, step))
    return f"{NOTE_NAMES[tonic]} {mode}", _legato_notes(onsets, pitches, velocities, bars * 4.0, legato), (tonic, mode)


def _voicing(rng: np.random.Generator, tonic: int, mode: str, degree: int, power: bool) -> list[int]:
    root = 40 + (tonic + SCALES[mode][degree % 7] - 4) % 12  # E2..D#3
    if power:
        return [root, root + 7, root + 12]
    third = _degree_pitch(tonic, mode, degree + 2) - _degree_pitch(tonic, mode, degree)
    fifth = _degree_pitch(tonic, mode, degree + 4) - _degree_pitch(tonic, mode, degree)
    return [root, root + fifth, root + 12, root + 12 + third, root + 12 + fifth]


def guitar_pattern(rng: np.random.Generator, bars: int) -> tuple[str, list[Note], tuple[int, str]]:
    """Strummed chords (open or power voicings, down/up strokes) or a pentatonic single-note riff."""
    tonic, mode = _key(rng)
    chords = _chords(rng, mode, bars)
    notes: list[Note] = []
    if rng.random() < 0.6:
        rhythm = STRUM_RHYTHMS[int(rng.integers(len(STRUM_RHYTHMS)))]
        power = bool(rng.random() < 0.4)
        spread = float(rng.uniform(0.012, 0.03))  # beats between strings
        steps = _steps(rhythm)
        for bar in range(bars):
            for i, step in enumerate(steps):
                voicing = _voicing(rng, tonic, mode, chords[2 * bar + step // 8], power)
                down = step % 4 == 0 or rng.random() < 0.5
                order = voicing if down else voicing[::-1][:3]
                end = (steps[i + 1] if i + 1 < len(steps) else 16) / 4
                velocity = _velocity(rng, 80 if down else 68, step)
                for j, pitch in enumerate(order):
                    start = bar * 4 + step / 4 + j * spread
                    notes.append(Note(start, max(0.1, bar * 4 + end - start) * 0.92, pitch, velocity))
    else:
        penta = (0, 3, 5, 7, 10) if mode == "minor" else (0, 2, 4, 7, 9)
        ladder = [52 + (tonic - 4) % 12 + 12 * octave + p for octave in range(2) for p in penta]
        density = float(rng.uniform(0.35, 0.6))
        steps = [s for s in range(16) if s % 4 == 0 or rng.random() < density]
        position = int(rng.integers(0, 4))
        onsets, pitches, velocities = [], [], []
        for bar in range(bars):
            for step in steps:
                position = int(np.clip(position + rng.choice([-2, -1, 0, 1, 1, 2]), 0, len(ladder) - 1))
                onsets.append(bar * 4 + step / 4)
                pitches.append(ladder[position])
                velocities.append(_velocity(rng, 84, step))
        notes = _legato_notes(onsets, pitches, velocities, bars * 4.0, float(rng.uniform(0.5, 0.9)))
    return f"{NOTE_NAMES[tonic]} {mode}", notes, (tonic, mode)


def drum_pattern(rng: np.random.Generator, bars: int) -> list[Note]:
    """A kick/snare groove with 8th or 16th hats (or ride), open hats, ghost notes, a fill and a crash."""
    kick, snare = DRUM_GROOVES[int(rng.integers(len(DRUM_GROOVES)))]
    hat_step = int(rng.choice([2, 1, 2]))
    cymbal = RIDE if rng.random() < 0.2 else CLOSED_HAT
    open_hats = rng.random() < 0.3
    ghosts = rng.random() < 0.4
    notes: list[Note] = []
    for bar in range(bars):
        fill = bar == bars - 1 and rng.random() < 0.3
        for step in range(16):
            t = bar * 4 + step / 4
            if fill and step >= 12:
                notes.append(Note(t, 0.2, TOMS[step - 12], _velocity(rng, 95, 0)))
                continue
            if kick[step] == "x":
                notes.append(Note(t, 0.2, KICK, _velocity(rng, 100, step)))
            if snare[step] == "x":
                notes.append(Note(t, 0.2, SNARE, _velocity(rng, 100, 0)))
            elif ghosts and step % 2 == 1 and rng.random() < 0.3:
                notes.append(Note(t, 0.1, SNARE, int(rng.integers(25, 45))))
            if step % hat_step == 0:
                hat = OPEN_HAT if open_hats and step % 4 == 2 else cymbal
                notes.append(Note(t, 0.2, hat, _velocity(rng, 70, step)))
        if bar == 0 and rng.random() < 0.3:
            notes.append(Note(0.0, 1.0, CRASH, _velocity(rng, 90, 0)))
    return notes


# -------------------------------------------------------------------------------------------- deviations


def _onset_groups(notes: list[Note]) -> list[list[int]]:
    """Indices of notes grouped by onset (a strummed chord counts as one onset)."""
    order = sorted(range(len(notes)), key=lambda i: notes[i].start)
    groups: list[list[int]] = []
    for i in order:
        if groups and notes[i].start - notes[groups[-1][0]].start < 0.1:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def _pick(rng: np.random.Generator, n: int, share: float = 0.25, least: int = 2) -> list[int]:
    k = min(n, max(least, round(share * n)))
    return sorted(int(i) for i in rng.choice(n, size=k, replace=False))


def wrong_notes(rng: np.random.Generator, notes: list[Note], key: tuple[int, str] | None) -> list[Note]:
    """Move a quarter of the onsets (at least 2) a semitone out of the key; drums: other percussion."""
    out = list(notes)
    groups = _onset_groups(notes)
    for g in _pick(rng, len(groups)):
        i = groups[g][int(rng.integers(len(groups[g])))]
        note = out[i]
        if key is None:
            out[i] = replace(note, pitch=int(rng.choice(OTHER_PERCUSSION)))
            continue
        tonic, mode = key
        scale = {(tonic + s) % 12 for s in SCALES[mode]}
        shifts = [s for s in (int(rng.choice([-1, 1])), 1, -1) if (note.pitch + s) % 12 not in scale]
        out[i] = replace(note, pitch=note.pitch + shifts[0])
    return out


def broken_rhythm(rng: np.random.Generator, notes: list[Note], length: float) -> list[Note]:
    """Move a quarter of the onsets off the grid (16th-triplet or random) and drop 1-2 notes on beats."""
    out = list(notes)
    groups = _onset_groups(notes)
    for g in _pick(rng, len(groups)):
        if rng.random() < 0.5:
            shift = float(rng.choice([-1, 1])) / 6  # a 16th-triplet
        else:
            shift = float(rng.choice([-1, 1]) * rng.uniform(0.08, 0.22))
        for i in groups[g]:
            out[i] = replace(out[i], start=float(np.clip(out[i].start + shift, 0.0, length - 0.05)))
    on_beats = [g for g in range(len(groups)) if abs(notes[groups[g][0]].start % 1.0) < 0.05]
    if len(on_beats) > 2:
        dropped = {i for g in rng.choice(on_beats, size=int(rng.integers(1, 3)), replace=False) for i in groups[g]}
        out = [n for i, n in enumerate(out) if i not in dropped]
    return out


def distort(rng: np.random.Generator, wave: np.ndarray) -> np.ndarray:
    """Soft clipping (tanh), hard clipping or sine foldback of the audio."""
    x = wave / (np.max(np.abs(wave)) + 1e-12)
    kind = int(rng.integers(3))
    if kind == 0:
        return np.tanh(rng.uniform(4, 12) * x)
    if kind == 1:
        limit = rng.uniform(0.12, 0.3)
        return np.clip(x, -limit, limit)
    return np.sin(rng.uniform(3, 6) * x)


def glitch(rng: np.random.Generator, wave: np.ndarray) -> np.ndarray:
    """1-3 audio edits: dropouts (hard-edged silence), clicks (short full-scale pulses), stutters."""
    out = wave.copy()
    n = len(out)
    peak = float(np.max(np.abs(out)))
    for _ in range(int(rng.integers(1, 4))):
        kind = int(rng.integers(3))
        if kind == 0:
            length = int(rng.uniform(0.03, 0.2) * SAMPLE_RATE)
            start = int(rng.integers(0, n - length))
            out[start : start + length] = 0.0
        elif kind == 1:
            for _ in range(int(rng.integers(1, 4))):
                start = int(rng.integers(0, n - 96))
                out[start : start + int(rng.integers(1, 96))] = peak * float(rng.choice([-1, 1])) * rng.uniform(0.6, 1)
        else:
            length = int(rng.uniform(0.04, 0.12) * SAMPLE_RATE)
            repeats = int(rng.integers(3, 6))
            start = int(rng.integers(0, max(1, n - length * repeats)))
            chunk = out[start : start + length].copy()
            for r in range(1, repeats):
                end = min(n, start + (r + 1) * length)
                out[start + r * length : end] = chunk[: end - start - r * length]
    return out


def add_noise(rng: np.random.Generator, wave: np.ndarray) -> np.ndarray:
    """White or pink noise at 10-20 dB SNR."""
    noise = rng.standard_normal(len(wave))
    if rng.random() < 0.5:
        spectrum = np.fft.rfft(noise)
        spectrum[1:] /= np.sqrt(np.arange(1, len(spectrum)))
        spectrum[0] = 0.0
        noise = np.fft.irfft(spectrum, n=len(wave))
    snr_db = rng.uniform(10, 20)
    gain = np.sqrt(np.mean(wave**2) / (np.mean(noise**2) * 10 ** (snr_db / 10)))
    return wave + gain * noise


AUDIO_EDITS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "distortion": distort,
    "glitch": glitch,
    "noise": add_noise,
}


# -------------------------------------------------------------------------------------- loudness, files


_K_STAGES = (  # ITU-R BS.1770 K-weighting at 48 kHz: high shelf, then RLB high-pass
    ((1.53512485958697, -2.69169618940638, 1.19839281085285), (1.0, -1.69065929318241, 0.73248077421585)),
    ((1.0, -2.0, 1.0), (1.0, -1.99004745483398, 0.99007225036621)),
)


def loudness(wave: np.ndarray) -> float:
    """K-weighted loudness (LKFS, without gating) of 48 kHz mono audio."""
    y = wave.astype(np.float64)
    for b, a in _K_STAGES:
        y = lfilter(b, a, y)
    return float(-0.691 + 10 * np.log10(np.mean(y**2) + 1e-20))


def normalise(wave: np.ndarray, target: float = TARGET_LKFS) -> np.ndarray:
    """Scale to ``target`` LKFS."""
    return (wave * 10 ** ((target - loudness(wave)) / 20)).astype(np.float32)


def acid_chunk(beats: int, bpm: float) -> bytes:
    """A WAV ``acid`` chunk: a stretchable loop of ``beats`` beats in 4/4 at ``bpm``."""
    flags = 0x02  # stretch on, not a one-shot
    body = struct.pack("<IHHfIHHf", flags, 60, 0x8000, 0.0, beats, 4, 4, float(bpm))
    return b"acid" + struct.pack("<I", len(body)) + body


def add_riff_chunk(path: Path, chunk: bytes) -> None:
    """Append a chunk to a RIFF/WAVE file and fix the RIFF size."""
    data = bytearray(path.read_bytes())
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError(f"{path} is not a RIFF/WAVE file")
    if len(data) % 2:
        data += b"\0"
    data += chunk
    data[4:8] = struct.pack("<I", len(data) - 8)
    path.write_bytes(bytes(data))


def read_acid(path: Path) -> tuple[int, float] | None:
    """(beats, bpm) from a WAV file's ``acid`` chunk, or None if it has none."""
    data = path.read_bytes()
    pos = 12
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if cid == b"acid":
            fields = struct.unpack("<IHHfIHHf", data[pos + 8 : pos + 32])
            return fields[4], fields[7]
        pos += 8 + size + (size % 2)
    return None


# ----------------------------------------------------------------------------------------------- render


def _vlq(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def write_smf(path: Path, events: list[tuple[float, bytes]]) -> None:
    """Write a format-0 Standard MIDI File; ``events`` are (seconds, MIDI message), 1 tick = 1 ms."""
    track = bytearray(b"\x00\xff\x51\x03\x07\xa1\x20")  # tempo 500000 us/quarter: 500 ticks/quarter = 1 ms
    now = 0
    for seconds, message in sorted(events, key=lambda e: (round(e[0] * 1000), e[1][0] & 0xF0 == 0x90)):
        tick = max(now, round(seconds * 1000))
        track += _vlq(tick - now) + message
        now = tick
    track += b"\x00\xff\x2f\x00"
    path.write_bytes(b"MThd" + struct.pack(">IHHH", 6, 0, 1, 500) + b"MTrk" + struct.pack(">I", len(track)) + track)


LEAD_IN = 0.5
RELEASE = 2.5


def _humanised(rng: np.random.Generator, notes: tuple[Note, ...]) -> list[tuple[float, Note, int]]:
    """Each note with a timing jitter in seconds (sd 4 ms, within 10 ms) and a jittered velocity."""
    out = []
    for note in notes:
        jitter = float(np.clip(rng.normal(0, 0.004), -0.01, 0.01))
        if note.start == 0.0:
            jitter = abs(jitter)  # nothing may start before the loop does
        out.append((jitter, note, int(np.clip(note.velocity + rng.normal(0, 5), 1, 127))))
    return out


def render_midi(loops: list[Loop], soundfont: Path, rng: np.random.Generator, workdir: Path) -> list[np.ndarray]:
    """Render note loops with FluidSynth in one pass; each loop is played repeatedly and its second
    repetition cut out, so the tails of the previous repetition ring into its start as in a real loop."""
    events: list[tuple[float, bytes]] = []
    cuts: list[tuple[float, float]] = []
    slot = 0.0
    for loop in loops:
        channel = 9 if loop.drums else 0
        period = loop.bars * 4 * 60.0 / (loop.bpm * loop.tempo_factor)
        reps = 2 + int(np.ceil(loop.seconds / period))
        start = slot + LEAD_IN
        events.append((slot, bytes([0xB0 | channel, 121, 0])))
        events.append((slot, bytes([0xC0 | channel, loop.program])))
        beat = period / (loop.bars * 4)
        played = []
        for jitter, note, velocity in _humanised(rng, loop.notes):
            played.append((note.start * beat + jitter, note.duration * beat, note.pitch, velocity))
        for rep in range(reps):
            for onset, duration, pitch, velocity in played:
                t = start + rep * period + onset
                events.append((t, bytes([0x90 | channel, pitch, velocity])))
                events.append((t + duration, bytes([0x80 | channel, pitch, 0])))
        cuts.append((start + period, loop.seconds))
        slot = start + reps * period + RELEASE
        events.append((slot - 0.05, bytes([0xB0 | channel, 120, 0])))
    mid, wav = workdir / "batch.mid", workdir / "batch.wav"
    write_smf(mid, events)
    cmd = ["fluidsynth", "-ni", "-q", "-F", str(wav), "-r", str(SAMPLE_RATE), "-g", "0.8", "-O", "float", "-T", "wav"]
    subprocess.run([*cmd, str(soundfont), str(mid)], check=True, capture_output=True, timeout=1800)
    audio, rate = sf.read(str(wav), dtype="float32", always_2d=True)
    if rate != SAMPLE_RATE:
        raise RuntimeError(f"fluidsynth rendered at {rate} Hz, not {SAMPLE_RATE}")
    mono = audio.mean(axis=1)
    out = []
    for at, seconds in cuts:
        first = round(at * SAMPLE_RATE)
        out.append(mono[first : first + round(seconds * SAMPLE_RATE)].copy())
    return out


def render_drum_loop(loop: Loop) -> np.ndarray:
    """A sonic-pi drum loop resampled (pitch follows speed) so its bars last as long as the loop implies."""
    name, file_bars = next(d for d in DRUM_LOOPS if d[0] == loop.drum_loop)
    audio, rate = sf.read(str(SONIC_PI / name), dtype="float32", always_2d=True)
    mono = audio.mean(axis=1)
    native_bar = len(mono) / rate / file_bars
    played_bar = loop.bars * 4 * 60.0 / (loop.bpm * loop.tempo_factor) / loop.bars
    tiled = np.tile(mono, 3 + int(np.ceil((loop.bars * 2 + loop.drum_bar) / file_bars)))
    stretched = soxr.resample(tiled, rate * played_bar / native_bar, SAMPLE_RATE, quality="VHQ")
    first = round(played_bar * SAMPLE_RATE * (file_bars + loop.drum_bar))  # after one pass: its tail rings in
    return stretched[first : first + round(loop.seconds * SAMPLE_RATE)].copy()


def native_bpm(name: str) -> float:
    """The tempo a sonic-pi loop implies: its bars of 4/4 over its length."""
    file_bars = next(b for n, b in DRUM_LOOPS if n == name)
    return file_bars * 240.0 / sf.info(str(SONIC_PI / name)).duration


# ------------------------------------------------------------------------------------------------- plan


def _program_pattern(
    rng: np.random.Generator, instrument: str, bars: int
) -> tuple[str, list[Note], tuple[int, str] | None]:
    if instrument == "bass":
        return bass_pattern(rng, bars)
    if instrument == "guitar":
        return guitar_pattern(rng, bars)
    return "", drum_pattern(rng, bars), None


def plan_loop(rng: np.random.Generator, instrument: str, label: str) -> Loop:
    """Draw one loop of ``instrument`` with ``label``: tempo, bars, key, pattern, program and deviation."""
    bars = int(rng.choice([1, 2]))
    bpm = float(np.round(rng.uniform(*BPM_RANGE), 1))
    drums = instrument == "drums"
    if drums and label in ("normal", "distortion", "glitch", "noise", "tempo_off") and rng.random() < SONIC_SHARE:
        name = DRUM_LOOPS[int(rng.integers(len(DRUM_LOOPS)))][0]
        bpm = float(np.round(np.clip(native_bpm(name) * rng.uniform(0.88, 1.12), *BPM_RANGE), 1))
        file_bars = next(b for n, b in DRUM_LOOPS if n == name)
        loop = Loop(label, bpm, bars, "", drums=True, drum_loop=name, drum_bar=int(rng.integers(file_bars)))
    else:
        key, notes, scale = _program_pattern(rng, instrument, bars)
        programs = NORMAL_PROGRAMS[instrument]
        program = int(programs[int(rng.integers(len(programs)))])
        if label == "instrument":
            program = int(rng.choice(OTHER_PROGRAMS[instrument]))
        elif label == "wrong_notes":
            notes = wrong_notes(rng, notes, scale)
        elif label == "broken_rhythm":
            notes = broken_rhythm(rng, notes, bars * 4.0)
        loop = Loop(label, bpm, bars, key, tuple(notes), program, drums)
    if label == "tempo_off":
        factor = rng.uniform(0.8, 0.9) if rng.random() < 0.5 else rng.uniform(1.1, 1.25)
        loop = replace(loop, tempo_factor=float(factor))
    if label in AUDIO_EDITS:
        loop = replace(loop, audio_edit=label)
    return loop


def plan_instrument(seed: int, instrument: str, sizes: SetSizes) -> dict[str, list[Loop]]:
    """The train and test loops of one instrument for one data seed."""
    rng = np.random.default_rng([seed, INSTRUMENTS.index(instrument), GENERATOR_VERSION])
    train = [plan_loop(rng, instrument, "normal") for _ in range(sizes.train)]
    test = [plan_loop(rng, instrument, "normal") for _ in range(sizes.test_normal)]
    test += [plan_loop(rng, instrument, label) for label in DEVIATIONS for _ in range(sizes.test_per_class)]
    return {"train": train, "test": test}


LABEL_FIELDS = ("file", "split", "instrument", "label", "bpm", "bars", "key", "source")


def generate_instrument(
    folder: Path, seed: int, instrument: str, sizes: SetSizes, soundfont: Path, batch: int = 48
) -> list[dict[str, str]]:
    """Render, deviate, normalise and write one instrument's loops and ``labels.csv`` into ``folder``.

    Returns:
        The rows of labels.csv.
    """
    plans = plan_instrument(seed, instrument, sizes)
    rng = np.random.default_rng([seed, INSTRUMENTS.index(instrument), GENERATOR_VERSION, 1])
    rows: list[dict[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="loopset-") as tmp:
        for split, loops in plans.items():
            (folder / split).mkdir(parents=True, exist_ok=True)
            waves: list[np.ndarray | None] = [None] * len(loops)
            midi = [i for i, loop in enumerate(loops) if not loop.drum_loop]
            for at in range(0, len(midi), batch):
                chunk = midi[at : at + batch]
                rendered = render_midi([loops[i] for i in chunk], soundfont, rng, Path(tmp))
                for i, wave in zip(chunk, rendered, strict=True):
                    waves[i] = wave
            for i, loop in enumerate(loops):
                wave = render_drum_loop(loop) if loop.drum_loop else waves[i]
                assert wave is not None
                if loop.audio_edit:
                    wave = AUDIO_EDITS[loop.audio_edit](rng, normalise(wave))
                name = f"{split}/{rng.bytes(6).hex()}.wav"
                sf.write(str(folder / name), normalise(wave), SAMPLE_RATE, subtype="FLOAT")
                rows.append(
                    {
                        "file": name,
                        "split": split,
                        "instrument": instrument,
                        "label": loop.label,
                        "bpm": f"{loop.bpm:.1f}",
                        "bars": str(loop.bars),
                        "key": loop.key,
                        "source": loop.source,
                    }
                )
    with open(folder / "labels.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=LABEL_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return rows


def read_labels(folder: Path) -> list[dict[str, str]]:
    """The rows of ``folder/labels.csv``."""
    with open(folder / "labels.csv", newline="") as f:
        return list(csv.DictReader(f))


def write_acid_variant(folder: Path, target: Path) -> None:
    """Copy one instrument folder to ``target`` with an ``acid`` chunk (beats, tempo) in every WAV."""
    rows = read_labels(folder)
    for row in rows:
        dst = target / row["file"]
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(folder / row["file"], dst)
        add_riff_chunk(dst, acid_chunk(4 * int(row["bars"]), float(row["bpm"])))
    shutil.copyfile(folder / "labels.csv", target / "labels.csv")


def stamp(sizes: SetSizes, soundfont: Path) -> str:
    """What a generated folder was made with; a cache is reused only when this matches."""
    return f"v{GENERATOR_VERSION} {sizes.train}/{sizes.test_normal}/{sizes.test_per_class} {soundfont.name}\n"


def ensure_set(
    root: Path, seed: int, instruments: tuple[str, ...], sizes: SetSizes, soundfont: Path, acid: bool = False
) -> Path:
    """Generate ``root/<seed>`` (and ``root/acid/<seed>``) unless a matching cached copy is there.

    Returns:
        The seed folder to read (the acid variant's when ``acid``).
    """
    seed_dir = root / str(seed)
    for instrument in instruments:
        folder = seed_dir / instrument
        done = folder / "DONE"
        if not (done.exists() and done.read_text() == stamp(sizes, soundfont)):
            if folder.exists():
                shutil.rmtree(folder)
            print(f"generating {folder} ...", flush=True)
            generate_instrument(folder, seed, instrument, sizes, soundfont)
            done.write_text(stamp(sizes, soundfont))
        if acid:
            target = root / "acid" / str(seed) / instrument
            if not ((target / "DONE").exists() and (target / "DONE").read_text() == done.read_text()):
                if target.exists():
                    shutil.rmtree(target)
                write_acid_variant(folder, target)
                (target / "DONE").write_text(done.read_text())
    return root / "acid" / str(seed) if acid else seed_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--instruments", nargs="+", default=list(INSTRUMENTS), choices=INSTRUMENTS)
    parser.add_argument("--quick", action="store_true", help="a tiny set (8 train, 4 normal + 2 per class test)")
    parser.add_argument("--acid", action="store_true", help="also write the variant with acid chunks")
    parser.add_argument("--soundfont", type=Path, default=None)
    args = parser.parse_args(argv)
    if missing := missing_tools():
        print(f"missing: {', '.join(missing)}; install with:\n  {APT_LINE}")
        return 2
    sizes = QUICK_SIZES if args.quick else SetSizes()
    ensure_set(args.out, args.seed, tuple(args.instruments), sizes, args.soundfont or default_soundfont(), args.acid)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

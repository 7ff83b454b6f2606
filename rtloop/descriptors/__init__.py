"""Per-aspect loop descriptors: fixed-length feature vectors for rhythm, harmony, timbre and integrity.

The same numpy code runs offline (training, scoring files) and live (the daemon), a few milliseconds
per loop. Every feature is documented in docs/descriptors.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from rtloop.descriptors import harmony, integrity, rhythm, timbre
from rtloop.descriptors.samples import gather
from rtloop.descriptors.spectra import analyse, analyse_pitch
from rtloop.errors import AudioError

if TYPE_CHECKING:
    from rtloop.grid import Grid

ASPECTS: tuple[str, ...] = ("rhythm", "harmony", "timbre", "integrity")
# Raised whenever a feature's values change (not only its name): a bundle records the version its
# detectors were trained on, and is refused by an rtloop whose descriptors differ. 2: the rhythm grid
# is realigned to the onsets by up to 40 ms. 3: integrity measures hiss above the 16 kHz analysis. 4: integrity
# measures each register's movement and the floor of four top bands. 5: integrity finds snippets repeated
# reversed (ping-pong).
VERSION = 5

_NAMES = {"rhythm": rhythm.NAMES, "harmony": harmony.NAMES, "timbre": timbre.NAMES, "integrity": integrity.NAMES}
# Bound on any feature's magnitude; the features are built to stay far inside it.
_LIMIT = 1e6


def feature_names() -> dict[str, list[str]]:
    """The name of every feature, per aspect, in the order ``describe`` returns them."""
    return {aspect: list(_NAMES[aspect]) for aspect in ASPECTS}


def fault_signs() -> dict[str, tuple[int, ...]]:
    """The aspects whose features each measure a fault, with the way a fault moves each feature (+1 up,
    -1 down), in feature order: integrity only. The other aspects' features may stray either way."""
    return {"integrity": integrity.FAULT_SIGNS}


def describe(wave: np.ndarray, sample_rate: int, grid: Grid) -> dict[str, np.ndarray]:
    """Describe one loop per aspect against its grid.

    Args:
        wave: mono audio, any level and length (0.25 s .. 30 s is the intended range); non-finite
            samples count as silence.
        sample_rate: its sample rate in Hz.
        grid: the loop's tempo and bars (from the clock live, see :func:`rtloop.grid.grid_for_file` offline).

    Returns:
        For each aspect in ASPECTS, a float32 vector of fixed length (``len(feature_names()[aspect])``),
        always finite, the same for the same input.

    Raises:
        AudioError: if ``wave`` is not one-dimensional (mix channels down first).
        ValueError: if ``sample_rate`` is not positive.
    """
    if sample_rate <= 0:
        raise ValueError(f"sample rate must be positive, got {sample_rate}")
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1:
        raise AudioError(f"describe() takes mono audio (one dimension), got shape {wave.shape}")
    wave = np.nan_to_num(wave, nan=0.0, posinf=0.0, neginf=0.0)
    spectra = analyse(wave, sample_rate)
    pitch = analyse_pitch(spectra.x)
    samples = gather(wave, sample_rate)
    vectors = {
        "rhythm": rhythm.features(spectra, grid),
        "harmony": harmony.features(pitch, grid, spectra.seconds),
        "timbre": timbre.features(spectra, pitch, samples),
        "integrity": integrity.features(spectra, samples, grid),
    }
    # A last guard: each feature is built finite, but a NaN must never reach a detector.
    return {
        aspect: np.clip(np.nan_to_num(vectors[aspect], nan=0.0), -_LIMIT, _LIMIT).astype(np.float32)
        for aspect in ASPECTS
    }

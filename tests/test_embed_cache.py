"""Training's embedding cache: entries are written whole, and one that cannot be read is embedded again."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from export.embed import Embedder  # noqa: E402
from rtloop.frontend import FrontEndConfig  # noqa: E402
from rtloop.synth import write_loop_set  # noqa: E402


def test_a_damaged_cache_entry_is_embedded_again_and_rewritten(tmp_path: Path) -> None:
    paths = write_loop_set(tmp_path / "loops", 2, seed=3)
    calls: list[int] = []

    def embed(waves: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:  # a stand-in encoder: counts loops
        calls.append(len(waves))
        return np.ones((len(waves), 4), np.float32), np.full((len(waves), 3), 0.5, np.float32)

    def embedder() -> Embedder:
        return Embedder(embed, FrontEndConfig(), "stand-in", tmp_path / "cache")

    assert embedder().embed_files(paths).cached == 0
    entries = sorted((tmp_path / "cache").glob("embeddings/*/*.npz"))
    assert len(entries) == 2, "one entry per loop, no partial files left"
    entries[0].write_bytes(entries[0].read_bytes()[:100])  # what a crash mid-write used to leave
    again = embedder().embed_files(paths)
    assert again.cached == 1 and calls == [2, 1]
    np.testing.assert_array_equal(again.features("latent"), np.ones((2, 4), np.float32))
    assert embedder().embed_files(paths).cached == 2 and calls == [2, 1], "the damaged entry was rewritten"


@pytest.mark.parametrize("damage", ["empty", "npy", "nan", "seconds", "2-d", "other widths"])
def test_a_cache_entry_that_is_not_what_training_writes_is_embedded_again(tmp_path: Path, damage: str) -> None:
    """An entry left empty by a power cut, a plain .npy, NaN, a bad duration, or arrays of other widths: each
    was a traceback (EOFError, TypeError, a calibration without a finite score, a failed stack)."""
    paths = write_loop_set(tmp_path / "loops", 3, seed=4)
    calls: list[int] = []

    def embed(waves: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        calls.append(len(waves))
        return np.ones((len(waves), 4), np.float32), np.full((len(waves), 3), 0.5, np.float32)

    def embedder() -> Embedder:
        return Embedder(embed, FrontEndConfig(), "stand-in", tmp_path / "cache")

    embedder().embed_files(paths)
    entry = sorted((tmp_path / "cache").glob("embeddings/*/*.npz"))[0]
    good = {"latent": np.ones(4, np.float32), "embedding": np.full(3, 0.5, np.float32), "seconds": 2.0}
    if damage == "empty":
        entry.write_bytes(b"")
    elif damage == "npy":
        with entry.open("wb") as fh:
            np.save(fh, np.ones(4, np.float32))
    else:
        edits = {
            "nan": {"latent": np.full(4, np.nan, np.float32)},
            "seconds": {"seconds": -1.0},
            "2-d": {"embedding": np.full((1, 3), 0.5, np.float32)},
            "other widths": {"latent": np.ones(5, np.float32), "embedding": np.ones(2, np.float32)},
        }[damage]
        with entry.open("wb") as fh:
            np.savez(fh, **(good | edits))
    for _ in range(2):  # all cached but one: its widths are told from the others' too
        again = embedder().embed_files(paths)
        np.testing.assert_array_equal(again.features("latent"), np.ones((3, 4), np.float32))
        assert again.features("embedding").shape == (3, 3) and again.durations == [2.0] * 3
    assert calls == [3, 1] and again.cached == 3, "embedded once again, and the entry rewritten"

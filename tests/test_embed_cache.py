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

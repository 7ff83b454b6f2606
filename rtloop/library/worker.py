"""One scan worker: reads files once (hash and decode from the same bytes) and scores them in batches.

The same class runs in a local process pool and inside a Ray actor; it holds one ONNX Runtime session.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rtloop.audio_io import read_audio
from rtloop.bundle import load_bundle
from rtloop.errors import AudioError
from rtloop.grid import Grid, grid_for_file
from rtloop.library.db import LoopResult
from rtloop.scorer import Scorer


@dataclass(frozen=True)
class Task:
    """A file to read: its path and the content hash stored for it (None: never scored)."""

    path: str
    known_sha256: str | None


def decode(data: bytes, sample_rate: int) -> tuple[np.ndarray, float]:
    """Audio file bytes -> (mono float32 at ``sample_rate``, duration of the file in seconds), with the checks
    of :func:`rtloop.audio_io.load_audio` (its header's rate, channels and length first).

    Raises:
        AudioError: unreadable, corrupt, truncated, out of bounds, empty, silent, non-finite or too short.
    """
    return read_audio(io.BytesIO(data), sample_rate)


class ScanWorker:
    """Scores batches of files with one bundle.

    Args:
        bundle_path: the bundle directory (loaded and hash-checked here).
        providers: onnxruntime execution providers (default: CUDA if present, else CPU).
        threads: intra-op threads of the session (1 in a pool: the pool uses the cores).
    """

    def __init__(self, bundle_path: str, providers: list[str] | None = None, threads: int = 1) -> None:
        self.bundle = load_bundle(Path(bundle_path))
        self.scorer = Scorer(self.bundle, providers=providers, threads=threads)
        self.sample_rate = self.bundle.frontend.sample_rate

    def run(self, tasks: list[Task]) -> list[LoopResult]:
        """Read, hash and score a batch; every task yields exactly one result."""
        results: dict[int, LoopResult] = {}
        waves: list[tuple[int, str, np.ndarray, float]] = []
        for k, task in enumerate(tasks):
            try:
                data = Path(task.path).read_bytes()
            except OSError as exc:
                results[k] = LoopResult(task.path, None, reason=f"cannot read: {exc.strerror or exc}")
                continue
            digest = hashlib.sha256(data).hexdigest()
            if digest == task.known_sha256:
                results[k] = LoopResult(task.path, digest, unchanged=True)
                continue
            try:
                wave, duration = decode(data, self.sample_rate)
            except AudioError as exc:
                results[k] = LoopResult(task.path, digest, reason=str(exc))
                continue
            waves.append((k, digest, wave, duration))
        if waves:
            results.update(self._score(tasks, waves))
        return [results[k] for k in range(len(tasks))]

    def _score(self, tasks: list[Task], waves: list[tuple[int, str, np.ndarray, float]]) -> dict[int, LoopResult]:
        grids: list[Grid | None] = [grid_for_file(Path(tasks[k].path), w, self.sample_rate) for k, _, w, _ in waves]
        scores = self.scorer.score([w for _, _, w, _ in waves], grids)
        aspects, aspect_raw = scores.aspects, scores.aspect_raw
        out = {}
        for i, (k, digest, _, duration) in enumerate(waves):
            out[k] = LoopResult(
                path=tasks[k].path,
                sha256=digest,
                duration=float(duration),
                raw=float(scores.raw[i]),
                variation=float(scores.variation[i]),
                flagged=bool(scores.flagged[i]),
                grid_source=scores.grids[i].source.value if scores.grids else None,
                aspects=tuple(
                    (name, float(values[i]), float(aspect_raw[name][i]) if name in aspect_raw else None)
                    for name, values in aspects.items()
                ),
                embedding=np.asarray(scores.embedding[i], dtype=np.float32).tobytes(),
            )
        return out

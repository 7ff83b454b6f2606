"""One scan worker: hashes and decodes each file from one open handle and scores them in batches.

The same class runs in a local process pool and inside a Ray actor; it holds one ONNX Runtime session.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rtloop.audio_io import open_regular, read_audio
from rtloop.bundle import load_bundle, sha256_stream
from rtloop.errors import AudioError
from rtloop.grid import Grid
from rtloop.library.db import LoopResult
from rtloop.scorer import Scorer


@dataclass(frozen=True)
class Task:
    """A file to read: its path and the content hash stored for it (None: never scored)."""

    path: str
    known_sha256: str | None


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
            read = self._read(task)
            if isinstance(read, LoopResult):
                results[k] = read
            else:
                waves.append((k, *read))
        if waves:
            results.update(self._score(tasks, waves))
        return [results[k] for k in range(len(tasks))]

    def _read(self, task: Task) -> LoopResult | tuple[str, np.ndarray, float]:
        """(content hash, audio, duration) of a file to score, or its result: unchanged or unreadable.

        The file is hashed and then decoded from one open handle, a block at a time, so a file of any size
        costs only its decoded audio, and one its header refuses (too long, a bogus rate) not even that.
        """
        digest = None
        try:
            with os.fdopen(open_regular(Path(task.path)), "rb") as fh:
                digest = sha256_stream(fh)
                if digest == task.known_sha256:
                    return LoopResult(task.path, digest, unchanged=True)
                fh.seek(0)
                wave, duration = read_audio(fh, self.sample_rate)
        except OSError as exc:
            return LoopResult(task.path, digest, reason=f"cannot read: {exc.strerror or exc}")
        except AudioError as exc:
            return LoopResult(task.path, digest, reason=str(exc))
        return digest, wave, duration

    def _score(self, tasks: list[Task], waves: list[tuple[int, str, np.ndarray, float]]) -> dict[int, LoopResult]:
        trained = self.bundle.grid_options  # loops are cut as the bundle's training loops were
        grids: list[Grid | None] = [trained.grid(Path(tasks[k].path), w, self.sample_rate) for k, _, w, _ in waves]
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

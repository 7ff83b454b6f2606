"""Training's embeddings on every core: worker processes, each running the shipped encoder graph alone.

One onnxruntime session with two threads leaves cores idle: the numpy front-end runs on one, and the
graph's many small operators between its matrix products parallelise poorly. Two processes with one
thread each keep both cores busy: ``bench/embed_speed.py`` times both beside laion-clap (README,
Numbers: on the 2-core AMD EPYC, 1.15x with 2 s loops, fp32 and int8 alike; with 4 s loops within the
noise). A worker takes a moment to start (its imports, then a session of the graph), so the pool starts
only when a loop needs embedding.

Every loop runs alone, in a worker or in this process alike, so the same loop always gets the same
features, whatever ``jobs`` is: one-loop runs are bit-identical at any thread count.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING

import numpy as np

from rtloop.cores import usable_cores
from rtloop.errors import RtloopError
from rtloop.frontend import FrontEndConfig
from rtloop.resources import Closing
from rtloop.worker_processes import become_worker, sigint_blocked

if TYPE_CHECKING:
    import onnxruntime as ort

    from export.encoder_graph import EncoderGraph

_SESSION: ort.InferenceSession | None = None
_FRONTEND: FrontEndConfig | None = None


def _init_worker(graph: str, frontend: dict) -> None:
    """Worker process: a one-thread session of the graph file ``graph`` (the trainer's own, in its work
    folder), flushing denormals on this, its only, thread."""
    become_worker()  # Ctrl-C reaches the whole group: the trainer stops us, or we end when it has gone
    import onnxruntime as ort

    from rtloop.session_options import flush_denormals_in_this_process, session_options

    global _SESSION, _FRONTEND
    flush_denormals_in_this_process()
    _SESSION = ort.InferenceSession(graph, session_options(threads=1), providers=["CPUExecutionProvider"])
    _FRONTEND = FrontEndConfig.from_dict(frontend)


def _embed_one(wave: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Worker process: (latent, embedding) of one loop, each of shape (dim,)."""
    from rtloop.scorer import run_encoder

    assert _SESSION is not None and _FRONTEND is not None, "worker process not initialised"
    latent, embedding = run_encoder(_SESSION, [wave], _FRONTEND, one_loop_per_run=True)
    return latent[0], embedding[0]


class EmbedWorkers(Closing):
    """``graph.embed`` spread over ``jobs`` worker processes (0: one per core; 1: this process only).

    Use as a context manager: closing stops the workers. ``batch_size`` is how many loops to hand
    :meth:`embed` at a time to keep every worker busy. The workers ignore Ctrl-C, and end if this process
    is killed (see :mod:`rtloop.worker_processes`).
    """

    def __init__(self, graph: EncoderGraph, jobs: int = 0) -> None:
        self.graph = graph
        self.jobs = jobs or usable_cores()
        self._pool: ProcessPoolExecutor | None = None

    def embed(self, waves: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(latent, embedding) of waveforms, stacked in their order, as ``graph.embed`` computes them.

        Raises:
            RtloopError: a worker process died (out of memory, or killed).
        """
        if self.jobs == 1 or len(waves) == 0:
            return self.graph.embed(waves)
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.jobs,
                mp_context=multiprocessing.get_context("spawn"),  # no fork of a process holding threads
                initializer=_init_worker,
                initargs=(str(self.graph.shipped), self.graph.frontend.to_dict()),
            )
        try:
            with sigint_blocked():  # map submits every loop at once: any worker not yet started starts here
                results = self._pool.map(_embed_one, waves)
            pairs = list(results)
        except BrokenProcessPool as exc:
            raise RtloopError(
                "an embedding worker process died (out of memory, killed, or it could not load the encoder graph)"
            ) from exc
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])

    @property
    def batch_size(self) -> int:
        """Loops per :meth:`embed` call that keep every worker busy: four each, and at least 8."""
        return max(8, 4 * self.jobs)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

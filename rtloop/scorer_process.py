"""Scoring in a child process, so the front-end and ONNX Runtime never hold the audio callback's GIL.

numpy's FFT and friends keep the GIL for milliseconds; in the capture process that delays the audio
callback past a 256-frame JACK period (an xrun). The child does all numeric work at a lower CPU
priority; the parent only copies audio out of the ring and waits on a pipe (which releases the GIL).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

from rtloop.bundle import Bundle, load_bundle
from rtloop.errors import BundleError, RtloopError
from rtloop.scorer import Scorer, Scores

CHILD_NICE = 10
START_TIMEOUT = 120.0


def _serve(conn: Connection, bundle_path: str, providers: list[str] | None, threads: int) -> None:
    """Child process: load the bundle, warm up, then answer ``list[waveform] -> Scores`` requests."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the parent closes us
    try:
        os.nice(CHILD_NICE)
    except (AttributeError, OSError):
        pass
    try:
        scorer = Scorer(load_bundle(Path(bundle_path)), providers, threads)
        scorer.warm_up()
    except RtloopError as exc:
        conn.send(("error", str(exc)))
        return
    conn.send(("ready", scorer.providers))
    while True:
        try:
            waves = conn.recv()
        except EOFError:
            return
        if waves is None:
            return
        try:
            conn.send(("ok", scorer.score(waves)))
        except RtloopError as exc:
            conn.send(("error", str(exc)))


class ScorerProcess:
    """A :class:`~rtloop.scorer.Scorer` running in a child process, with the same ``score`` call.

    Raises:
        BundleError: the child could not load the bundle or its graphs.
    """

    def __init__(self, bundle: Bundle, providers: list[str] | None = None, threads: int = 1) -> None:
        self.bundle = bundle
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child, str(bundle.path), providers, threads), name="rtloop-scorer", daemon=True
        )
        self._process.start()
        child.close()
        if not self._conn.poll(START_TIMEOUT):
            self.close()
            raise BundleError("the scoring process did not start in time")
        kind, payload = self._conn.recv()
        if kind != "ready":
            self.close()
            raise BundleError(payload)
        self.providers: list[str] = payload

    def score(self, waves: list[np.ndarray]) -> Scores:
        """Score mono waveforms at the bundle's rate (blocks this thread, not the GIL)."""
        self._conn.send(waves)
        kind, payload = self._conn.recv()
        if kind != "ok":
            raise RtloopError(payload)
        return payload  # type: ignore[no-any-return]

    def warm_up(self) -> None:
        """The child warms up before it reports ready."""

    def close(self) -> None:
        """Stop the child."""
        try:
            self._conn.send(None)
        except (OSError, ValueError):
            pass
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
        self._conn.close()

"""Scoring in a supervised child process, so the front-end and ONNX Runtime never hold the audio
callback's GIL, and a scorer that dies or hangs can be replaced without stopping the run.

numpy's FFT and friends keep the GIL for milliseconds; in the capture process that delays the audio
callback past a 256-frame JACK period (an xrun). The child does all numeric work at a lower CPU
priority; the parent hands it audio and collects answers without waiting for them.
"""

from __future__ import annotations

import enum
import multiprocessing
import os
import signal
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rtloop.bundle import Bundle, load_bundle
from rtloop.errors import BundleError, RtloopError
from rtloop.grid import Grid
from rtloop.heap import return_free_memory
from rtloop.pages import no_huge_pages_in_this_process
from rtloop.resources import Closing
from rtloop.scores import AspectScores, Scores
from rtloop.wave_handoff import WaveReceiver, WaveSender

if TYPE_CHECKING:
    from rtloop.scorer import Scorer

CHILD_NICE = 10
START_TIMEOUT = 120.0
REPLY_TIMEOUT = 30.0  # one loop takes ~0.2 s on two idle CPU cores; a child silent this long is stuck
STOPPED_GRACE = 1.0  # a child stopped (SIGSTOP, a debugger) this long counts as failed at once


class ScorerFailed(RtloopError, RuntimeError):
    """The scoring process died, hung, or could not start: it has to be restarted."""


class ScoreError(RtloopError, ValueError):
    """The scoring process could not score one request (the process itself is fine)."""


def _serve(conn: Connection, bundle_path: str, providers: list[str] | None, threads: int) -> None:
    """Child process: load the bundle, warm up, then answer each ``(segment, lengths, grids, windows)``
    request (the waves are in shared memory, see :mod:`rtloop.wave_handoff`) with its descriptor aspects
    (:class:`AspectScores`, bundles with aspects) and then its :class:`Scores`."""
    from rtloop.scorer import Scorer  # onnxruntime: loaded in this process only
    from rtloop.session_options import flush_denormals_in_this_process

    flush_denormals_in_this_process()
    no_huge_pages_in_this_process()  # its faults and khugepaged's copies would stall JACK's threads

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
    return_free_memory()  # the bundle's graphs, read twice, and the self-test's buffers
    conn.send(("ready", scorer.providers))
    with WaveReceiver() as receiver:
        _answer_requests(conn, scorer, receiver)


def _answer_requests(conn: Connection, scorer: Scorer, receiver: WaveReceiver) -> None:
    """Child process: answer requests until the parent says stop (None) or goes away."""
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        if request is None:
            return
        segment, lengths, grids, windows = request
        try:
            waves = receiver.take(segment, lengths)
            aspects = scorer.score_aspects(waves, grids, windows)
            if aspects is not None:
                conn.send(("aspects", aspects))
            conn.send(("ok", scorer.score(waves, grids, windows, aspects)))
        except Exception as exc:  # onnxruntime and numpy raise their own types: one bad loop, not a dead child
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


def _is_stopped(pid: int | None) -> bool:
    """True if the process is stopped (state T or t in /proc on Linux; elsewhere never known)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :][:1] in ("T", "t")


class _State(enum.Enum):
    STARTING = "starting"
    READY = "ready"
    BUSY = "busy"


class ScorerProcess(Closing):
    """A :class:`~rtloop.scorer.Scorer` in a child process: ``submit`` a request, ``poll`` for its
    answer, ``restart`` the child when it fails. One request at a time.

    Args:
        bundle: the bundle to score with (the child loads and hash-checks it again).
        providers: onnxruntime execution providers (None: CUDA if present, else CPU).
        threads: intra-op threads of the child.
        reply_timeout: seconds a request may take before the child counts as hung.

    Raises:
        BundleError: the first child could not load the bundle or its graphs.
    """

    def __init__(
        self,
        bundle: Bundle,
        providers: list[str] | None = None,
        threads: int = 1,
        reply_timeout: float = REPLY_TIMEOUT,
    ) -> None:
        self.bundle = bundle
        self.reply_timeout = reply_timeout
        self._args = (str(bundle.path), providers, threads)
        self._context = multiprocessing.get_context("spawn")
        self._waves = WaveSender()
        self._spawn()
        try:
            self._wait_ready()
        except ScorerFailed as exc:
            self.close()
            raise BundleError(str(exc)) from None

    def _spawn(self) -> None:
        self._conn, child = self._context.Pipe()
        self._process: Any = self._context.Process(
            target=_serve, args=(child, *self._args), name="rtloop-scorer", daemon=True
        )
        self._process.start()
        child.close()
        self._state, self._since = _State.STARTING, time.monotonic()
        self.providers: list[str] = []

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while self._state is _State.STARTING:
            if time.monotonic() > deadline:
                raise ScorerFailed("the scoring process did not start in time")
            self.poll(time.monotonic())
            time.sleep(0.01)

    @property
    def ready(self) -> bool:
        """True when a request can be submitted."""
        return self._state is _State.READY

    @property
    def pid(self) -> int | None:
        """The child's process id (for supervision tests and diagnostics)."""
        return self._process.pid  # type: ignore[no-any-return]

    def submit(self, waves: list[np.ndarray], grids: list[Grid | None] | None = None, windows: bool = False) -> None:
        """Hand mono waveforms at the bundle's rate, with their grids (see :meth:`Scorer.score`), to
        the child; the answer comes from :meth:`poll`.

        Never blocks: the waves go into shared memory, and the short request naming them fits the
        pipe's buffer even when the child is stopped or hung (its failure shows in :meth:`poll`).

        Raises:
            RuntimeError: a request is already under way, or the child is still starting.
            AudioError: a wave is not mono.
            ScorerFailed: the child is gone.
        """
        if self._state is not _State.READY:
            raise RuntimeError(f"the scorer is {self._state.value}, not ready")
        segment, lengths = self._waves.put(waves)
        try:
            self._conn.send((segment, lengths, grids, windows))
        except (OSError, ValueError) as exc:
            raise ScorerFailed(f"the scoring process is gone ({exc})") from exc
        self._state, self._since = _State.BUSY, time.monotonic()

    def poll(self, now: float) -> Scores | AspectScores | None:
        """The next answer to the submitted request if one has arrived, else None: first the loop's
        descriptor aspects (bundles with aspects; the request is still under way), then its scores.

        Raises:
            ScorerFailed: the child died, hung longer than its timeout, or failed to start.
            ScoreError: the child could not score this request (it is ready for the next).
        """
        if self._state is _State.READY:
            return None
        try:
            arrived = self._conn.poll()
            message = self._conn.recv() if arrived else None
        except (EOFError, OSError) as exc:
            self._process.join(timeout=1.0)  # its pipe closed: it is exiting, and its exit status says how
            raise ScorerFailed(f"the scoring process died ({self._exit_reason()})") from exc
        if message is None:
            limit = START_TIMEOUT if self._state is _State.STARTING else self.reply_timeout
            if now - self._since > limit:
                raise ScorerFailed(f"the scoring process did not answer for {limit:g} s ({self._exit_reason()})")
            if now - self._since > STOPPED_GRACE and _is_stopped(self._process.pid):
                raise ScorerFailed("the scoring process is stopped (SIGSTOP or a debugger)")
            return None
        kind, payload = message
        if self._state is _State.STARTING:
            if kind != "ready":
                raise ScorerFailed(str(payload))
            self._state, self.providers = _State.READY, payload
            return None
        if kind == "aspects":
            return payload  # type: ignore[no-any-return]
        self._state = _State.READY
        if kind != "ok":
            raise ScoreError(str(payload))
        return payload  # type: ignore[no-any-return]

    def wait(self, timeout: float) -> None:
        """Sleep up to ``timeout`` seconds, waking as soon as an answer (or the child's end) arrives."""
        if self._state is _State.READY or self._conn.closed:
            time.sleep(timeout)
            return
        try:
            self._conn.poll(timeout)
        except OSError:
            time.sleep(timeout)  # the pipe broke: the next poll() says so

    def _exit_reason(self) -> str:
        code = self._process.exitcode
        if code is None:
            return "still running: stopped or hung"
        if code < 0:
            return f"killed by {signal.Signals(-code).name}"
        return f"exit status {code}"

    def score(self, waves: list[np.ndarray], grids: list[Grid | None] | None = None) -> Scores:
        """Score mono waveforms and wait for the answer (offline use and warm-up; the daemon polls).

        Raises:
            ScorerFailed: the child died or hung.
            ScoreError: the child could not score them.
        """
        self.submit(waves, grids)
        while not isinstance(answer := self.poll(time.monotonic()), Scores):
            if answer is None:
                self._conn.poll(0.05)
        return answer

    def restart(self) -> None:
        """Kill the child (whatever state it is in: a stopped process dies on SIGKILL too) and start
        a new one; :attr:`ready` turns true once it has loaded the bundle and warmed up."""
        self._kill()
        self._spawn()

    def _kill(self) -> None:
        if self._process.is_alive():
            self._process.kill()
        self._process.join(timeout=5)
        self._conn.close()

    def close(self) -> None:
        """Stop the child: politely if it is idle, by SIGKILL otherwise; free the shared memory."""
        if not self._conn.closed:
            if self._state is _State.READY:
                try:
                    self._conn.send(None)
                except (OSError, ValueError):
                    pass
                self._process.join(timeout=5)
            self._kill()
        self._waves.close()

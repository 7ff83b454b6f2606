"""The live worker: clock events -> bar windows -> audio from the ring -> scoring child -> reporter.

One thread runs :meth:`Daemon.run`; it never blocks on anything but a short poll interval: the
scoring child answers asynchronously, a lost audio input or clock is retried with back-off, and a
scoring child that dies or hangs is restarted, so control messages and the heartbeat go on whatever
fails.
"""

from __future__ import annotations

import collections
import logging
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from rtloop.audio_input import AudioSource
from rtloop.audio_io import SILENCE_PEAK, resample
from rtloop.backoff import Backoff
from rtloop.bundle import Bundle
from rtloop.clock import ClockEvent, EventKind
from rtloop.clocks import Clock
from rtloop.errors import RtloopError
from rtloop.grid import Grid, GridSource
from rtloop.osc_spec import BARS_RANGE, Status
from rtloop.reporter import Reporter
from rtloop.results import LoopResult, Summary
from rtloop.ring import ReadStatus
from rtloop.scorer_process import ScoreError, ScorerFailed
from rtloop.scores import AspectScores, Scores
from rtloop.segmenter import Segmenter, Skip, Window
from rtloop.wakeup import Wakeup

log = logging.getLogger(__name__)
# The audio callback needs the GIL; the worker loop (it polls and copies; scoring runs in a child
# process) may hold it for up to the switch interval: 5 ms by default, about one JACK period at 256
# frames. Asking for it back after 0.5 ms keeps the callback on time.
SWITCH_INTERVAL = 0.0005
RESTARTS_ALLOWED = 3  # scoring-child restarts within RESTART_WINDOW; one more ends the run
RESTART_WINDOW = 60.0


class LoopScorer(Protocol):
    """What the daemon needs of a scorer: :class:`~rtloop.scorer_process.ScorerProcess`."""

    bundle: Bundle
    ready: bool

    def submit(self, waves: list[np.ndarray], grids: list[Grid | None], windows: bool = False) -> None: ...

    def poll(self, now: float) -> Scores | AspectScores | None: ...

    def wait(self, timeout: float) -> None: ...

    def restart(self) -> None: ...


class RunEnded(RtloopError):
    """Something failed that the daemon cannot recover from; the message is the run's reason."""


@dataclass
class _InFlight:
    """A window handed to the scorer, with its audio (for takes), and what was already sent of it."""

    window: Window
    audio: np.ndarray
    aspects_sent: tuple[str, ...] = ()
    aspects_latency_ms: float | None = None


class Daemon:
    """Runs the live path until ``stop`` is set, the audio runs out, or something fails for good.

    Args:
        scorer: the scoring child (ready).
        audio: an audio source, started by :meth:`run`.
        clock: where bars (or clock-free windows) come from.
        segmenter: window length, hop, latency compensation.
        reporter: OSC, terminal, takes and the summary.
        control: queues of (address, value) control requests, e.g. the OSC control server's and the
            terminal's; the daemon drains them.
        beats_per_bar: of the clock's bars (for the longest window the ring holds).
    """

    def __init__(
        self,
        scorer: LoopScorer,
        audio: AudioSource,
        clock: Clock,
        segmenter: Segmenter,
        reporter: Reporter,
        control: tuple[collections.deque[tuple[str, Any]], ...] = (),
        beats_per_bar: int = 4,
    ) -> None:
        self.scorer = scorer
        self.audio = audio
        self.clock = clock
        self.segmenter = segmenter
        self.reporter = reporter
        self.requests: collections.deque[tuple[str, Any]] = collections.deque(maxlen=64)
        self.control = (self.requests, *control)
        self.armed = True
        self.bpm = 0.0  # tempo of the last bar, for /bars limits
        self.beats_per_bar = beats_per_bar
        self._pending: collections.deque[Window] = collections.deque()
        self._in_flight: _InFlight | None = None
        self._restarts: collections.deque[float] = collections.deque()
        self._state_before_restart = Status.RUNNING
        self._audio_backoff = Backoff(1.0, 30.0)
        self._clock_drained = False  # the clock was polled once more after replayed audio ran out
        self._audio_lost_at = 0.0
        self._model_rate = scorer.bundle.frontend.sample_rate
        self._wakeup = Wakeup()

    @property
    def summary(self) -> Summary:
        return self.reporter.summary

    # clock -------------------------------------------------------------------------------------
    def _running_state(self) -> Status:
        return Status.RUNNING if self.armed else Status.DISARMED

    def _on_event(self, event: ClockEvent) -> None:
        kind = event.kind
        if kind is EventKind.BAR:
            frame = event.frame if event.frame is not None else self.audio.frame_at(event.time)
            if event.bpm <= 0:  # no plausible tempo (clock starting, burst, absurd rate): no window spans it
                self.segmenter.reset()
                self._wakeup.reset()
            else:
                self._wakeup.boundary(frame)
            self.bpm = event.bpm or self.bpm
            self._queue(self.segmenter.boundary(event.bar, frame, event.bpm))
            if self.reporter.state is Status.WAITING_FOR_CLOCK:
                self.reporter.set_state(self._running_state())
        elif kind is EventKind.WINDOW:
            self._wakeup.boundary(event.frame or 0)
            self._queue(self.segmenter.window(event.bar, event.frame or 0))
        else:
            self.segmenter.reset()
            self._wakeup.reset()
            if kind in (EventKind.START, EventKind.CONTINUE):
                self.reporter.set_state(self._running_state())
            elif kind is EventKind.STOP:
                self.reporter.set_state(Status.STOPPED)
            elif kind is EventKind.LOST:
                self.reporter.set_state(Status.CLOCK_LOST)

    def _queue(self, result: Window | Skip | None) -> None:
        if isinstance(result, Skip):
            self.reporter.skipped(result.last_bar, result.reason)
        elif result is not None:
            if self.armed:
                self._pending.append(result)
            else:
                self.reporter.skipped(result.last_bar, "disarmed")

    # control -----------------------------------------------------------------------------------
    def _poll_control(self) -> None:
        for queue in self.control:
            while queue:
                self.command(*queue.popleft())

    def command(self, name: str, value: Any = None) -> None:
        """Carry out one control request (OSC control, or the terminal); bad values are refused with
        one line saying why."""
        if name == "/ping":
            self.reporter.pong()
        elif name == "/arm":
            if value not in (0, 1) or isinstance(value, float):
                log.warning("ignored /arm %r: expects 0 or 1", value)
                return
            self.armed = bool(value)
            if self.reporter.state in (Status.RUNNING, Status.DISARMED):
                self.reporter.set_state(self._running_state())
        elif name == "/mark":
            self.mark()
        elif name == "/bars":
            self._set_bars(value)

    def _set_bars(self, value: Any) -> None:
        if self.segmenter.window_frames is not None:
            log.warning("ignored /bars: clock-free windows (--window) have no bars")
            return
        if not isinstance(value, int) or isinstance(value, bool) or not BARS_RANGE[0] <= value <= BARS_RANGE[1]:
            log.warning("ignored /bars %r: expects an integer %d..%d", value, *BARS_RANGE)
            return
        fits = self.max_bars()
        if value > fits:
            log.warning("ignored /bars %d: at %.0f bpm the audio buffer holds %d bars", value, self.bpm, fits)
            return
        self.segmenter.configure(value)
        self.reporter.say(f"window: {value} bar(s)")

    def max_bars(self) -> int:
        """The longest window, in bars, the audio ring holds at the current tempo (the spec's limit
        while the tempo is unknown)."""
        if self.bpm <= 0 or self.segmenter.max_frames is None:
            return BARS_RANGE[1]
        bar_frames = self.audio.sample_rate * 60.0 / self.bpm * self.beats_per_bar
        return max(1, min(BARS_RANGE[1], int(self.segmenter.max_frames // bar_frames)))

    def mark(self) -> None:
        """Keep the last scored loop as a take and log the mark (OSC /mark, or Enter in the terminal)."""
        if self.reporter.takes is None:
            self.reporter.say("mark ignored: no --takes folder")
            return
        if self.summary.scored == 0:
            self.reporter.say("mark ignored: no loop scored yet")
            return
        self.reporter.takes.mark()
        self.reporter.say("marked the last loop")

    # scoring -----------------------------------------------------------------------------------
    def _submit_ready(self) -> None:
        """Hand the oldest window whose audio is in the ring to the scorer (one at a time)."""
        while self._pending:
            window = self._pending[0]
            if window.start < 0:
                self._pending.popleft()
                self.reporter.skipped(window.last_bar, "window starts before the audio did")
                continue
            if window.end > self.audio.ring.written:  # checked every poll: no buffer until it is due
                return
            if not self.scorer.ready:
                if self._in_flight is None:  # the scoring child is restarting: do not let bars pile up
                    self._pending.popleft()
                    self.reporter.skipped(window.last_bar, "scoring process restarting")
                    continue
                return
            self._pending.popleft()
            if self.audio.realtime and self._pending and self._pending[0].end <= self.audio.ring.written:
                self.reporter.skipped(window.last_bar, "overrun: the scorer fell behind, a newer window is ready")
                continue
            audio = np.empty(window.end - window.start, dtype=np.float32)
            status = self.audio.ring.read(window.start, audio)
            if status is ReadStatus.OVERWRITTEN:
                self.reporter.skipped(window.last_bar, "audio overwritten before it was scored")
            elif window.start <= self.audio.last_xrun_frame < window.end:
                self.reporter.skipped(window.last_bar, "input overflow (xrun) inside the window")
            elif not np.all(np.isfinite(audio)):
                self.reporter.skipped(window.last_bar, "NaN/Inf in the input audio")
            elif float(np.max(np.abs(audio))) < SILENCE_PEAK:
                self.reporter.skipped(window.last_bar, "silent input (peak below -100 dBFS)")
            else:
                self._in_flight = _InFlight(window, audio)
                wave = resample(audio, self.audio.sample_rate, self._model_rate)
                try:
                    self.scorer.submit([wave], [self._grid(window)], windows=self.segmenter.window_frames is not None)
                except ScorerFailed as exc:
                    self._fail_in_flight(f"scoring process failed: {exc}")
                    self._restart_scorer(str(exc), time.monotonic())
                return

    def _grid(self, window: Window) -> Grid | None:
        """The window's grid from the clock (its tempo and the window's bars), or None where the clock
        gives no tempo (clock-free windows, a clock still starting): the scorer then estimates it."""
        if window.bpm <= 0:
            return None
        return Grid(window.bpm, self.beats_per_bar, self.segmenter.bars, GridSource.CLOCK)

    def _collect(self, now: float) -> None:
        """Report the scorer's answers that have come (a loop's descriptor aspects, then the whole
        loop); restart a scorer that died or hung."""
        while (answer := self._poll_scorer(now)) is not None and (flight := self._in_flight) is not None:
            latency_ms = (time.monotonic() - self.audio.time_at(flight.window.end)) * 1000.0
            if isinstance(answer, AspectScores):
                flight.aspects_sent, flight.aspects_latency_ms = tuple(answer.variation), latency_ms
                self.reporter.aspects_scored({name: float(values[0]) for name, values in answer.variation.items()})
                continue
            self._in_flight = None
            result = loop_result(flight.window, answer, latency_ms, flight.aspects_latency_ms)
            self.reporter.scored(result, flight.audio, flight.aspects_sent)
        if self.reporter.state is Status.SCORER_RESTARTING and self.scorer.ready:
            self.reporter.say("scoring process ready again")
            before = self._state_before_restart
            self.reporter.set_state(self._running_state() if before in (Status.RUNNING, Status.DISARMED) else before)

    def _poll_scorer(self, now: float) -> Scores | AspectScores | None:
        """The scorer's next answer, or None (also when it failed: the window is skipped, a dead or hung
        scorer restarted)."""
        try:
            return self.scorer.poll(now)
        except ScoreError as exc:
            self._fail_in_flight(f"scoring failed: {exc}")
        except ScorerFailed as exc:
            self._fail_in_flight(f"scoring process failed: {exc}")
            self._restart_scorer(str(exc), now)
        return None

    def _fail_in_flight(self, reason: str) -> None:
        if self._in_flight is not None:
            self.reporter.skipped(self._in_flight.window.last_bar, reason)
            self._in_flight = None

    def _restart_scorer(self, why: str, now: float) -> None:
        while self._restarts and now - self._restarts[0] > RESTART_WINDOW:
            self._restarts.popleft()
        if len(self._restarts) >= RESTARTS_ALLOWED:
            raise RunEnded(f"the scoring process failed {RESTARTS_ALLOWED + 1} times within a minute; last: {why}")
        self._restarts.append(now)
        self.summary.scorer_restarts += 1
        self.reporter.say(f"{why}; restarting it")
        if self.reporter.state is not Status.SCORER_RESTARTING:
            self._state_before_restart = self.reporter.state
        self.reporter.set_state(Status.SCORER_RESTARTING)
        self.scorer.restart()

    # audio -------------------------------------------------------------------------------------
    def _check_audio(self, now: float) -> None:
        """Reopen a vanished audio input with back-off (1, 2, 4 ... 30 s), or end the run if it cannot be."""
        if self._audio_backoff.waiting:
            if self._audio_backoff.due(now):
                self._reopen_audio(now)
            return
        failure = self.audio.failure()
        if failure is None:
            return
        if not self.audio.reopenable:
            self.reporter.set_state(Status.AUDIO_LOST)
            raise RunEnded(failure)
        self.reporter.set_state(Status.AUDIO_LOST)
        self.reporter.say(f"audio lost: {failure}; reopening")
        self.segmenter.reset()
        self._wakeup.reset()
        self._pending.clear()
        self._audio_lost_at = now
        self._audio_backoff.failed(now)

    def _reopen_audio(self, now: float) -> None:
        try:
            self.audio.reopen()
        except RtloopError as exc:
            log.info("audio input not back yet: %s", exc)
            self._audio_backoff.failed(now)
            return
        self._audio_backoff.succeeded()
        gap = now - self._audio_lost_at
        self.summary.gaps.append(gap)
        self.reporter.say(f"audio input back after {gap:.1f} s")
        self.reporter.set_state(Status.WAITING_FOR_CLOCK if self.clock.waits_for_start else self._running_state())

    # the loop ----------------------------------------------------------------------------------
    def _finished(self) -> bool:
        """True when replayed audio has run out and every window it completed has been scored."""
        if not self.audio.exhausted():
            return False
        if not self._clock_drained:  # the last frames may have arrived after this step polled the clock
            self._clock_drained = True
            return False
        while self._pending and self._pending[-1].end > self.audio.ring.written:
            self.reporter.skipped(self._pending.pop().last_bar, "the recording ended inside the window")
        return not self._pending and self._in_flight is None

    def start(self) -> None:
        """Start the audio; the status says whether a clock is awaited."""
        self.audio.start()
        self.reporter.set_state(Status.WAITING_FOR_CLOCK if self.clock.waits_for_start else Status.RUNNING)

    def step(self, now: float) -> bool:
        """One pass of the worker loop at ``time.monotonic()`` instant ``now``; False once replayed
        audio has run out and everything it completed is scored.

        Raises:
            RunEnded: the run cannot go on (audio gone for good, scoring process failing over and over).
        """
        self._poll_control()
        if not self._audio_backoff.waiting:
            for event in self.clock.poll(now, self.audio.ring.written):
                self._on_event(event)
        self._collect(now)
        self._submit_ready()
        self._check_audio(now)
        self.reporter.heartbeat()
        return not self._finished()

    def _sleep_seconds(self) -> float:
        """How long the loop may sleep before its next pass: less when a boundary is due (see wakeup)."""
        window_end = self._pending[0].end if self._pending else None
        return self._wakeup.seconds(time.monotonic(), self.audio.ring.written, self.audio.time_at, window_end)

    def run(self, stop: threading.Event) -> Summary:
        """Start, then step every few milliseconds until ``stop`` is set, the audio runs out or the run
        cannot go on (the summary's ``reason`` says why). Closing what the daemon uses is its owner's
        job (see :func:`rtloop.live.open_daemon`)."""
        previous_interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL)
        try:
            self.start()
            while not stop.is_set() and self.step(time.monotonic()):
                self.scorer.wait(self._sleep_seconds())  # an answer wakes the loop at once: it leaves sooner
        except RunEnded as exc:
            self.summary.reason = str(exc)
        finally:
            sys.setswitchinterval(previous_interval)
            self.summary.xruns = self.audio.xruns
            self.summary.callback_seconds = self.audio.callback_durations()
            if self.summary.reason is None:
                self.reporter.set_state(Status.STOPPED)
            else:
                self.reporter.say(f"stopping: {self.summary.reason}")
        return self.summary


def loop_result(window: Window, scores: Scores, latency_ms: float, aspects_latency_ms: float | None) -> LoopResult:
    """The result of one scored window (batch of one); latencies run from the bar boundary to sending."""
    return LoopResult(
        window.last_bar,
        window.bpm,
        float(scores.raw[0]),
        float(scores.variation[0]),
        bool(scores.flagged[0]),
        latency_ms,
        {name: float(values[0]) for name, values in scores.aspects.items()},
        scores.top_aspects[0] if scores.top_aspects else None,
        aspects_latency_ms,
    )

"""The live worker: clock events -> bar windows -> audio from the ring -> ONNX score -> OSC and terminal."""

from __future__ import annotations

import collections
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from rtloop.audio_input import AudioSource
from rtloop.audio_io import resample
from rtloop.bundle import Bundle
from rtloop.clock import ClockEvent, ClockFollower
from rtloop.errors import RtloopError
from rtloop.midi_input import ClockInput
from rtloop.osc_io import ControlServer, OscOut
from rtloop.ring import ReadStatus
from rtloop.scorer import Scores
from rtloop.segmenter import InternalClock, Segmenter, Skip, TimeWindows, Window
from rtloop.takes import TakeKeeper

log = logging.getLogger(__name__)
POLL_SECONDS = 0.005
STATUS_EVERY = 1.0  # /status doubles as the heartbeat
KEEP_RESULTS = 10_000  # bounded: a run may last for days
MAX_BACKOFF = 30.0
# The audio callback needs the GIL; the worker loop (it polls and copies; scoring runs in a child
# process) may hold it for up to the switch interval: 5 ms by default, about one JACK period at 256
# frames. Asking for it back after 0.5 ms keeps the callback on time.
SWITCH_INTERVAL = 0.0005


class LoopScorer(Protocol):
    """A :class:`~rtloop.scorer.Scorer` or :class:`~rtloop.scorer_process.ScorerProcess`."""

    bundle: Bundle

    def score(self, waves: list[np.ndarray]) -> Scores: ...

    def warm_up(self) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class LoopResult:
    """One scored window."""

    bar: int
    bpm: float
    raw: float
    variation: float
    flagged: bool
    latency_ms: float


@dataclass
class Summary:
    """What a run did, printed at the end; keeps the last 10 000 results and skips."""

    results: collections.deque[LoopResult] = field(default_factory=lambda: collections.deque(maxlen=KEEP_RESULTS))
    scored: int = 0
    skipped: collections.Counter[str] = field(default_factory=collections.Counter)
    skipped_bars: collections.deque[tuple[int, str]] = field(
        default_factory=lambda: collections.deque(maxlen=KEEP_RESULTS)
    )
    xruns: int = 0
    gaps: list[float] = field(default_factory=list)  # seconds without audio input, per outage
    callback_seconds: np.ndarray = field(default_factory=lambda: np.zeros(0))
    reason: str | None = None  # set when the run ended because something failed

    def render(self) -> str:
        lines = [f"loops scored: {self.scored}", f"bars skipped: {sum(self.skipped.values())}"]
        lines += [f"  {n} x {why}" for why, n in self.skipped.most_common()]
        lines.append(f"input overflows (xruns): {self.xruns}")
        if self.gaps:
            lines.append(f"audio input outages: {len(self.gaps)}, {sum(self.gaps):.1f} s in all")
        if self.callback_seconds.size:
            p50, p99 = np.percentile(self.callback_seconds * 1000.0, [50, 99])
            lines.append(f"audio callback duration: p50 {p50:.3f} ms, p99 {p99:.3f} ms")
        if self.results:
            lat = np.array([r.latency_ms for r in self.results])
            p50, p95, p99 = np.percentile(lat, [50, 95, 99])
            lines.append(f"latency bar boundary -> OSC: p50 {p50:.0f} ms, p95 {p95:.0f} ms, p99 {p99:.0f} ms")
        if self.reason:
            lines.append(f"stopped because: {self.reason}")
        return "\n".join(lines)


def meter(value: float, width: int = 20) -> str:
    """A text bar for a 0..1 value."""
    filled = int(round(max(0.0, min(1.0, value)) * width))
    return "[" + "#" * filled + "." * (width - filled) + "]"


class Daemon:
    """Runs the live path until ``stop`` is set or the audio source fails.

    Args:
        scorer: ONNX sessions of the bundle (warmed up here before the first bar).
        audio: started by :meth:`run`.
        clock: a MIDI clock (input + follower), an :class:`InternalClock`, or :class:`TimeWindows`.
        segmenter: window length, hop and latency compensation (bar clocks).
        osc: destinations; control: optional control server.
        takes: optional keeper of takes and the session log.
        print_line: where the per-loop terminal lines go.
    """

    def __init__(
        self,
        scorer: LoopScorer,
        audio: AudioSource,
        clock: tuple[ClockInput, ClockFollower] | InternalClock | TimeWindows,
        segmenter: Segmenter,
        osc: OscOut,
        control: ControlServer | None = None,
        takes: TakeKeeper | None = None,
        print_line: Callable[[str], None] = print,
    ) -> None:
        self.scorer = scorer
        self.audio = audio
        self.clock = clock
        self.segmenter = segmenter
        self.osc = osc
        self.control = control
        self.takes = takes
        self.print_line = print_line
        self.armed = True
        self.summary = Summary()
        self.requests: collections.deque[tuple[str, int | None]] = collections.deque(maxlen=64)
        self._pending: collections.deque[Window] = collections.deque()
        self._status = ""
        self._status_sent = 0.0
        self._midi_retry = (0.0, 1.0)  # (next attempt, back-off) while the clock is lost
        self._model_rate = scorer.bundle.frontend.sample_rate

    def _set_status(self, status: str, force: bool = False) -> None:
        now = time.monotonic()
        if force or status != self._status or now - self._status_sent >= STATUS_EVERY:
            if status != self._status:
                self.print_line(f"status: {status}")
            self._status, self._status_sent = status, now
            self.osc.send("/status", status)

    def _skip(self, bar: int, reason: str) -> None:
        self.summary.skipped[reason] += 1
        self.summary.skipped_bars.append((bar, reason))
        self.osc.send("/skipped", bar)
        self.print_line(f"bar {bar:>5}  skipped: {reason}")

    def _on_boundary(self, bar: int, frame: int, bpm: float) -> None:
        result = self.segmenter.boundary(bar, frame, bpm)
        if isinstance(result, Skip):
            self._skip(result.last_bar, result.reason)
        elif isinstance(result, Window):
            if self.armed:
                self._pending.append(result)
            else:
                self._skip(result.last_bar, "disarmed")

    def _on_clock_event(self, event: ClockEvent) -> None:
        if event.kind == "bar":
            self._on_boundary(event.bar, self.audio.frame_at(event.time), event.bpm)
        elif event.kind in ("start", "continue", "position"):
            self.segmenter.reset()
            if event.kind != "position":
                self._set_status("running" if self.armed else "disarmed", force=True)
        elif event.kind == "stop":
            self.segmenter.reset()
            self._set_status("stopped", force=True)
        elif event.kind == "lost":
            self.segmenter.reset()
            self._set_status("clock_lost", force=True)

    def _poll_clock(self) -> None:
        if isinstance(self.clock, TimeWindows):
            for window in self.clock.windows_until(self.audio.ring.written):
                if self.armed:
                    self._pending.append(window)
                else:
                    self._skip(window.last_bar, "disarmed")
            return
        if isinstance(self.clock, InternalClock):
            for bar, frame in self.clock.boundaries_until(self.audio.ring.written):
                self._on_boundary(bar, frame, self.clock.bpm)
            return
        midi, follower = self.clock
        for event in follower.drain(midi.receiver.queue):
            self._on_clock_event(event)
        now = time.monotonic()
        for event in follower.check_lost(now):
            self._on_clock_event(event)
            self._midi_retry = (now + 1.0, 1.0)
        if self._status == "clock_lost" and midi.reopenable and now >= self._midi_retry[0]:
            self._reopen_midi(midi, follower, now)

    def _reopen_midi(self, midi: ClockInput, follower: ClockFollower, now: float) -> None:
        """While the clock is lost, reopen its port by name with back-off: its source may have been
        unplugged and re-created, which breaks our connection to it."""
        delay = min(2 * self._midi_retry[1], MAX_BACKOFF)
        self._midi_retry = (now + delay, delay)
        try:
            midi.reopen()
        except RtloopError as exc:
            log.info("MIDI clock port not back yet: %s", exc)
            return
        follower.resync()

    def _poll_control(self) -> None:
        sources = [self.requests] + ([self.control.commands] if self.control is not None else [])
        for queue in sources:
            while queue:
                self._command(*queue.popleft())

    def _command(self, name: str, value: int | None) -> None:
        """Carry out one control message (OSC control, or ``requests`` from the terminal)."""
        if name == "/ping":
            self.osc.send("/pong", 1)
        elif name == "/arm":
            self.armed = bool(value)
            self._set_status("running" if self.armed else "disarmed", force=True)
        elif name == "/mark":
            self.mark()
        elif name == "/bars" and value is not None:
            try:
                self.segmenter.configure(value)
                self.print_line(f"window: {value} bar(s)")
            except ValueError as exc:
                log.warning("ignored /bars %s: %s", value, exc)

    def mark(self) -> None:
        """Keep the last scored loop as a take and log the mark (OSC /mark, or Enter in the terminal)."""
        if self.takes is None:
            self.print_line("mark ignored: no --takes folder")
            return
        self.takes.mark()
        self.print_line("marked the last loop")

    def _score_ready(self) -> None:
        """Score every pending window whose audio is in the ring (oldest first)."""
        while self._pending:
            window = self._pending[0]
            if window.start < 0:
                self._pending.popleft()
                self._skip(window.last_bar, "window starts before the audio did")
                continue
            if window.end > self.audio.ring.written:  # checked every poll: no buffer until it is due
                return
            buffer = np.empty(window.end - window.start, dtype=np.float32)
            status = self.audio.ring.read(window.start, buffer)
            self._pending.popleft()
            if status is ReadStatus.OVERWRITTEN:
                self._skip(window.last_bar, "audio overwritten before it was scored")
            elif window.start <= self.audio.last_xrun_frame < window.end:
                self._skip(window.last_bar, "input overflow (xrun) inside the window")
            elif not np.all(np.isfinite(buffer)):
                self._skip(window.last_bar, "NaN/Inf in the input audio")
            else:
                self._score(window, buffer)

    def _score(self, window: Window, audio: np.ndarray) -> None:
        wave = resample(audio, self.audio.sample_rate, self._model_rate)
        scores = self.scorer.score([wave])
        latency_ms = (time.monotonic() - self.audio.time_at(window.end)) * 1000.0
        result = LoopResult(
            window.last_bar,
            window.bpm,
            float(scores.raw[0]),
            float(scores.variation[0]),
            bool(scores.flagged[0]),
            latency_ms,
        )
        self.osc.send("/variation", result.variation)
        for name, value in (
            ("/score", result.raw),
            ("/flag", int(result.flagged)),
            ("/bar", result.bar),
            ("/tempo", result.bpm),
            ("/latency", result.latency_ms),
        ):
            self.osc.send(name, value)
        self.summary.results.append(result)
        self.summary.scored += 1
        if self.takes is not None:
            self.takes.add(audio, result.bar, result.bpm, result.raw, result.variation, result.flagged)
        flag = "  FLAG" if result.flagged else ""
        self.print_line(
            f"{'bar' if result.bpm else 'win'} {result.bar:>5}  {result.bpm:6.1f} bpm  score {result.raw:10.4g}  "
            f"{meter(result.variation)} {result.variation:.2f}{flag}  ({latency_ms:.0f} ms)"
        )

    def _recover(self, failure: str, stop: threading.Event) -> bool:
        """Reopen a vanished audio input with back-off (1, 2, 4 ... 30 s); False if it cannot be."""
        if not self.audio.reopenable:
            return False
        self._set_status("audio_lost", force=True)
        self.print_line(f"audio lost: {failure}; reopening")
        self.segmenter.reset()
        self._pending.clear()
        lost_at, delay = time.monotonic(), 1.0
        while not stop.wait(delay):
            self._set_status("audio_lost")
            try:
                self.audio.reopen()
            except RtloopError as exc:
                log.info("audio input not back yet: %s", exc)
                delay = min(2 * delay, MAX_BACKOFF)
                continue
            gap = time.monotonic() - lost_at
            self.summary.gaps.append(gap)
            self.print_line(f"audio input back after {gap:.1f} s")
            self._set_status("running" if self.armed else "disarmed", force=True)
            return True
        return True

    def run(self, stop: threading.Event) -> Summary:
        """Warm up, start the audio, and serve until ``stop`` is set or the audio source fails."""
        self.scorer.warm_up()
        previous_interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL)
        self.audio.start()
        if self.control is not None:
            self.control.start()
        internal = isinstance(self.clock, (InternalClock, TimeWindows))
        self._set_status("running" if internal else "waiting_for_clock", force=True)
        try:
            while not stop.is_set():
                self._poll_control()
                self._poll_clock()
                self._score_ready()
                failure = self.audio.failure()
                if failure is not None and not self._recover(failure, stop):
                    self.summary.reason = failure
                    self._set_status("audio_lost", force=True)
                    break
                if self.audio.exhausted() and not self._pending:
                    break
                self._set_status(self._status)
                stop.wait(POLL_SECONDS)
        finally:
            sys.setswitchinterval(previous_interval)
            self.audio.stop()
            if self.control is not None:
                self.control.stop()
            if self.takes is not None:
                self.takes.close()
            self.summary.xruns = self.audio.xruns
            self.summary.callback_seconds = self.audio.callback_durations()
            if self.summary.reason is None:
                self._set_status("stopped", force=True)
        return self.summary

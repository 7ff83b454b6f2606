"""MIDI clock following: 24 PPQN ticks, Start/Continue/Stop, Song Position, tempo, bar boundaries.

:class:`MidiClockReceiver` is python-rtmidi's callback: it only stamps and queues messages.
:class:`ClockFollower` runs on the worker: it parses the queued bytes (garbage is ignored, never
raised), fits a least-squares line through the recent tick times (tempo, and jitter-free tick times),
and yields :class:`ClockEvent` values, among them one ``bar`` event per bar boundary.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np

PPQN = 24
CLOCK, START, CONTINUE, STOP, SONG_POSITION = 0xF8, 0xFA, 0xFB, 0xFC, 0xF2
TICKS_PER_SIXTEENTH = PPQN // 4


class EventKind(str, Enum):
    """What a clock reports: transport changes, a bar boundary, a clock-free window's end, a lost clock."""

    START = "start"
    CONTINUE = "continue"
    STOP = "stop"
    POSITION = "position"
    BAR = "bar"
    WINDOW = "window"
    LOST = "lost"


@dataclass(frozen=True)
class ClockEvent:
    """Something a clock did.

    ``bar`` is 1-based (bar 1 starts at song position 0); ``time`` is a ``time.monotonic()`` instant;
    ``frame`` is the audio frame of a boundary when the clock counts in frames (internal clock,
    windows), else None and the daemon maps ``time`` to a frame.
    """

    kind: EventKind
    time: float
    bar: int = 0
    bpm: float = 0.0
    frame: int | None = None


class MidiClockReceiver:
    """python-rtmidi input callback: stamps each message and queues it for the worker.

    Thread: rtmidi's input thread. It must not parse, block, do I/O or touch the clock's state; it
    appends ``(arrival, delta, message)`` to a deque (atomic append, no lock the worker can hold).
    """

    def __init__(self, maxlen: int = 4096) -> None:
        self.queue: collections.deque[tuple[float, float, Sequence[int]]] = collections.deque(maxlen=maxlen)

    def __call__(self, event: tuple[Sequence[int], float], data: object = None) -> None:
        message, delta = event
        self.queue.append((time.monotonic(), delta, message))


class ClockFollower:
    """Turns timestamped MIDI messages into clock events.

    Message times come from the backend's timestamps (rtmidi's deltas, summed), not from arrival:
    arrival adds the scheduling jitter of whoever delivers them. The offset between that timeline and
    ``time.monotonic()`` is the smallest arrival delay seen recently (arrival is never early).

    Args:
        beats_per_bar: quarter notes per bar (96 ticks for 4/4).
        fit_ticks: ticks in the tempo fit (96 = a 4/4 bar: averages per-tick jitter of 10 % to well
            under 1 bpm and follows a tempo change within a bar).
        lost_after: seconds without a tick (while running) before the clock counts as lost; at least
            eight tick periods are always allowed.
    """

    def __init__(self, beats_per_bar: int = 4, fit_ticks: int = 96, lost_after: float = 0.5) -> None:
        self.ticks_per_bar = PPQN * beats_per_bar
        self.fit_ticks = fit_ticks
        self.lost_after = lost_after
        self.running = False
        self.position = 0  # tick number of the next clock message (song position in ticks)
        self._ticks: collections.deque[tuple[int, float]] = collections.deque(maxlen=fit_ticks)
        self._offsets: collections.deque[float] = collections.deque(maxlen=256)
        self._stamp = 0.0
        self._last_tick: float | None = None
        self._period = 0.0  # seconds per tick of the last bar's fit, for the lost-clock timeout

    @property
    def bpm(self) -> float:
        """Tempo of the recent ticks, or 0.0 before two ticks."""
        period = self._fit()[1]
        return 60.0 / (PPQN * period) if period > 0 else 0.0

    def _fit(self) -> tuple[float, float]:
        """(time at tick 0, seconds per tick) of the least-squares line through the recent ticks."""
        if len(self._ticks) < 2:
            return 0.0, 0.0
        ticks = np.array([t for t, _ in self._ticks], dtype=np.float64)
        times = np.array([s for _, s in self._ticks], dtype=np.float64)
        slope, intercept = np.polyfit(ticks - ticks[-1], times, 1)
        return intercept - slope * ticks[-1], slope

    def feed(self, arrival: float, delta: float, message: Sequence[int]) -> list[ClockEvent]:
        """Process one message; returns the events it causes. Malformed input yields no event."""
        if not (isinstance(delta, (int, float)) and np.isfinite(delta) and delta >= 0):
            delta = 0.0
        self._stamp += delta
        self._offsets.append(arrival - self._stamp)
        now = self._stamp + min(self._offsets)
        if not message or not all(isinstance(b, int) and 0 <= b <= 255 for b in message):
            return []
        status = message[0]
        if status == CLOCK:
            return self._on_tick(now)
        if status == START:
            self.running, self.position, self._last_tick = True, 0, now
            self._ticks.clear()
            return [ClockEvent(EventKind.START, now)]
        if status == CONTINUE:
            self.running, self._last_tick = True, now  # the lost-clock timer starts afresh
            self._ticks.clear()
            return [ClockEvent(EventKind.CONTINUE, now, bar=self.position // self.ticks_per_bar + 1)]
        if status == STOP:
            self.running = False
            return [ClockEvent(EventKind.STOP, now, bar=self.position // self.ticks_per_bar + 1)]
        if status == SONG_POSITION and len(message) >= 3 and message[1] < 128 and message[2] < 128:
            self.position = TICKS_PER_SIXTEENTH * (message[1] | message[2] << 7)
            self._ticks.clear()
            return [ClockEvent(EventKind.POSITION, now, bar=self.position // self.ticks_per_bar + 1)]
        return []

    def _on_tick(self, now: float) -> list[ClockEvent]:
        if not self.running:
            return []
        tick = self.position
        self.position += 1
        self._ticks.append((tick, now))
        self._last_tick = now
        if tick % self.ticks_per_bar:
            return []
        origin, period = self._fit()  # once per bar: the fitted line gives a jitter-free boundary time
        if period <= 0:
            return [ClockEvent(EventKind.BAR, now, bar=tick // self.ticks_per_bar + 1)]
        self._period = period
        bar_time = origin + period * tick
        return [ClockEvent(EventKind.BAR, bar_time, bar=tick // self.ticks_per_bar + 1, bpm=60.0 / (PPQN * period))]

    def resync(self) -> None:
        """Forget the timestamp timeline: the port was reopened and its deltas start afresh."""
        self._offsets.clear()
        self._ticks.clear()

    def check_lost(self, now: float) -> list[ClockEvent]:
        """A ``lost`` event (and the clock stopped) if a running clock has not ticked for too long."""
        if not self.running or self._last_tick is None:
            return []
        if now - self._last_tick <= max(self.lost_after, 8 * self._period):
            return []
        self.running = False
        self._ticks.clear()
        return [ClockEvent(EventKind.LOST, now, bar=self.position // self.ticks_per_bar + 1)]

    def drain(self, queue: collections.deque[tuple[float, float, Sequence[int]]]) -> Iterable[ClockEvent]:
        """Process every queued message of a :class:`MidiClockReceiver`."""
        while queue:
            yield from self.feed(*queue.popleft())

"""MIDI clock following: 24 PPQN ticks, Start/Continue/Stop, Song Position, tempo, bar boundaries.

:class:`MidiClockReceiver` is python-rtmidi's callback: it only stamps and queues messages.
:class:`ClockFollower` runs on the worker: it parses the queued bytes as a MIDI byte stream (real-time
bytes count wherever they appear, inside SysEx or garbage too; everything else that is not clock is
skipped, never raised on), fits a least-squares line through the recent tick times (tempo, and
jitter-free tick times), and yields :class:`ClockEvent` values, among them one ``bar`` event per bar.
"""

from __future__ import annotations

import collections
import logging
import math
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np

from rtloop.ratelimit import RateLimitedLog

log = logging.getLogger(__name__)

PPQN = 24
CLOCK, START, CONTINUE, STOP, SONG_POSITION = 0xF8, 0xFA, 0xFB, 0xFC, 0xF2
TICKS_PER_SIXTEENTH = PPQN // 4
MIN_BPM, MAX_BPM = 20.0, 400.0  # tempi a clock can plausibly have; bars outside carry bpm 0.0
MIN_FIT_TICKS = TICKS_PER_SIXTEENTH  # fewer ticks give no tempo (and the tick's own time as boundary)
OFFSET_WINDOW = 2.0  # seconds of arrivals whose smallest delay maps the message timeline to monotonic
MAX_DELTA = 60.0  # a longer gap between two messages starts the timeline afresh (as a reopened port)
_STATUS_BYTE = re.compile(rb"[\x80-\xff]")


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
    numbers each message (so the worker can tell if the full queue dropped any) and appends
    ``(number, arrival, delta, message)`` to a deque (atomic append, no lock the worker can hold).

    Args:
        maxlen: queue length; 65536 messages hold 6.5 s of even a 10,000 messages/s stream.
    """

    def __init__(self, maxlen: int = 65536) -> None:
        self.queue: collections.deque[tuple[int, float, float, Sequence[int]]] = collections.deque(maxlen=maxlen)
        self.received = 0

    def __call__(self, event: tuple[Sequence[int], float], data: object = None) -> None:
        message, delta = event
        self.received += 1
        self.queue.append((self.received, time.monotonic(), delta, message))


class ClockFollower:
    """Turns timestamped MIDI messages into clock events.

    Message times come from the backend's timestamps (rtmidi's deltas, summed over every message,
    clock or not), not from arrival: arrival adds the scheduling jitter of whoever delivers them. The
    offset between that timeline and ``time.monotonic()`` is the smallest arrival delay seen in the
    last :data:`OFFSET_WINDOW` seconds (arrival is never early).

    Bar events never go back in time; a bar whose fitted tempo is outside :data:`MIN_BPM` ..
    :data:`MAX_BPM` (a burst of ticks, a 10,000 ticks/s clock), or that has too few ticks to fit,
    carries ``bpm=0.0`` and its tick's own time, and the implausible tempo is logged (rate-limited).

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
        self.invalid = 0  # message elements that were not bytes (0..255), over the run
        self.warnings = RateLimitedLog(log)
        self._ticks: collections.deque[tuple[int, float]] = collections.deque(maxlen=fit_ticks)
        self._offsets: collections.deque[tuple[float, float]] = collections.deque()  # (arrival, offset), rising
        self._stamp = 0.0
        self._last_tick: float | None = None
        self._last_bar_time = -math.inf
        self._period = 0.0  # seconds per tick of the last plausible fit, for the lost-clock timeout
        self._next_number: int | None = None

    @property
    def bpm(self) -> float:
        """Tempo of the recent ticks; 0.0 before :data:`MIN_FIT_TICKS` ticks or when implausible."""
        return self._plausible_bpm(self._fit()[1])

    def _plausible_bpm(self, period: float) -> float:
        if len(self._ticks) < MIN_FIT_TICKS or not period > 0:
            return 0.0
        bpm = 60.0 / (PPQN * period)
        return bpm if MIN_BPM <= bpm <= MAX_BPM else 0.0

    def _fit(self) -> tuple[float, float]:
        """(time at tick 0, seconds per tick) of the least-squares line through the recent ticks."""
        if len(self._ticks) < 2:
            return 0.0, 0.0
        ticks = np.array([t for t, _ in self._ticks], dtype=np.float64)
        times = np.array([s for _, s in self._ticks], dtype=np.float64)
        slope, intercept = np.polyfit(ticks - ticks[-1], times - times[-1], 1)
        return intercept + times[-1] - slope * ticks[-1], slope

    def _advance(self, arrival: float, delta: object) -> float:
        """Add a message's delta to the timeline; returns the message's time on the monotonic clock."""
        if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not 0.0 <= delta <= MAX_DELTA:
            if isinstance(delta, (int, float)) and delta > MAX_DELTA:  # includes inf
                self._offsets.clear()  # a long silence: the next arrival sets the offset afresh
            delta = 0.0
        self._stamp += delta
        offset = arrival - self._stamp
        while self._offsets and self._offsets[-1][1] >= offset:  # a sliding minimum, O(1) amortised
            self._offsets.pop()
        self._offsets.append((arrival, offset))
        while self._offsets[0][0] < arrival - OFFSET_WINDOW:
            self._offsets.popleft()
        return self._stamp + self._offsets[0][1]

    def feed(self, arrival: float, delta: float, message: Sequence[int]) -> list[ClockEvent]:
        """Process one message; returns the events it causes. Nothing in ``message`` can make it raise.

        Every message's delta counts (rtmidi measures each delta from the message before, whatever
        it was). The bytes are read as a MIDI stream: Clock, Start, Continue and Stop are real-time
        bytes that count wherever they appear (also inside a SysEx, split or unterminated, or after
        garbage); Song Position needs its two data bytes right after it; everything else is skipped.

        Args:
            arrival: ``time.monotonic()`` when the message was received (trusted: rtloop's own stamp).
            delta: seconds since the previous message by the backend's clock; invalid ones count as 0.
            message: the message's bytes.
        """
        now = self._advance(arrival, delta)
        data = self._as_bytes(message)
        events: list[ClockEvent] = []
        position: list[int] | None = None  # data bytes of a Song Position being read
        i = 0
        while i < len(data):
            byte = data[i]
            if byte < 0x80 and position is None:  # data of anything else: skip the whole run at C speed
                status = _STATUS_BYTE.search(data, i)
                if status is None:
                    break
                i = status.start()
                continue
            if byte < 0x80 and position is not None:
                position.append(byte)
                if len(position) == 2:
                    events.append(self._song_position(position[0] | position[1] << 7, now))
                    position = None
            elif byte >= 0xF8:  # real-time: may sit anywhere, even between a message's data bytes
                events += self._realtime(byte, now)
            else:  # Song Position starts; any other status byte (channel, SysEx start or end) ends it
                position = [] if byte == SONG_POSITION else None
            i += 1
        return events

    def _as_bytes(self, message: object) -> bytes:
        """The message as bytes; elements that are not bytes (never from rtmidi) are dropped and logged."""
        elements: Sequence[object] = message if isinstance(message, (list, tuple, bytes, bytearray)) else (message,)
        try:
            return bytes(elements)  # type: ignore[arg-type]  # what fails is handled below
        except (TypeError, ValueError):
            pass
        valid = [b for b in elements if isinstance(b, int) and 0 <= b <= 255]
        self.invalid += len(elements) - len(valid)
        self.warnings.warning("invalid", "ignored MIDI input that is not bytes: %.60r", message)
        return bytes(valid)

    def _realtime(self, byte: int, now: float) -> list[ClockEvent]:
        if byte == CLOCK:
            return self._on_tick(now)
        if byte == START:
            self.running, self.position, self._last_tick = True, 0, now
            self._ticks.clear()
            return [ClockEvent(EventKind.START, now)]
        if byte == CONTINUE:
            self.running, self._last_tick = True, now  # the lost-clock timer starts afresh
            self._ticks.clear()
            return [ClockEvent(EventKind.CONTINUE, now, bar=self.position // self.ticks_per_bar + 1)]
        if byte == STOP:
            self.running = False
            return [ClockEvent(EventKind.STOP, now, bar=self.position // self.ticks_per_bar + 1)]
        return []  # Active Sensing, System Reset, undefined real-time bytes

    def _song_position(self, sixteenths: int, now: float) -> ClockEvent:
        self.position = TICKS_PER_SIXTEENTH * sixteenths
        self._ticks.clear()
        return ClockEvent(EventKind.POSITION, now, bar=self.position // self.ticks_per_bar + 1)

    def _on_tick(self, now: float) -> list[ClockEvent]:
        if not self.running:
            return []
        tick = self.position
        self.position += 1
        self._ticks.append((tick, now))
        self._last_tick = now
        if tick % self.ticks_per_bar:
            return []
        bar = tick // self.ticks_per_bar + 1
        origin, period = self._fit()  # once per bar: the fitted line gives a jitter-free boundary time
        bpm = self._plausible_bpm(period)
        if bpm:
            self._period = period
            bar_time = origin + period * tick
        else:
            bar_time = now
            if len(self._ticks) >= MIN_FIT_TICKS:
                fitted = 60.0 / (PPQN * period) if period > 0 else math.inf
                self.warnings.warning(
                    "tempo",
                    "MIDI clock at %.0f bpm is outside %g .. %g bpm: bar %d gets no tempo",
                    fitted, MIN_BPM, MAX_BPM, bar,
                )  # fmt: skip
        bar_time = max(bar_time, self._last_bar_time)  # boundaries never go back in time
        self._last_bar_time = bar_time
        return [ClockEvent(EventKind.BAR, bar_time, bar=bar, bpm=bpm)]

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

    def drain(self, queue: collections.deque[tuple[int, float, float, Sequence[int]]]) -> Iterable[ClockEvent]:
        """Process every queued message of a :class:`MidiClockReceiver`.

        If the full queue dropped messages (the worker stalled), that is logged, the timeline is
        resynchronised and a ``position`` event tells the daemon that bars before it do not join up
        with the bars after it.
        """
        while queue:
            number, arrival, delta, message = queue.popleft()
            if self._next_number is not None and number != self._next_number:
                self.warnings.warning(
                    "dropped", "MIDI input queue overflowed: %d messages lost", number - self._next_number
                )
                self.resync()
                yield ClockEvent(EventKind.POSITION, arrival, bar=self.position // self.ticks_per_bar + 1)
            self._next_number = number + 1
            yield from self.feed(arrival, delta, message)

"""Where bars come from, behind one interface: MIDI clock, internal clock, or clock-free windows.

Every clock is polled by the daemon's worker with ``poll(now, written)`` and returns the
:class:`~rtloop.clock.ClockEvent` values that happened since the last poll; the daemon treats them
alike, whichever clock made them.
"""

from __future__ import annotations

import logging
from typing import Protocol

from rtloop.backoff import Backoff
from rtloop.clock import ClockEvent, ClockFollower, EventKind
from rtloop.errors import RtloopError
from rtloop.midi_input import ClockInput
from rtloop.resources import Closing

log = logging.getLogger(__name__)
MIN_BPM, MAX_BPM = 1.0, 999.0


class Clock(Protocol):
    """A source of bar boundaries (or clock-free windows) for the daemon.

    Attributes:
        waits_for_start: True if nothing happens until the clock's source starts (MIDI clock).
    """

    waits_for_start: bool

    def poll(self, now: float, written: int) -> list[ClockEvent]:
        """Events since the last poll. ``now``: ``time.monotonic()``; ``written``: audio frames so far."""
        ...

    def close(self) -> None: ...


class MidiClock(Closing):
    """A MIDI clock input and its follower; while the clock is lost, its port is reopened by name
    with back-off (its source may have been unplugged and re-created, which breaks the connection).

    Args:
        midi: the opened input port.
        follower: parses the port's queued messages.
        backoff: delays between attempts to reopen a lost clock's port.
    """

    waits_for_start = True

    def __init__(self, midi: ClockInput, follower: ClockFollower, backoff: Backoff | None = None) -> None:
        self.midi, self.follower = midi, follower
        self.backoff = backoff or Backoff(1.0, 30.0)

    def poll(self, now: float, written: int) -> list[ClockEvent]:
        events = list(self.follower.drain(self.midi.receiver.queue))
        if any(e.kind in (EventKind.START, EventKind.CONTINUE, EventKind.BAR) for e in events):
            self.backoff.succeeded()
        lost = self.follower.check_lost(now)
        if lost and self.midi.reopenable:
            self.backoff.failed(now)
        events += lost
        if self.backoff.due(now):
            self._reopen(now)
        return events

    def _reopen(self, now: float) -> None:
        self.backoff.failed(now)  # until the clock ticks again, the next attempt waits longer
        try:
            self.midi.reopen()
        except RtloopError as exc:
            log.info("MIDI clock port not back yet: %s", exc)
            return
        self.follower.resync()

    def close(self) -> None:
        """Close the port and say what repeated warnings were held back."""
        self.midi.close()
        self.follower.warnings.flush()


class InternalClock(Closing):
    """A steady tempo counted in audio frames (``--bpm``, no MIDI clock): bar k starts at k bar lengths.

    Raises:
        ValueError: a tempo outside 1..999 bpm.
    """

    waits_for_start = False

    def __init__(self, bpm: float, beats_per_bar: int, sample_rate: int) -> None:
        if not MIN_BPM <= bpm <= MAX_BPM:
            raise ValueError(f"tempo {bpm} bpm is out of range ({MIN_BPM:g}..{MAX_BPM:g})")
        self.bpm = bpm
        self.bar_frames = sample_rate * 60.0 / bpm * beats_per_bar
        self._next_bar = 1

    def poll(self, now: float, written: int) -> list[ClockEvent]:
        """A bar event for every bar that has started by frame ``written`` and was not returned yet."""
        events = []
        while (start := round((self._next_bar - 1) * self.bar_frames)) <= written:
            events.append(ClockEvent(EventKind.BAR, now, bar=self._next_bar, bpm=self.bpm, frame=start))
            self._next_bar += 1
        return events

    def close(self) -> None:
        """Nothing to release."""


class TimeWindows(Closing):
    """Clock-free windows (``--window 4s --hop 1s``): a window event every ``hop_frames`` frames once
    ``window_frames`` have arrived, numbered from 1 like bars, with no tempo.

    Raises:
        ValueError: a window or hop shorter than one frame.
    """

    waits_for_start = False

    def __init__(self, window_frames: int, hop_frames: int) -> None:
        if window_frames < 1 or hop_frames < 1:
            raise ValueError("window and hop must be positive")
        self.window_frames = window_frames
        self.hop_frames = hop_frames
        self._next = 1

    def poll(self, now: float, written: int) -> list[ClockEvent]:
        """A window event (``frame`` = its end) for every window that ends by frame ``written``."""
        events = []
        while (end := self.window_frames + (self._next - 1) * self.hop_frames) <= written:
            events.append(ClockEvent(EventKind.WINDOW, now, bar=self._next, frame=end))
            self._next += 1
        return events

    def close(self) -> None:
        """Nothing to release."""

"""Ableton Link as rtloop's clock: bar boundaries from the session's beat and phase (quantum = beats per
bar), its tempo, and its transport when start/stop sync is on.

Needs the optional extra ``rtloop[link]`` (the ``LinkPython-extern`` binding, which bundles Ableton Link,
GPL-2.0-or-later); it is imported only when a :class:`LinkClock` is made.

Times: Link's session time says when a beat *reaches the speakers* of every peer. A bar boundary is
reported at that moment plus ``latency``: the seconds from a peer's output to rtloop's input timestamps
(the loopback or cable path, e.g. Live's output monitored into rtloop's input). Link's clock (on Linux
``CLOCK_MONOTONIC_RAW``) is mapped to ``time.monotonic()`` afresh on every poll, by reading both clocks
back to back, so the two may drift apart without harm.
"""

from __future__ import annotations

import math
import time
from typing import Any

from rtloop.clock import ClockEvent, EventKind
from rtloop.errors import RtloopError
from rtloop.resources import Closing

# the kinds of rtloop.clock.EventKind (a str Enum of these values) that a Link clock reports
INSTALL_HINT = "Ableton Link needs the optional binding: pip install 'rtloop[link]' (LinkPython-extern)"


class LinkUnavailable(RtloopError, ImportError):
    """The Link binding is not installed."""


def _load_link() -> Any:
    try:
        import link
    except ImportError as exc:
        raise LinkUnavailable(f"{INSTALL_HINT} ({exc})") from exc
    return link


class LinkClock(Closing):
    """Joins the Link session on the local network and reports its bar boundaries.

    Without start/stop sync, bars run from the moment rtloop joins (bar 1 is the first boundary after
    that). With it, rtloop follows the session's transport: ``start`` when a peer starts (bar 1 is the
    first boundary at or after the start), no bars while stopped, ``stop`` when a peer stops. Peers
    share transport only when they enable start/stop sync too (Live: Preferences, Link, Start Stop Sync).

    Args:
        beats_per_bar: the Link quantum: a bar starts where the session's phase is 0.
        latency: seconds added to every Link time (see the module's docstring); may be negative.
        start_stop_sync: follow the session's transport instead of running freely.
        bpm: the tempo rtloop proposes if it is the first peer of a session.

    Raises:
        LinkUnavailable: the binding is not installed.
        ValueError: beats_per_bar below 1 or a tempo outside 20..999 bpm (Link's range).
    """

    def __init__(
        self, beats_per_bar: int = 4, latency: float = 0.0, start_stop_sync: bool = False, bpm: float = 120.0
    ) -> None:
        if beats_per_bar < 1:
            raise ValueError(f"beats per bar must be at least 1, not {beats_per_bar}")
        if not 20.0 <= bpm <= 999.0:
            raise ValueError(f"tempo {bpm} bpm is out of Link's range (20..999)")
        self.beats_per_bar = beats_per_bar
        self.latency = latency
        self.start_stop_sync = start_stop_sync
        self.waits_for_start = start_stop_sync
        self._link = _load_link().Link(bpm)
        self._link.startStopSyncEnabled = start_stop_sync
        self._link.enabled = True
        self._clock = self._link.clock()
        self._playing = False
        self._first_bar: int | None = None  # index (beat / quantum) of bar 1
        self._next_bar: int | None = None  # index of the next boundary to report

    @property
    def peers(self) -> int:
        """Number of other peers in the session."""
        return int(self._link.numPeers())

    def _link_to_monotonic(self) -> float:
        """Seconds to add to a Link time (in seconds) to get ``time.monotonic()``."""
        before = time.monotonic()
        micros = self._clock.micros()
        after = time.monotonic()
        return (before + after) / 2 - micros / 1e6

    def poll(self, now: float, written: int) -> list[ClockEvent]:
        """Transport changes and bar boundaries since the last poll (``now`` and ``written`` unused: Link
        keeps its own time)."""
        offset = self._link_to_monotonic() + self.latency
        state = self._link.captureAppSessionState()
        link_now = self._clock.micros()
        quantum = float(self.beats_per_bar)
        bpm = state.tempo()
        events: list[ClockEvent] = []
        if self.start_stop_sync:
            playing = state.isPlaying()
            if playing != self._playing:
                self._playing = playing
                at = state.timeForIsPlaying()
                if playing:
                    first = math.ceil(state.beatAtTime(at, quantum) / quantum - 1e-6)
                    self._first_bar = self._next_bar = first
                    events.append(ClockEvent(EventKind.START, at / 1e6 + offset, bpm=bpm))
                else:
                    bar = 0 if self._next_bar is None or self._first_bar is None else self._next_bar - self._first_bar
                    self._first_bar = self._next_bar = None
                    events.append(ClockEvent(EventKind.STOP, at / 1e6 + offset, bar=max(bar, 1), bpm=bpm))
            if not playing:
                return events
        current = state.beatAtTime(link_now, quantum) / quantum  # in bars; Link's beat magnitude is local
        if self._next_bar is None:
            self._first_bar = self._next_bar = math.ceil(current)
        elif current < self._next_bar - 1 or current >= self._next_bar + 1:
            # the session re-aligned this peer's timeline (joining a session): carry on from here
            self._next_bar = math.ceil(current) if current < self._next_bar else math.floor(current)
        while self._next_bar <= current:
            at = state.timeAtBeat(self._next_bar * quantum, quantum)
            bar = self._next_bar - (self._first_bar or 0) + 1
            events.append(ClockEvent(EventKind.BAR, at / 1e6 + offset, bar=bar, bpm=bpm))
            self._next_bar += 1
        return events

    def close(self) -> None:
        """Leave the session."""
        self._link.enabled = False

"""Cutting loops at bar boundaries: which frames make the window that ends at each boundary."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Window:
    """Frames ``[start, end)`` holding bars ``last_bar - bars + 1 .. last_bar``."""

    last_bar: int
    start: int
    end: int
    bpm: float


@dataclass(frozen=True)
class Skip:
    """A bar that gets no score, and why."""

    last_bar: int
    reason: str


class Segmenter:
    """Keeps the recent bar boundaries (as audio frames) and forms the window at each new one.

    Boundaries are taken as the clock placed them, so a window over a tempo change spans exactly
    its bars. Only consecutive bars form a window: after Start, a Song Position jump or a lost
    clock, bars are skipped until ``bars`` whole bars have passed again.

    Args:
        bars: window length in bars.
        hop: score every ``hop`` bars (1: every bar over the last ``bars``; ``bars``: no overlap).
        latency_frames: shift of every window, the input latency to compensate.
    """

    def __init__(self, bars: int, hop: int = 1, latency_frames: int = 0) -> None:
        self.latency_frames = latency_frames
        self._boundaries: dict[int, int] = {}
        self.configure(bars, hop)

    def configure(self, bars: int, hop: int | None = None) -> None:
        """Change the window length (and hop); takes effect at the next boundary."""
        if bars < 1 or (hop is not None and hop < 1):
            raise ValueError("bars and hop must be at least 1")
        self.bars = bars
        if hop is not None:
            self.hop = hop

    def reset(self) -> None:
        """Forget all boundaries (the clock restarted, jumped or was lost)."""
        self._boundaries.clear()

    def boundary(self, bar: int, frame: int, bpm: float) -> Window | Skip | None:
        """Record that ``bar`` starts at ``frame``; returns the window ending there, a skip, or None
        for a boundary the hop does not score."""
        self._boundaries[bar] = frame
        for old in [b for b in self._boundaries if b < bar - 64]:
            del self._boundaries[old]
        if bar <= 1 or (bar - 1) % self.hop:  # bar 1 starts the song: nothing before it to score
            return None
        first = bar - self.bars
        if any(b not in self._boundaries for b in range(first, bar)):
            return Skip(bar - 1, f"no full {self.bars}-bar window yet")
        shift = self.latency_frames
        return Window(bar - 1, self._boundaries[first] + shift, frame + shift, bpm)


class InternalClock:
    """A steady tempo in audio frames, for ``--bpm`` (no MIDI clock): bar k starts at k bar lengths."""

    def __init__(self, bpm: float, beats_per_bar: int, sample_rate: int) -> None:
        if not 1.0 <= bpm <= 999.0:
            raise ValueError(f"tempo {bpm} bpm is out of range")
        self.bpm = bpm
        self.bar_frames = sample_rate * 60.0 / bpm * beats_per_bar
        self._next_bar = 1

    def boundaries_until(self, frame: int) -> list[tuple[int, int]]:
        """(bar, first frame) of every bar that has started by ``frame`` and was not returned yet."""
        out = []
        while (start := round((self._next_bar - 1) * self.bar_frames)) <= frame:
            out.append((self._next_bar, start))
            self._next_bar += 1
        return out


class TimeWindows:
    """Clock-free windows (``--window 4s --hop 1s``): the last ``window`` frames, every ``hop`` frames.

    Windows are numbered from 1 like bars, and carry no tempo.
    """

    def __init__(self, window_frames: int, hop_frames: int) -> None:
        if window_frames < 1 or hop_frames < 1:
            raise ValueError("window and hop must be positive")
        self.window_frames = window_frames
        self.hop_frames = hop_frames
        self._next = 1

    def windows_until(self, frame: int) -> list[Window]:
        """Every window that ends by ``frame`` and was not returned yet."""
        out = []
        while (end := self.window_frames + (self._next - 1) * self.hop_frames) <= frame:
            out.append(Window(self._next, end - self.window_frames, end, 0.0))
            self._next += 1
        return out

"""Cutting loops at bar boundaries: which frames make the window that ends at each boundary."""

from __future__ import annotations

from dataclasses import dataclass

KEPT_BARS = 64  # boundaries remembered, so the longest window in bars


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
        max_frames: the longest window the audio ring can hold (longer ones are skipped with the reason).
        window_frames: length of clock-free windows (``--window``); None with a bar clock.
    """

    def __init__(
        self,
        bars: int,
        hop: int = 1,
        latency_frames: int = 0,
        max_frames: int | None = None,
        window_frames: int | None = None,
    ) -> None:
        self.latency_frames = latency_frames
        self.max_frames = max_frames
        self.window_frames = window_frames
        self._boundaries: dict[int, int] = {}
        self.configure(bars, hop)

    def configure(self, bars: int, hop: int | None = None) -> None:
        """Change the window length (and hop); takes effect at the next boundary.

        Raises:
            ValueError: bars outside 1..64 (the boundaries kept) or a hop below 1.
        """
        if not 1 <= bars <= KEPT_BARS or (hop is not None and hop < 1):
            raise ValueError(f"bars must be 1..{KEPT_BARS} and hop at least 1")
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
        for old in [b for b in self._boundaries if b < bar - KEPT_BARS]:
            del self._boundaries[old]
        if bar <= 1 or (bar - 1) % self.hop:  # bar 1 starts the song: nothing before it to score
            return None
        first = bar - self.bars
        if any(b not in self._boundaries for b in range(first, bar)):
            return Skip(bar - 1, f"no full {self.bars}-bar window yet")
        shift = self.latency_frames
        return self._checked(Window(bar - 1, self._boundaries[first] + shift, frame + shift, bpm))

    def window(self, number: int, end: int) -> Window | Skip:
        """The clock-free window ``number`` that ends at frame ``end``."""
        if self.window_frames is None:
            raise ValueError("this segmenter cuts bars, not clock-free windows")
        return self._checked(Window(number, end - self.window_frames, end, 0.0))

    def _checked(self, window: Window) -> Window | Skip:
        """A window that can be read from the ring, or the reason it cannot."""
        if window.end <= window.start:  # a burst of ticks put several boundaries on one instant
            return Skip(window.last_bar, "bar boundaries out of order (clock burst)")
        if self.max_frames is not None and window.end - window.start > self.max_frames:
            return Skip(window.last_bar, "window longer than the audio buffer: use fewer bars")
        return window

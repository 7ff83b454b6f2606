"""When the daemon's loop should wake next: at its steady poll, or just as a bar's last frame arrives.

The loop sleeps on the scoring child's pipe between passes. A steady 5 ms poll would add up to 5 ms
between a bar's last frame reaching the ring and its descriptor aspects leaving, a quarter of their
20 ms budget. So the loop predicts the next boundary from the last two (steady under any clock: an
internal one counts frames, MIDI clock and Link tick in time), and polls finely from shortly before
it until it has come or is clearly not coming (a tempo change, a stop).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

POLL_SECONDS = 0.005  # the steady poll
FINE_POLL_SECONDS = 0.0005  # the poll while a boundary or a window's last frame is due
LATE_SECONDS = 0.015  # a predicted boundary this long overdue is not coming: back to the steady poll


class Wakeup:
    """Predicts the next boundary frame from the last two and says how long the loop may sleep."""

    def __init__(self) -> None:
        self._boundaries: deque[int] = deque(maxlen=2)

    def boundary(self, frame: int) -> None:
        """A bar or window boundary at ring frame ``frame`` has been seen."""
        if self._boundaries and frame <= self._boundaries[-1]:
            self._boundaries.clear()  # the count went back (a restart): predict afresh
        self._boundaries.append(frame)

    def reset(self) -> None:
        """The clock stopped or jumped: no prediction until two more boundaries."""
        self._boundaries.clear()

    def predicted(self) -> int | None:
        """The next boundary's frame, one spacing after the last, or None before two were seen."""
        if len(self._boundaries) < 2:
            return None
        previous, last = self._boundaries
        return 2 * last - previous

    def seconds(self, now: float, written: int, time_at: Callable[[int], float], window_end: int | None) -> float:
        """How long to sleep at ``time.monotonic()`` instant ``now`` with ``written`` frames in the ring.

        Args:
            time_at: the capture time of a ring frame.
            window_end: the last frame (exclusive) of the oldest window waiting for its audio, if any.
        """
        # A predicted boundary is awaited even once its audio is in: MIDI clock may tick a little later.
        predicted = self.predicted()
        due = [] if predicted is None else [predicted]
        if window_end is not None and window_end > written:
            due.append(window_end)
        if not due:
            return POLL_SECONDS
        left = time_at(min(due)) - now
        if left < -LATE_SECONDS:
            return POLL_SECONDS
        return min(POLL_SECONDS, max(FINE_POLL_SECONDS, left))

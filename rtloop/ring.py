"""Single-producer single-consumer audio ring buffer: the audio callback writes, the worker reads.

No locks: the writer copies into preallocated memory and then advances a frame counter; the reader
copies into memory it owns and validates afterwards that the writer did not lap it (``guard`` frames
of slack cover a block the writer may be copying while the reader looks).

Its memory is resident, in small pages, before the audio starts (see :mod:`rtloop.pages`): the
callback used to fault the ring in during its first lap, 2 MiB at a time, each fault longer than a
256-frame JACK period on a 2-core VM.
"""

from __future__ import annotations

import enum

import numpy as np

from rtloop.pages import resident_zeros


class ReadStatus(enum.Enum):
    """Outcome of :meth:`RingBuffer.read`."""

    OK = "ok"
    NOT_READY = "not yet written"
    OVERWRITTEN = "overwritten (the worker fell behind the ring)"


class RingBuffer:
    """Mono float32 ring of ``capacity`` frames addressed by absolute frame number.

    Args:
        capacity: frames kept; older frames are overwritten.
        guard: frames at the old end treated as overwritten, at least one audio block.
    """

    def __init__(self, capacity: int, guard: int = 8192) -> None:
        if capacity <= guard:
            raise ValueError("capacity must exceed guard")
        self._data = resident_zeros(capacity)
        self._written = 0
        self.guard = guard

    @property
    def capacity(self) -> int:
        return len(self._data)

    @property
    def written(self) -> int:
        """Frames written since the start (the absolute number of the next frame)."""
        return self._written

    def write(self, block: np.ndarray) -> None:
        """Append frames. Audio thread only: copies into preallocated memory, never blocks."""
        n = len(block)
        cap = len(self._data)
        if n > cap:
            block = block[n - cap :]
        m = len(block)
        pos = (self._written + n - m) % cap
        first = min(m, cap - pos)
        self._data[pos : pos + first] = block[:first]
        self._data[: m - first] = block[first:]
        self._written += n

    def oldest_readable(self) -> int:
        """Absolute number of the oldest frame that can still be read safely."""
        return max(0, self._written - len(self._data) + self.guard)

    def read(self, start: int, out: np.ndarray) -> ReadStatus:
        """Copy frames ``[start, start + len(out))`` into ``out`` (caller-owned memory).

        Returns:
            OK, NOT_READY (not all written yet; ``out`` untouched) or OVERWRITTEN (``out`` invalid).
        """
        end = start + len(out)
        if end > self._written:
            return ReadStatus.NOT_READY
        if start < self.oldest_readable():
            return ReadStatus.OVERWRITTEN
        cap = len(self._data)
        pos = start % cap
        first = min(len(out), cap - pos)
        out[:first] = self._data[pos : pos + first]
        out[first:] = self._data[: len(out) - first]
        if start < self.oldest_readable():  # lapped while copying
            return ReadStatus.OVERWRITTEN
        return ReadStatus.OK

"""Loops handed to the scoring child through shared memory: one copy in, one copy out, no pickling.

Pickled through the child's pipe by a writer thread (a loop is larger than the pipe's buffer), a
one-second bar took 0.68 ms (p50) from the daemon's submit to the child holding it in a 60-bar run of
bench/latency.py; written here and announced by a short message, 0.45 ms. That is time the descriptor
aspects wait after every bar boundary. One request is under way at a time, so the parent writes only
while the child is idle.
"""

from __future__ import annotations

from multiprocessing import shared_memory

import numpy as np

from rtloop.errors import AudioError
from rtloop.resources import Closing

_MIN_BYTES = 1 << 20  # 5 s of 48 kHz mono float32: most windows never grow it


class WaveSender(Closing):
    """The parent's side: a shared memory segment, grown when a request needs more, unlinked on close."""

    def __init__(self) -> None:
        self._memory: shared_memory.SharedMemory | None = None

    def put(self, waves: list[np.ndarray]) -> tuple[str, list[int]]:
        """Write mono ``waves`` (as float32, end to end) for the child; the segment's name and their lengths.

        Raises:
            AudioError: a wave is not one-dimensional.
        """
        if any(np.ndim(w) != 1 for w in waves):
            raise AudioError(f"the scorer takes mono audio (one dimension), got shapes {[np.shape(w) for w in waves]}")
        lengths = [len(w) for w in waves]
        need = 4 * sum(lengths)
        if self._memory is None or self._memory.size < need:
            size = max(_MIN_BYTES, need, 2 * self._memory.size if self._memory else 0)
            self.close()  # the child may still map the old segment: unlinking only removes its name
            self._memory = shared_memory.SharedMemory(create=True, size=size)
        flat = np.ndarray((sum(lengths),), np.float32, self._memory.buf)
        if waves:
            np.concatenate(waves, out=flat)
        del flat  # a view still held would keep the segment from closing
        return self._memory.name, lengths

    def close(self) -> None:
        """Unlink the segment (idempotent)."""
        if self._memory is not None:
            memory, self._memory = self._memory, None
            memory.close()
            memory.unlink()


class WaveReceiver(Closing):
    """The child's side: maps the segment a request names (again when the parent grew it)."""

    def __init__(self) -> None:
        self._memory: shared_memory.SharedMemory | None = None

    def take(self, name: str, lengths: list[int]) -> list[np.ndarray]:
        """Copies of the waves the parent put in segment ``name``.

        Raises:
            FileNotFoundError: no segment of that name (the parent is gone).
            ValueError: the lengths do not fit the segment.
        """
        if not lengths:
            return []
        if self._memory is None or self._memory.name != name:
            self.close()
            self._memory = shared_memory.SharedMemory(name=name)
        total = sum(lengths)
        if min(lengths) < 0 or 4 * total > self._memory.size:
            raise ValueError(f"a request of {total} samples does not fit its {self._memory.size}-byte segment")
        flat = np.ndarray((total,), np.float32, self._memory.buf)
        waves = np.split(flat.copy(), np.cumsum(lengths)[:-1])
        del flat
        return waves

    def close(self) -> None:
        """Unmap the segment (idempotent); the parent unlinks it."""
        if self._memory is not None:
            memory, self._memory = self._memory, None
            memory.close()

"""What the worker processes of training's and scan's pools share: Ctrl-C and the end of their parent.

Ctrl-C reaches the whole process group, but only the parent should act on it: it stops its workers
itself. So each worker ignores SIGINT, and the pool starts them with SIGINT blocked, so that one
arriving while a worker still imports (before it can ignore it) waits instead of printing a traceback.

A parent killed with SIGKILL cannot stop its workers, and an idle worker waits for work forever, holding
its session's memory. So each worker also ends as soon as its parent has gone.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from collections.abc import Iterator

ORPHANED = 1  # the exit status of a worker whose parent has gone


@contextlib.contextmanager
def sigint_blocked() -> Iterator[None]:
    """SIGINT held back from this thread meanwhile (delivered after), and from the processes it starts.

    Wrap whatever may start a pool's worker (``submit``, ``map``). Elsewhere than the main thread, and
    where the platform cannot block signals, it does nothing.
    """
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def become_worker() -> None:
    """Call first in a pool's worker initialiser: ignore Ctrl-C (then let SIGINT through, blocked since
    the start by :func:`sigint_blocked`), and end this process when its parent ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_when_gone, args=(parent.sentinel,), name="exit-with-parent", daemon=True).start()


def _exit_when_gone(parent_sentinel: int) -> None:
    multiprocessing.connection.wait([parent_sentinel])  # ready only once the parent's end of it has closed
    os._exit(ORPHANED)

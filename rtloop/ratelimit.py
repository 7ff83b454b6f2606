"""Rate-limited warnings: the first of a kind is logged, repeats within an interval are only counted."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable


class RateLimitedLog:
    """Logs at most one warning per key per ``interval`` seconds and counts the ones it holds back.

    The next warning of a key let through after the interval ends with ``(N more like this)``,
    N being how many of that key were held back since the last one logged; :meth:`flush` logs the
    counts still held back (call it at shutdown, so nothing is lost silently). Thread-safe.

    Args:
        logger: where the warnings go.
        interval: seconds between two warnings of the same key.
        clock: monotonic time source (tests pass a fake one).
    """

    def __init__(
        self, logger: logging.Logger, interval: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.logger = logger
        self.interval = interval
        self.clock = clock
        self.suppressed = 0  # held back over the whole run
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}
        self._text: dict[str, str] = {}  # the last logged warning of each key, for flush()
        self._lock = threading.Lock()

    def warning(self, key: str, message: str, *args: object, exc_info: bool = False) -> bool:
        """Log ``message % args`` unless ``key`` was logged less than ``interval`` seconds ago.

        Args:
            key: the kind of warning (a fixed string chosen by the caller, never input data).
            message: %-style format, as for :meth:`logging.Logger.warning`.
            *args: values for ``message``.
            exc_info: add the traceback of the exception being handled.

        Returns:
            True if the warning was logged, False if it was only counted.
        """
        now = self.clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.interval:
                self._held[key] = self._held.get(key, 0) + 1
                self.suppressed += 1
                return False
            self._last[key] = now
            held = self._held.pop(key, 0)
            self._text[key] = message % args if args else message
        if held:
            message += f" ({held} more like this)"
        self.logger.warning(message, *args, exc_info=exc_info)
        return True

    def flush(self) -> None:
        """Log one line per key whose warnings are still held back, and forget them."""
        with self._lock:
            held, self._held = self._held, {}
        for key, count in held.items():
            self.logger.warning("%d more like this: %s", count, self._text[key])

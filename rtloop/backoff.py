"""Exponential back-off for retrying something that failed: 1, 2, 4 ... seconds, capped."""

from __future__ import annotations


class Backoff:
    """When to try again after a failure.

    Args:
        first: seconds before the first retry.
        maximum: cap of the delay between retries.
    """

    def __init__(self, first: float = 1.0, maximum: float = 30.0) -> None:
        if not 0 < first <= maximum:
            raise ValueError("back-off delays must satisfy 0 < first <= maximum")
        self.first, self.maximum = first, maximum
        self.delay = first
        self.next_try: float | None = None  # None: nothing has failed

    @property
    def waiting(self) -> bool:
        """True between a failure and the success that ends it."""
        return self.next_try is not None

    def failed(self, now: float) -> None:
        """Record a failure (the first one, or a retry that did not work): the next try waits longer."""
        if self.next_try is None:
            self.delay = self.first
        else:
            self.delay = min(2 * self.delay, self.maximum)
        self.next_try = now + self.delay

    def due(self, now: float) -> bool:
        """True when a retry should be made now."""
        return self.next_try is not None and now >= self.next_try

    def succeeded(self) -> None:
        """The thing works again: the next failure starts from the first delay."""
        self.next_try = None
        self.delay = self.first

"""Ownership of I/O objects: everything that holds a thread, socket, port, stream or process closes."""

from __future__ import annotations

from types import TracebackType
from typing import Any


class Closing:
    """Mixin making an object with ``close()`` a context manager (``with obj:`` closes it).

    ``close`` must be idempotent and must not raise: teardown runs on every failure path.
    """

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Any:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

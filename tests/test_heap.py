"""Returning the C heap's free pages to the system (the scoring process does it once it is ready)."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

from rtloop.heap import return_free_memory


def _anon_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    raise AssertionError("no RssAnon in /proc/self/status")


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_freed_heap_pages_go_back_to_the_system() -> None:
    chunks = [bytearray(100_000) for _ in range(600)]  # 60 MB in heap-sized pieces (below mmap's threshold)
    keep = chunks[-1]  # pins the heap's top: free() alone cannot shrink it
    del chunks
    before = _anon_kib()
    return_free_memory()
    assert before - _anon_kib() > 30_000, "malloc_trim returned less than 30 MB of the 60 MB freed"
    assert len(keep) == 100_000

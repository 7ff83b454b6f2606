"""Memory for the realtime path: arrays resident from the start, and no transparent huge pages.

Transparent huge pages cost a realtime thread twice. A first write into a huge-page region faults in
and zeroes 2 MiB at once, and the kernel's khugepaged copies small pages into huge ones in the
background. Each took about 9 ms on a 2-core AMD EPYC VM, and that kernel is not preemptible
(``CONFIG_PREEMPT_NONE``), so JACK's realtime threads waited for them past a 256-frame period: every
xrun ``perf sched timehist`` caught there in ``bench/latency.py`` before this module was one of the
two. numpy asks for huge pages for every array of 4 MiB and more, so both happened to the audio ring
and to the scoring child's arrays.
"""

from __future__ import annotations

import ctypes
import mmap
import sys

import numpy as np

_PR_SET_THP_DISABLE = 41  # linux/prctl.h


def resident_zeros(length: int, dtype: type = np.float32) -> np.ndarray:
    """A zero array for the audio thread to write: in small pages, every one in memory from the start.

    Its own anonymous mapping that opts out of huge pages (where the platform can), written once here:
    ``np.zeros`` leaves pages to fault in on their first write, which would be the callback's.
    """
    if hasattr(mmap, "MAP_PRIVATE"):  # POSIX
        size = max(1, length * np.dtype(dtype).itemsize)
        memory = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        if hasattr(mmap, "MADV_NOHUGEPAGE"):  # Linux
            memory.madvise(mmap.MADV_NOHUGEPAGE)
        data = np.frombuffer(memory, dtype=dtype, count=length)
    else:
        data = np.empty(length, dtype=dtype)
    data.fill(0)
    return data


def no_huge_pages_in_this_process() -> None:
    """Turn transparent huge pages off for this process and the processes it starts (Linux's
    ``PR_SET_THP_DISABLE``; elsewhere, or where the kernel refuses, nothing changes)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None).prctl(_PR_SET_THP_DISABLE, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass

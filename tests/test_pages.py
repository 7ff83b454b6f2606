"""Memory for the realtime path (rtloop.pages): resident arrays without huge pages, and a process that
turns transparent huge pages off for itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rtloop.pages import resident_zeros


def _mapping_fields(address: int) -> dict[str, str]:
    """The /proc/self/smaps fields of the mapping holding ``address``."""
    fields: dict[str, str] = {}
    inside = False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split(maxsplit=1)[0]
        if "-" in head and not head.endswith(":"):
            low, high = (int(part, 16) for part in head.split("-"))
            if inside:
                break
            inside = low <= address < high
        elif inside:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/smaps is Linux's")
def test_resident_zeros_are_in_memory_and_never_in_huge_pages() -> None:
    data = resident_zeros(3_000_000)  # 12 MB: numpy would ask for huge pages
    assert data.dtype == np.float32 and data.shape == (3_000_000,) and not data.any() and data.flags.writeable
    fields = _mapping_fields(data.__array_interface__["data"][0])
    assert int(fields["Rss"].split()[0]) * 1024 >= data.nbytes  # every page already faulted in
    assert "nh" in fields["VmFlags"].split() and int(fields["AnonHugePages"].split()[0]) == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_THP_DISABLE is Linux's")
def test_a_process_turns_huge_pages_off_for_itself() -> None:
    script = (
        "import ctypes; from pathlib import Path\n"
        "from rtloop.pages import no_huge_pages_in_this_process\n"
        "state = lambda: [l.split()[1] for l in Path('/proc/self/status').read_text().splitlines()"
        " if l.startswith('THP_enabled:')]\n"
        "ctypes.CDLL(None).prctl(41, 0, 0, 0, 0)\n"  # as a process that inherited nothing
        "before = state(); no_huge_pages_in_this_process(); print(before, state())\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    if out.strip() == "[] []":
        pytest.skip("this kernel's /proc/PID/status has no THP_enabled (Linux < 5.0)")
    assert out.strip() == "['1'] ['0']"

"""Loops through real POSIX shared memory: exact round trips, growth, cleanup, and bad requests."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rtloop.errors import AudioError
from rtloop.wave_handoff import WaveReceiver, WaveSender


def _exists(name: str) -> bool:
    """Whether segment ``name`` is there (Linux; attaching would register it with our resource tracker)."""
    return Path("/dev/shm", name).exists()


def test_waves_arrive_exactly_and_a_larger_request_grows_the_segment() -> None:
    rng = np.random.default_rng(0)
    short = [rng.standard_normal(48000).astype(np.float32), np.zeros(0, np.float32), rng.standard_normal(7)]
    long = [rng.standard_normal(12 * 48000).astype(np.float32)]  # 2.3 MB: more than the first segment
    with WaveSender() as sender, WaveReceiver() as receiver:
        first, lengths = sender.put(short)
        assert lengths == [48000, 0, 7]
        for sent, got in zip(short, receiver.take(first, lengths), strict=True):
            assert got.dtype == np.float32 and np.array_equal(got, sent.astype(np.float32))
        again, _ = sender.put(short)
        assert again == first  # it fits: the same segment is written over
        grown, lengths = sender.put(long)
        assert grown != first and not _exists(first)
        (got,) = receiver.take(grown, lengths)
        assert np.array_equal(got, long[0])
        got[:] = 0.0  # a copy: the child may keep it while the parent writes the next request
        assert np.array_equal(receiver.take(grown, lengths)[0], long[0])
        assert receiver.take(grown, []) == []
    assert not _exists(grown)  # closing the sender unlinks its segment


def test_bad_requests_get_a_clear_error() -> None:
    with WaveSender() as sender, WaveReceiver() as receiver:
        with pytest.raises(AudioError, match="mono"):
            sender.put([np.zeros((2, 100), np.float32)])
        name, _ = sender.put([np.zeros(100, np.float32)])
        with pytest.raises(ValueError, match="does not fit"):
            receiver.take(name, [1 << 30])
        with pytest.raises(ValueError, match="does not fit"):
            receiver.take(name, [200, -100])
        with pytest.raises(FileNotFoundError):
            receiver.take("rtloop-no-such-segment", [10])


def test_a_killed_daemons_segment_is_unlinked_by_the_resource_tracker() -> None:
    code = (
        "import os, signal, numpy as np\n"
        "from rtloop.wave_handoff import WaveSender\n"
        "print(WaveSender().put([np.zeros(10, np.float32)])[0], flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == -signal.SIGKILL
    name = done.stdout.strip()
    deadline = time.monotonic() + 10
    while _exists(name):
        assert time.monotonic() < deadline, f"{name} outlived its process"
        time.sleep(0.05)

"""rtloop's onnxruntime sessions flush denormal floats on onnxruntime's threads, and on the thread that
makes them only in rtloop's own processes (``rtloop.session_options``).

HTS-AT's masked softmax makes denormals in every shifted-window block, which x86 CPUs multiply in
microcode; what flushing gains is measured by bench/embed_speed.py (with and without --keep-denormals).
onnxruntime sets the creating thread's flags once per process, at its first session, so each case runs
in a fresh interpreter.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SESSION_THEN_NUMPY = """
import sys
import numpy as np
import onnxruntime as ort
from rtloop.session_options import _IDENTITY_GRAPH, flush_denormals_in_this_process, session_options

if sys.argv[1] == "flag-first":  # the process's first session asks for the flag itself
    options = ort.SessionOptions()
    options.add_session_config_entry("session.set_denormal_as_zero", "1")
else:
    if sys.argv[1] == "rtloop-process":
        flush_denormals_in_this_process()
    options = session_options()
session = ort.InferenceSession(_IDENTITY_GRAPH, options, providers=["CPUExecutionProvider"])
print(options.get_session_config_entry("session.set_denormal_as_zero"), float(np.float32(2e-38) * np.float32(0.5)))
"""


def session_then_numpy(mode: str) -> tuple[str, float]:
    """Create a session in a fresh interpreter, then halve 2e-38 in numpy on the same thread: the
    session's denormal flag, and numpy's result (1e-38, a denormal, if the thread is IEEE; else 0)."""
    done = subprocess.run(
        [sys.executable, "-c", SESSION_THEN_NUMPY, mode],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=True,
    )
    flag, half = done.stdout.split()
    return flag, float(half)


def test_sessions_flush_denormals_but_a_library_users_thread_stays_ieee() -> None:
    flag, half = session_then_numpy("library")
    assert flag == "1"
    assert half == pytest.approx(1e-38, rel=1e-6)


def test_rtloops_own_processes_flush_on_the_thread_that_makes_sessions_too() -> None:
    assert session_then_numpy("rtloop-process") == ("1", 0.0)


def test_without_rtloops_first_session_onnxruntime_would_flush_the_calling_thread() -> None:
    """The premise of ``_make_first_session``: a flagged first session flushes its creator's floats (if
    onnxruntime stops doing so, this fails, and the first unflagged session can go)."""
    assert session_then_numpy("flag-first") == ("1", 0.0)

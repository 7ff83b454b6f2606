"""The worker processes of training's and scan's pools end when their parent is killed (SIGKILL).

The workers here wait for work; busy ones end as fast (38 ms after the parent in a manual check): the
thread that ends them waits for the parent whatever the worker does.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")

from rtloop.synth import write_loop_set  # noqa: E402

# Each program starts a pool of two real workers, has them work once, says "ready" and waits.
_EMBED_PARENT = """
import sys, time, types
import numpy as np
from export.embed_workers import EmbedWorkers
from rtloop.bundle import ENCODER_FILE, load_bundle
from pathlib import Path
bundle = Path(sys.argv[1])
graph = types.SimpleNamespace(shipped=bundle / ENCODER_FILE, frontend=load_bundle(bundle).frontend)
workers = EmbedWorkers(graph, jobs=2)
workers.embed([np.zeros(48000, dtype=np.float32)] * 2)
print("ready", flush=True)
time.sleep(600)
"""
_SCAN_PARENT = """
import sys, time
from pathlib import Path
from rtloop.library.scan import ProcessRunner
from rtloop.library.worker import Task
runner = ProcessRunner(Path(sys.argv[1]), 2)
list(runner.map([[Task(sys.argv[2], None)], [Task(sys.argv[2], None)]]))
print("ready", flush=True)
time.sleep(600)
"""


def _workers(pid: int) -> list[int]:
    """The pool workers whose parent is ``pid`` (Linux /proc): not multiprocessing's resource tracker."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == pid and b"spawn_main" in command:
            found.append(int(stat.parent.name))
    return found


def _running(pid: int) -> bool:
    """Whether ``pid`` still runs (an exited process that nobody reaped does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _kill_parent_and_wait_for_workers(program: str, *args: str) -> None:
    parent = subprocess.Popen([sys.executable, "-c", program, *args], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        assert select.select([parent.stdout], [], [], 120)[0], "the pool did not start within 120 s"
        assert parent.stdout.readline().strip() == "ready"
        workers = _workers(parent.pid)
        assert len(workers) == 2, workers
        parent.kill()
        parent.wait(timeout=10)
        deadline = time.monotonic() + 20
        while any(_running(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [pid for pid in workers if _running(pid)]
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        assert not left, f"worker processes {left} outlived their killed parent"
    finally:
        parent.kill()
        parent.wait()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_training_workers_end_with_their_killed_parent(trained_bundle: Path) -> None:
    _kill_parent_and_wait_for_workers(_EMBED_PARENT, str(trained_bundle))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_scan_workers_end_with_their_killed_parent(trained_bundle: Path, tmp_path: Path) -> None:
    loop = write_loop_set(tmp_path / "loops", 1, seed=3)[0]
    _kill_parent_and_wait_for_workers(_SCAN_PARENT, str(trained_bundle), str(loop))

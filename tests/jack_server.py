"""A private jackd server (dummy backend) for the tests that need real JACK; ``pythonpath`` in pyproject.toml
makes this module importable from any test."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` every 0.1 s until it holds; AssertionError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Jack:
    """A private jackd server and the JACK tools and clients run against it, all stopped by :meth:`close`.

    Args:
        log: file the server and the spawned tools write to.
        name: the server's name. Keep one fixed name per test module: JACK's registry has room for few
            servers and frees the entry of a server that died only when one of the same name starts again.
        realtime: try realtime scheduling first (as on stage; root here), falling back to --no-realtime.
        period: frames per JACK cycle (256: 5.3 ms at 48 kHz).
    """

    def __init__(self, log: Path, name: str = "rtloop-test", realtime: bool = False, period: int = 256) -> None:
        self.name = name
        self.env = {**os.environ, "JACK_DEFAULT_SERVER": name, "JACK_NO_AUDIO_RESERVATION": "1"}
        self.log = log.open("w")
        self.procs: list[subprocess.Popen] = []
        for mode in ("--realtime", "--no-realtime")[0 if realtime else 1 :]:
            argv = ["jackd", "-n", name, mode, "-d", "dummy", "-r", "48000", "-p", str(period)]
            self.server = self.spawn(argv)
            try:
                wait_for(lambda: "system:capture_1" in self.ports() or self.server.poll() is not None, 15, "jackd")
            except AssertionError:
                self.close()
                raise
            if self.server.poll() is None:
                return
        self.close()
        raise AssertionError("jackd did not start")

    def spawn(self, argv: list[str], **kwargs) -> subprocess.Popen:  # type: ignore[no-untyped-def]
        """Start a JACK tool against this server; it is stopped by :meth:`close`."""
        kwargs.setdefault("stdout", self.log)
        kwargs.setdefault("stderr", self.log)
        kwargs.setdefault("env", self.env)
        proc = subprocess.Popen(argv, **kwargs)
        self.procs.append(proc)
        return proc

    def ports(self) -> str:
        """``jack_lsp``: every port, one per line."""
        return subprocess.run(["jack_lsp"], env=self.env, capture_output=True, text=True).stdout

    def connect(self, source: str, destination: str) -> None:
        subprocess.run(["jack_connect", source, destination], env=self.env, check=True)

    def close(self) -> None:
        """Stop the tools, then the server, each by its PID."""
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.procs.clear()
        self.log.close()

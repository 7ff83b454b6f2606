"""Soak test: hours of music, accelerated, through the real daemon, with faults injected.

A looped recording is replayed `--speed` times faster than real time, a MIDI clock runs at the same
accelerated pace through rtloop's clock follower, and every `--fault-every` seconds one fault is
injected in turn: the clock stops ticking (lost, then Start), a Stop/Start restart, the audio input
vanishing and coming back. Prints loops scored, loops lost outside the injected gaps, RSS and open
file descriptors at start and end.

    python bench/soak.py [--minutes 10] [--speed 3] [--fault-every 30] [--bundle PATH]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np

from rtloop.audio_input import ArrayInput
from rtloop.backoff import Backoff
from rtloop.bundle import load_bundle
from rtloop.clock import CLOCK, START, STOP, ClockFollower, MidiClockReceiver
from rtloop.clocks import MidiClock
from rtloop.daemon import Daemon
from rtloop.errors import DeviceError
from rtloop.osc_io import OscOut
from rtloop.reporter import Reporter
from rtloop.scorer_process import ScorerProcess
from rtloop.segmenter import Segmenter
from rtloop.synth import bass_loop

sys.path.insert(0, str(Path(__file__).resolve().parent))
from latency import proc_status_kib  # noqa: E402  (bench/ is a folder of scripts, not a package)

BPM = 120.0


class VanishingInput(ArrayInput):
    """A replayed take whose 'device' can be unplugged and plugged back (fault injection)."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.reopenable = True
        self.unplugged = threading.Event()

    def failure(self) -> str | None:
        return "unplugged (injected)" if self.unplugged.is_set() else None

    def reopen(self) -> None:
        if self.unplugged.is_set():
            raise DeviceError("still unplugged")
        self.last_xrun_frame = self.ring.written


class InjectedClock:
    """The soak test's clock input: its messages come from a thread of ours instead of a MIDI port."""

    reopenable = False

    def __init__(self) -> None:
        self.receiver = MidiClockReceiver()

    def close(self) -> None:
        """Nothing to close."""


def rss_kib() -> int:
    """This process's resident memory."""
    return proc_status_kib("self")["VmRSS"]


def clock(receiver: MidiClockReceiver, speed: float, stop: threading.Event, faults: list[str], daemon: Daemon) -> None:
    """Feed accelerated 24 PPQN ticks, injecting the clock faults named in ``faults``."""
    period = 60.0 / BPM / 24 / speed
    receiver(([START], 0.0))
    last = time.monotonic()
    while not stop.is_set():
        if faults:
            fault = faults.pop(0)
            if fault == "clock lost":
                time.sleep(1.0)
                receiver(([START], time.monotonic() - last))
            elif fault == "restart":
                receiver(([STOP], time.monotonic() - last))
                time.sleep(0.2)
                receiver(([START], time.monotonic() - last))
            last = time.monotonic()
        time.sleep(max(0.0, last + period - time.monotonic()))
        now = time.monotonic()
        receiver(([CLOCK], now - last))
        last = now


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=Path.home() / ".cache" / "rtloop" / "demo" / "bass.rtloop")
    parser.add_argument("--minutes", type=float, default=10.0)
    # the accelerated clock must stay a plausible MIDI clock (20..400 bpm: rtloop.clock): 120 bpm x 3
    parser.add_argument("--speed", type=float, default=3.0)
    parser.add_argument("--fault-every", type=float, default=30.0, help="wall seconds between injected faults")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    wave = np.concatenate([bass_loop(BPM, 1, 48000, rng) for _ in range(16)])
    audio = VanishingInput(wave, 48000, speed=args.speed, loop=True)
    midi = InjectedClock()
    receiver = midi.receiver
    scorer = ScorerProcess(load_bundle(args.bundle))
    follower = ClockFollower(4, lost_after=0.5 / args.speed)
    daemon = Daemon(
        scorer,
        audio,
        MidiClock(midi, follower, Backoff(1.0, 30.0)),  # type: ignore[arg-type]
        Segmenter(1),
        Reporter(OscOut([("127.0.0.1", 9)]), print_line=lambda _line: None),
    )
    stop = threading.Event()
    runner = threading.Thread(target=daemon.run, args=(stop,))
    start_rss, start_fds = rss_kib(), len(os.listdir("/proc/self/fd"))
    runner.start()
    faults: list[str] = []
    feeder = threading.Thread(target=clock, args=(receiver, args.speed, stop, faults, daemon), daemon=True)
    feeder.start()
    injected = {"clock lost": 0, "restart": 0, "unplug": 0}
    began = time.monotonic()
    kinds = ["clock lost", "restart", "unplug"]
    warm_rss = 0
    while time.monotonic() - began < args.minutes * 60:
        if not warm_rss and time.monotonic() - began > 60:
            warm_rss = rss_kib()  # after a minute: allocator pools and lazy imports have settled
        time.sleep(args.fault_every)
        kind = kinds[sum(injected.values()) % len(kinds)]
        injected[kind] += 1
        if kind == "unplug":
            audio.unplugged.set()
            time.sleep(2.0)
            audio.unplugged.clear()
        else:
            faults.append(kind)
    stop.set()
    runner.join(timeout=60)
    scorer.close()
    summary = daemon.summary
    benign = ("no full 1-bar window yet", "input overflow (xrun) inside the window")
    lost = sum(n for why, n in summary.skipped.items() if why not in benign)
    music = (time.monotonic() - began) * args.speed / 60
    print(f"{args.minutes:.0f} min wall = {music:.0f} min of music at {args.speed:g}x; faults injected: {injected}")
    print(f"loops scored: {summary.scored}; skipped: {dict(summary.skipped)}")
    print(f"loops lost outside the injected gaps: {lost}")
    print(
        f"RSS: {start_rss / 1024:.1f} MiB at start, {warm_rss / 1024:.1f} MiB after the first minute, "
        f"{rss_kib() / 1024:.1f} MiB at end"
    )
    print(f"open file descriptors: {start_fds} at start, {len(os.listdir('/proc/self/fd'))} at end")
    return 0


if __name__ == "__main__":
    sys.exit(main())

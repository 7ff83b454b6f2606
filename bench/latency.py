"""Latency benchmark: bar boundary in the audio -> OSC packet leaving, over >= 200 bars.

Runs the real live path: a private jackd (dummy backend, 48 kHz, 256 frames), jack-play feeding
rtloop's PortAudio input, rtloop's internal clock, HTS-AT-tiny (random weights) on the CPU, and
prints rtloop's own summary: latency p50/p95/p99, audio callback duration, xruns during scoring.

    python bench/latency.py [--bars 200] [--bpm 240]

Needs: jackd2, jack-tools, a trained demo bundle (run `rtloop demo` once) or --bundle.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from rtloop.synth import bass_loop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=Path.home() / ".cache" / "rtloop" / "demo" / "bass.rtloop")
    parser.add_argument("--bars", type=int, default=200)
    parser.add_argument("--bpm", type=float, default=240.0, help="4/4 bars of 1 s at 240 bpm")
    args = parser.parse_args()
    if not (args.bundle / "manifest.json").is_file():
        parser.error(f"no bundle at {args.bundle}: run `rtloop demo` once, or pass --bundle")
    env = {**os.environ, "JACK_DEFAULT_SERVER": "rtloop-bench", "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        take = Path(tmp) / "take.wav"
        sf.write(take, np.concatenate([bass_loop(args.bpm, 1, 48000, rng) for _ in range(args.bars + 3)]), 48000)
        jackd = subprocess.Popen(
            ["jackd", "-n", "rtloop-bench", "--realtime", "-d", "dummy", "-r", "48000", "-p", "256"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs = [jackd]
        try:
            time.sleep(2)
            argv = [sys.executable, "-m", "rtloop.cli", "run", str(args.bundle), "--input", "system"]
            argv += ["--bpm", str(args.bpm), "--bars", "1", "--control", "off"]
            rtloop = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True)
            procs.append(rtloop)
            assert rtloop.stdout is not None
            head = [rtloop.stdout.readline() for _ in range(2)]  # the startup line, then "status: running"
            if not head[-1].startswith("status:"):
                raise SystemExit(f"rtloop did not start: {''.join(head)}")
            player = subprocess.Popen(["jack-play", "-b", "16384", str(take)], env=env, stdout=subprocess.DEVNULL)
            procs.append(player)
            time.sleep(0.5)
            subprocess.run(["jack_connect", f"jack-play-{player.pid}:out_1", "PortAudio:in_0"], env=env, check=True)
            player.wait(timeout=args.bars * 240 / args.bpm + 60)
            time.sleep(2)
            rtloop.send_signal(signal.SIGTERM)
            out, _ = rtloop.communicate(timeout=30)
        finally:
            for proc in reversed(procs):
                if proc.poll() is None:
                    proc.terminate()
                    proc.wait(timeout=10)
    summary = out[out.index("loops scored:") :] if "loops scored:" in out else out[-2000:]
    print(
        f"HTS-AT-tiny (fusion) on CPU, 1 scoring thread, {args.bars} bars of {240 / args.bpm:.2f} s, "
        "JACK dummy 48 kHz/256"
    )
    print(summary.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())

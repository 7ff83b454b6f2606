"""Latency benchmark: bar boundary in the audio -> OSC packet leaving, against one bare laion-clap pass.

One run prints what issue 11's targets ask for:

* the live path: a private jackd (dummy backend, 48 kHz, 256 frames), jack-play feeding rtloop's
  PortAudio input, rtloop's internal clock, the bundle's encoder on the CPU; rtloop's own summary
  (latency p50/p95/p99, the descriptor aspects' (sent before the network answers), audio callback
  duration, xruns during scoring);
* the CPU time the hypervisor stole from the machine during the live run (``steal`` in /proc/stat):
  on a VM, a stolen stretch stops even JACK's realtime threads, an xrun no program inside can prevent;
* resident memory of the daemon and its scoring child (largest sampled ``RssAnon + RssFile``: without
  JACK's shared memory segment, which every JACK client maps; ``VmHWM`` beside it);
* then, with the daemon gone, one bare laion-clap PyTorch pass (its HTS-AT-tiny + fusion and the audio
  projection, batch 1, 2 threads, random weights) over each of the same bars, padded to 10 s as
  laion-clap does: first one pass per bar, a bar apart, as a live caller would run it, then back to
  back; the p50/p95 of each, and the ratio live p95 / laion-clap p95 against each. On a VM a pass
  after the machine idled for most of a bar can take longer than one right after another, and so can
  the daemon's encoder: the paced pass is the like-for-like reference, the back-to-back one the stricter.

The take is one continuous performance of the demo's riff at ``--bpm``. The clock does not start with
it, so each window is a whole bar at some phase of the music, and the flags the summary counts measure
nothing here: at the default 240 bpm the riff runs twice as fast as the demo bundle's loops, and the
integrity aspect flags nearly every bar (at 120 bpm, 13 of 99 bars in one run).

    python bench/latency.py [--bars 200] [--bpm 240] [--threads 2] [--bundle B] [--laion-bars 30]

Needs: jackd2, jack-tools, a trained demo bundle (run `rtloop demo` once) or --bundle; laion-clap's
reference install (``scripts/setup.sh --test``) for the ratio.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import soundfile as sf

from rtloop.frontend import FrontEndConfig, batch_inputs
from rtloop.live import RunConfig
from rtloop.synth import bass_loop

RATE = 48000
BLOCK = 256
MIB = 1024 * 1024
MEMORY_TARGET_MIB = 450.0
FAST_ASPECTS_TARGET_MS = 20.0
CALLBACK_TARGET_MS = 1.0
SAMPLE_EVERY_S = 0.5
LIVE_LINE = re.compile(r"^latency bar boundary -> OSC: p50 (\S+) ms, p95 (\S+) ms, p99 (\S+) ms", re.M)
FAST_LINE = re.compile(r"^descriptor aspects bar boundary -> OSC: p50 (\S+) ms, p95 (\S+) ms, p99 (\S+) ms", re.M)
XRUN_LINE = re.compile(r"^input overflows \(xruns\): (\d+)", re.M)
CALLBACK_LINE = re.compile(r"^audio callback duration: p50 (\S+) ms, p99 (\S+) ms", re.M)
SCORED_LINE = re.compile(r"^loops scored: (\d+)", re.M)


def machine() -> str:
    """CPU model and the cores this process may use, for the header."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {len(os.sched_getaffinity(0))} cores"


def load() -> str:
    """The 1-minute load average: other work on the machine slows both measurements, not always alike."""
    return f"load average {os.getloadavg()[0]:.2f}"


def stolen_seconds() -> float | None:
    """CPU time the hypervisor has taken from this VM's CPUs since boot (``steal`` in /proc/stat, all
    CPUs together), or None where it is not reported. A stolen stretch stops even a realtime audio thread."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def proc_status_kib(pid: int | str) -> dict[str, int]:
    """Every ``kB`` field (``VmHWM``, ``VmRSS``, ``RssAnon``...) of /proc/PID/status (``pid`` may be
    "self"), read at once; empty once the process is gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    fields = (line.split(":", 1) for line in lines)
    return {key: int(value.split()[0]) for key, value in fields if value.endswith(" kB")}


def descendants(pid: int) -> list[int]:
    """The children of ``pid``, their children and so on (from /proc/PID/task/*/children)."""
    found: list[int] = []
    pending = [pid]
    while pending:
        parent = pending.pop()
        for children in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                kids = [int(k) for k in children.read_text().split()]
            except OSError:
                continue
            found += kids
            pending += kids
    return found


def process_label(pid: int) -> str:
    """What a process of the daemon's tree is: the daemon, the scoring child, the resource tracker..."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "gone"
    if "resource_tracker" in cmdline:
        return "multiprocessing resource tracker"
    if "spawn_main" in cmdline or "--multiprocessing-fork" in cmdline:
        return "scoring child"
    return cmdline[:60]


@dataclass
class MemoryWatch:
    """Resident memory of a process tree, per process: the peak (``VmHWM``) and the largest sampled own
    resident memory, ``RssAnon + RssFile``: ``VmRSS`` without shared memory, which here is JACK's
    segment (/dev/shm/jack-*, ~100 MiB mapped by jackd and every client alike)."""

    root: int
    labels: dict[int, str] = field(default_factory=dict)
    peak_kib: dict[int, int] = field(default_factory=dict)
    own_kib: dict[int, int] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def sample(self) -> None:
        """Reads every process of the tree once."""
        for pid in [self.root, *descendants(self.root)]:
            status = proc_status_kib(pid)
            if not {"VmHWM", "RssAnon", "RssFile"} <= status.keys():
                continue
            hwm, anon, file = status["VmHWM"], status["RssAnon"], status["RssFile"]
            if pid not in self.labels:
                self.labels[pid] = "daemon" if pid == self.root else process_label(pid)
            self.peak_kib[pid] = max(self.peak_kib.get(pid, 0), hwm)
            self.own_kib[pid] = max(self.own_kib.get(pid, 0), anon + file)

    def run(self) -> None:
        """Samples every SAMPLE_EVERY_S until ``stop`` is set (a thread's target)."""
        while not self.stop.wait(SAMPLE_EVERY_S):
            self.sample()

    def lines(self) -> list[str]:
        """Each process's figures, and the daemon + scoring child sum against the target."""
        lines = [
            f"  {self.labels[pid]} (pid {pid}): own resident {self.own_kib[pid] / 1024:.0f} MiB, "
            f"VmHWM {kib / 1024:.0f} MiB (with shared memory)"
            for pid, kib in self.peak_kib.items()
        ]
        core = sum(kib for pid, kib in self.own_kib.items() if self.labels[pid] in ("daemon", "scoring child"))
        lines.append(
            f"  daemon + scoring child, own resident: {core / 1024:.0f} MiB (target <= {MEMORY_TARGET_MIB:.0f} MiB)"
        )
        return lines


def drain(stream: IO[str], into: list[str]) -> None:
    """Keeps a child's stdout flowing (a full pipe would block it), keeping every line."""
    for line in stream:
        into.append(line)


def live_run(args: argparse.Namespace, take: Path) -> tuple[str, MemoryWatch]:
    """Plays ``take`` through a private jackd into ``rtloop run``; its output and memory peaks."""
    server = f"rtloop-bench-{os.getpid()}"
    env = {**os.environ, "JACK_DEFAULT_SERVER": server, "PYTHONUNBUFFERED": "1"}
    jackd = subprocess.Popen(
        ["jackd", "-n", server, "--realtime", "-d", "dummy", "-r", str(RATE), "-p", str(BLOCK)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    procs: list[subprocess.Popen] = [jackd]
    lines: list[str] = []
    try:
        time.sleep(2)
        argv = [sys.executable, "-m", "rtloop.cli", "run", str(args.bundle), "--input", "system"]
        argv += ["--bpm", str(args.bpm), "--bars", "1", "--control", "off", "--threads", str(args.threads)]
        rtloop = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True)
        procs.append(rtloop)
        assert rtloop.stdout is not None
        while not (lines and lines[-1].startswith("status:")):
            line = rtloop.stdout.readline()
            if not line:
                raise SystemExit(f"rtloop did not start: {''.join(lines)}")
            lines.append(line)
        reader = threading.Thread(target=drain, args=(rtloop.stdout, lines), daemon=True)
        reader.start()
        watch = MemoryWatch(rtloop.pid)
        sampler = threading.Thread(target=watch.run, daemon=True)
        sampler.start()
        player = subprocess.Popen(["jack-play", "-b", "16384", str(take)], env=env, stdout=subprocess.DEVNULL)
        procs.append(player)
        time.sleep(0.5)
        subprocess.run(["jack_connect", f"jack-play-{player.pid}:out_1", "PortAudio:in_0"], env=env, check=True)
        player.wait(timeout=args.bars * 240 / args.bpm + 60)
        time.sleep(2)
        watch.stop.set()
        sampler.join()
        watch.sample()  # VmHWM just before SIGTERM: the peaks of the whole run
        rtloop.send_signal(signal.SIGTERM)
        rtloop.wait(timeout=30)
        reader.join(timeout=5)
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=10)
    return "".join(lines), watch


def laion_pass_ms(bars: list[np.ndarray], count: int, periods: tuple[float | None, ...]) -> list[np.ndarray] | None:
    """Milliseconds of one bare laion-clap pass (HTS-AT + projection, batch 1) over each of ``count`` bars,
    once per entry of ``periods``: passes started ``period`` seconds apart, one per bar as a live caller
    would make them (the machine idles between them, as between the daemon's loops), or back to back
    for None.

    Bars are taken in order, again from the first when ``count`` exceeds them; each is padded to 10 s by
    laion-clap's rule (``repeatpad``) and made into its mel before the clock starts: the time is the
    network's alone. None where laion-clap is not installed.
    """
    import torch

    warnings.filterwarnings("ignore", message="torch.meshgrid", category=UserWarning)  # inside laion-clap

    from export.clap_checkpoint import build_encoder
    from export.htsat import htsat_config
    from export.laion_reference import laion_audio_encoder

    torch.set_num_threads(2)
    ours = build_encoder(htsat_config("HTSAT-tiny", fusion=True), None, seed=0)
    clap = laion_audio_encoder(ours.audio_projection)
    if clap is None:
        return None
    frontend = FrontEndConfig(pad="repeatpad")
    inputs = [tuple(torch.from_numpy(a) for a in batch_inputs([bars[i % len(bars)]], frontend)) for i in range(count)]
    runs = []
    with torch.inference_mode():
        clap(*inputs[0])  # warm-up
        for period in periods:
            times = np.zeros(count)
            due = time.perf_counter()
            for i, (mel, longer) in enumerate(inputs):
                if period is not None:
                    due += period
                    time.sleep(max(0.0, due - time.perf_counter()))
                start = time.perf_counter()
                clap(mel, longer)
                times[i] = (time.perf_counter() - start) * 1000.0
            runs.append(times)
    return runs


def parsed(pattern: re.Pattern[str], text: str) -> tuple[float, ...] | None:
    """The numbers of the last line of rtloop's summary that ``pattern`` matches, or None."""
    found = pattern.findall(text)
    if not found:
        return None
    last = found[-1]
    return tuple(float(v) for v in (last if isinstance(last, tuple) else (last,)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=Path.home() / ".cache" / "rtloop" / "demo" / "bass.rtloop")
    parser.add_argument("--bars", type=int, default=200)
    parser.add_argument("--bpm", type=float, default=240.0, help="4/4 bars of 1 s at 240 bpm")
    parser.add_argument("--threads", type=int, default=RunConfig.threads, help="passed to `rtloop run --threads`")
    parser.add_argument(
        "--laion-bars", type=int, default=30, help="bars for the laion-clap pass (0: as many as --bars; default 30)"
    )
    args = parser.parse_args()
    if not (args.bundle / "manifest.json").is_file():
        parser.error(f"no bundle at {args.bundle}: run `rtloop demo` once, or pass --bundle")
    bar_seconds = 240 / args.bpm
    rng = np.random.default_rng(0)
    # One continuous performance, its notes ringing over the bar lines as a player's do. Bars made one by
    # one would cut a note at every bar line: a click inside each window (the clock does not start with
    # the take), which the integrity aspect rightly flags.
    performance = bass_loop(args.bpm, args.bars + 3, RATE, rng)
    bar_frames = len(performance) // (args.bars + 3)
    bars = [performance[i * bar_frames : (i + 1) * bar_frames] for i in range(args.bars + 3)]
    print(
        f"{machine()}; bundle {args.bundle.name} on CPU, {args.threads} scoring thread(s), "
        f"{args.bars} bars of {bar_seconds:.2f} s, JACK dummy {RATE // 1000} kHz/{BLOCK}; {load()}",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        take = Path(tmp) / "take.wav"
        sf.write(take, performance, RATE)
        stolen_before = stolen_seconds()
        out, memory = live_run(args, take)
        stolen_after = stolen_seconds()
    summary = out[out.index("loops scored:") :] if "loops scored:" in out else out[-2000:]
    stolen = (
        ""
        if stolen_before is None or stolen_after is None
        else f", CPU time stolen by the hypervisor {stolen_after - stolen_before:.2f} s"
    )
    print(f"live run done ({load()}{stolen})")
    print(summary.strip())
    print("memory (sampled every 0.5 s while scoring):")
    print("\n".join(memory.lines()))

    count = args.laion_bars or args.bars
    print(f"laion-clap pass starts ({load()})", flush=True)
    laion = laion_pass_ms(bars[: args.bars], count, (bar_seconds, None))
    live = parsed(LIVE_LINE, summary)
    fast = parsed(FAST_LINE, summary)
    xruns = parsed(XRUN_LINE, summary)
    callback = parsed(CALLBACK_LINE, summary)
    scored = parsed(SCORED_LINE, summary)
    print("issue 11 targets:")
    if laion is None:
        print("  laion-clap is not installed (scripts/setup.sh --test): no bare-pass reference, no ratio")
    else:
        print(f"  bare laion-clap pass (HTS-AT + projection, batch 1, 2 threads, {count} bars padded to 10 s):")
        paces = (f"one per bar ({bar_seconds:.2f} s apart, as live)", "back to back")
        for times, how in zip(laion, paces, strict=True):
            p50, p95 = np.percentile(times, [50, 95])
            ratio = f"; live p95 / this p95 = {live[1] / p95:.2f}x (target <= 1.00x)" if live is not None else ""
            print(f"    {how}: p50 {p50:.0f} ms, p95 {p95:.0f} ms{ratio}")
    if live is None:
        print("  live latency: rtloop printed no latency line (nothing scored?)")
    else:
        print(f"  live bar boundary -> OSC: p50 {live[0]:.0f} ms, p95 {live[1]:.0f} ms, p99 {live[2]:.0f} ms")
    if fast is None:
        print(f"  descriptor aspects: not reported by this rtloop (target p95 <= {FAST_ASPECTS_TARGET_MS:.0f} ms)")
    else:
        print(
            f"  descriptor aspects bar boundary -> OSC: p50 {fast[0]:.1f} ms, p95 {fast[1]:.1f} ms, "
            f"p99 {fast[2]:.1f} ms (target p95 <= {FAST_ASPECTS_TARGET_MS:.0f} ms)"
        )
    if xruns is not None:
        print(f"  xruns: {xruns[0]:.0f} in {args.bars} bars, {scored[0] if scored else 0:.0f} loops scored (target 0)")
    if callback is not None:
        print(f"  audio callback p99: {callback[1]:.3f} ms (target <= {CALLBACK_TARGET_MS:.0f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

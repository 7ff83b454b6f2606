"""End to end with real components: jackd (dummy backend), jack-play into rtloop's PortAudio input,
jack_midi_clock (started by jack_transport) into rtloop's python-rtmidi JACK port, and liblo's oscdump
receiving rtloop's OSC. ``rtloop run`` is a real subprocess stopped with SIGTERM."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from jack_server import Jack, wait_for
from pythonosc.udp_client import SimpleUDPClient

from rtloop.synth import bass_loop
from rtloop.takes import JSONL, read_session

TOOLS = ("jackd", "jack_lsp", "jack_connect", "jack-play", "jack_midi_clock", "jack_transport", "oscdump")
pytestmark = [
    pytest.mark.jack,
    pytest.mark.slow,
    pytest.mark.skipif(any(shutil.which(t) is None for t in TOOLS), reason="JACK tools not installed"),
]
BARS, BPM = 10, 120.0
PLANTED_BARS = (3, 6, 9)  # several: a bar lost to an xrun (this VM has some) must not hide the check
# jack-play delays its output by its ring buffer; rtloop compensates that as any input latency
PLAYER_RING = 16384
PLAYER_LATENCY_MS = 337.0


@pytest.fixture
def jack(tmp_path: Path) -> Iterator[Jack]:
    # Realtime scheduling where the machine allows it (root here), as on stage; else --no-realtime,
    # where a loaded 2-core machine makes JACK report xruns that rtloop then skips bars for.
    # 1024 frames (21 ms), a common setting on stage: on a shared VM the dummy backend misses some 5 ms
    # cycles of a 256-frame period even idle (8 xruns in 5 s with one PortAudio input and nothing else),
    # and every bar an xrun falls in goes unscored.
    server = Jack(tmp_path / "jackd.log", realtime=True, period=1024)
    yield server
    server.close()


@pytest.fixture(scope="module")
def stream(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One-bar loops at 120 bpm, two more than the clock runs for (so a jittery clock never cuts into
    silence after the end); bars 3, 6 and 9 are played by another instrument."""
    rng = np.random.default_rng(31)
    bars = [
        bass_loop(BPM, 1, 48000, rng, deviation="instrument" if b in PLANTED_BARS else None) for b in range(1, BARS + 3)
    ]
    path = tmp_path_factory.mktemp("stream") / "stream.wav"
    # An interface's noise floor (-100 dBFS): live input is never digitally silent, and the synthesised
    # bars begin with exact zeros that a window cut a few ms early would place inside the loop.
    floor = 1e-5 * rng.standard_normal(sum(len(b) for b in bars)).astype(np.float32)
    sf.write(path, np.concatenate(bars) + floor, 48000, subtype="FLOAT")
    return path


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lines:
    """Collects a child's stdout lines on a thread."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def join(self) -> list[str]:
        self._thread.join(timeout=10)
        return self.lines


def run_rtloop(  # type: ignore[no-untyped-def]
    jack: Jack,
    bundle: Path,
    stream: Path,
    clock_args: list[str],
    script: list[tuple[float, str | Callable[[], None]]],
    extra: tuple[str, ...] = ("--control", "off"),
    virtual_port: bool = True,
):
    """Play ``stream`` and the MIDI clock through rtloop. ``script``: (seconds to wait, then a
    jack_transport command or a function to call); ``extra``: more ``rtloop run`` options.
    ``virtual_port``: rtloop makes a port the clock connects to (else rtloop opens the clock's port).

    Returns (OSC messages as (address, value) pairs, rtloop's stdout lines, its exit status).
    """
    port = _free_udp_port()
    dump = jack.spawn(["oscdump", "-L", str(port)], stdout=subprocess.PIPE, text=True)
    osc_lines = Lines(dump)
    argv = [sys.executable, "-m", "rtloop.cli", "run", str(bundle), "--input", "system", "--midi-api", "jack"]
    if virtual_port:
        argv += ["--midi-virtual", "--midi", "clock"]
    else:
        jack.spawn(["jack_midi_clock", *clock_args])
        wait_for(lambda: "jack_midi_clock:mclk_out" in jack.ports(), 10, "jack_midi_clock")
        argv += ["--midi", "jack_midi_clock:mclk_out"]
    argv += ["--bars", "1", "--latency-ms", str(PLAYER_LATENCY_MS), "--osc", f"127.0.0.1:{port}", *extra]
    rtloop = jack.spawn(argv, stdout=subprocess.PIPE, text=True, env={**jack.env, "PYTHONUNBUFFERED": "1"})
    out = Lines(rtloop)
    wait_for(lambda: "status: waiting_for_clock" in out.lines, 60, "rtloop to start")
    assert "PortAudio:in_0" in jack.ports()
    if virtual_port:
        jack.spawn(["jack_midi_clock", *clock_args, "rtloop:clock"])
    player = jack.spawn(["jack-play", "-t", "-b", str(PLAYER_RING), str(stream)])
    wait_for(lambda: f"jack-play-{player.pid}:out_1" in jack.ports(), 10, "jack-play")
    jack.connect(f"jack-play-{player.pid}:out_1", "PortAudio:in_0")
    transport = jack.spawn(["jack_transport"], stdin=subprocess.PIPE, text=True)
    assert transport.stdin is not None
    for delay, command in script:
        time.sleep(delay)
        if callable(command):
            command()
        else:
            transport.stdin.write(command + "\n")
            transport.stdin.flush()
    time.sleep(1.0)  # the last bar's scoring
    rtloop.send_signal(signal.SIGTERM)
    status = rtloop.wait(timeout=20)
    time.sleep(0.3)
    dump.terminate()
    messages = []
    for line in osc_lines.join():
        parts = line.split(" ", 3)
        if len(parts) == 4:
            _, address, tag, value = parts
            messages.append((address, float(value) if tag in "fi" else value.strip('"')))
    return messages, out.join(), status


def values(messages: list[tuple[str, object]], address: str) -> list:
    return [v for a, v in messages if a == address]


def check_bars(
    messages: list[tuple[str, object]], lines: list[str], status: int, min_bars: int = BARS - 1, max_skipped: int = 3
) -> None:
    """Every bar from 1 on gets exactly one anomaly message or one skip, in order; clean shutdown.

    A loaded 2-core VM makes JACK's dummy backend overrun now and then (3 bars of 9 once in CI); each
    bar it costs must be reported as such, and at most ``max_skipped`` may be."""
    assert status == 0, "\n".join(lines)
    scored = [int(b) for b in values(messages, "/rtloop/bar")]
    skipped = [int(b) for b in values(messages, "/rtloop/skipped")]
    assert len(values(messages, "/rtloop/variation")) == len(scored)  # one anomaly message per scored bar
    bars = sorted(scored + skipped)
    assert bars == list(range(1, len(bars) + 1)), (scored, skipped)  # consecutive, none twice
    assert len(bars) >= min_bars, "\n".join(lines)
    assert scored == sorted(scored)
    for bar in skipped:  # only a bar the audio server lost may go unscored, and it says so
        assert f"bar {bar:>5}  skipped: input overflow (xrun) inside the window" in lines, "\n".join(lines)
    assert len(skipped) <= max_skipped, "\n".join(lines)
    assert "stopped" in values(messages, "/rtloop/status")
    assert any(line.startswith("loops scored:") for line in lines)


def check_planted(messages: list[tuple[str, object]]) -> None:
    """Every scored planted bar scores above every scored normal bar, and is flagged."""
    scores = dict(zip(values(messages, "/rtloop/bar"), values(messages, "/rtloop/score"), strict=True))
    flags = dict(zip(values(messages, "/rtloop/bar"), values(messages, "/rtloop/flag"), strict=True))
    planted = [scores[b] for b in PLANTED_BARS if b in scores]
    normal = [s for b, s in scores.items() if b not in PLANTED_BARS and b <= BARS]
    assert planted and min(planted) > max(normal), sorted(scores.items())
    assert all(flags[b] == 1 for b in PLANTED_BARS if b in flags)


def test_jack_end_to_end_scores_every_bar_and_flags_the_planted_loop(
    jack: Jack, trained_bundle: Path, stream: Path
) -> None:
    messages, lines, status = run_rtloop(
        jack, trained_bundle, stream, ["-b", "120", "-B"], [(0.5, "play"), (BARS * 2.0, "stop")]
    )
    check_bars(messages, lines, status)
    check_planted(messages)
    assert values(messages, "/rtloop/tempo") == pytest.approx([120.0] * len(values(messages, "/rtloop/bar")), abs=0.5)


def test_jack_end_to_end_with_ten_percent_clock_jitter(jack: Jack, trained_bundle: Path, stream: Path) -> None:
    messages, lines, status = run_rtloop(
        jack, trained_bundle, stream, ["-b", "120", "-B", "-J", "10"], [(0.5, "play"), (BARS * 2.0, "stop")]
    )
    check_bars(messages, lines, status, max_skipped=4)  # jack_midi_clock -J makes the server late now and then
    # With -J, jackd's log shows jack-play missing cycles now and then: a dropout in the audio, not a
    # clock error, which can push one normal bar up. The planted bars must still stand out as a group.
    scores = dict(zip(values(messages, "/rtloop/bar"), values(messages, "/rtloop/score"), strict=True))
    planted = [s for b, s in scores.items() if b in PLANTED_BARS]
    normal = [s for b, s in scores.items() if b not in PLANTED_BARS]
    assert planted and np.median(planted) > 5 * np.median(normal), sorted(scores.items())
    tempi = values(messages, "/rtloop/tempo")
    assert np.median(tempi) == pytest.approx(120.0, abs=1.0) and tempi == pytest.approx([120.0] * len(tempi), abs=3.0)


def test_jack_end_to_end_follows_a_tempo_change(jack: Jack, trained_bundle: Path, stream: Path) -> None:
    script = [(0.5, "master"), (0.1, "tempo 120"), (0.1, "play"), (9.0, "tempo 90"), (12.0, "stop")]
    messages, lines, status = run_rtloop(jack, trained_bundle, stream, [], script)
    check_bars(messages, lines, status, min_bars=7)  # 4 bars at 120 bpm, then 3 or 4 at 90
    tempi = values(messages, "/rtloop/tempo")
    assert tempi[0] == pytest.approx(120.0, abs=1.0) and tempi[-1] == pytest.approx(90.0, abs=1.0), tempi


def test_jack_takes_marks_and_a_clock_removed_and_recreated(
    jack: Jack, trained_bundle: Path, stream: Path, tmp_path: Path
) -> None:
    """Takes for the planted bars only, a manual mark by OSC, and jack_midi_clock killed mid-run (its
    port vanishes), reported as a lost clock, then started again: rtloop follows it and scores on."""
    control = _free_udp_port()
    takes = tmp_path / "takes"

    def remove_clock() -> None:
        clocks = [p for p in jack.procs if p.args[0] == "jack_midi_clock"]
        clocks[-1].terminate()
        clocks[-1].wait(timeout=5)

    def mark() -> None:  # once a loop has been scored: a loaded machine may have skipped the first bars
        wait_for(lambda: (takes / JSONL).exists() and any(r.event == "loop" for r in read_session(takes)), 20, "a loop")
        SimpleUDPClient("127.0.0.1", control).send_message("/rtloop/mark", [])

    script = [
        (0.5, "play"),
        (6.3, mark),  # bar 3 (planted) has been scored by now
        (3.0, remove_clock),
        (1.5, lambda: jack.spawn(["jack_midi_clock", "-b", "120", "-B", "rtloop:clock"])),
        (0.5, "stop"),  # the new clock says Stop, Song Position and, once rolling, Continue
        (0.5, "play"),
        (9.0, "stop"),
    ]
    extra = ("--control", f"127.0.0.1:{control}", "--takes", str(takes))
    messages, lines, status = run_rtloop(jack, trained_bundle, stream, ["-b", "120", "-B"], script, extra)
    assert status == 0, "\n".join(lines)
    statuses = values(messages, "/rtloop/status")
    lost = statuses.index("clock_lost")
    assert "running" in statuses[lost:], statuses  # reported, and followed again after re-creation
    records = read_session(takes)
    loops = [r for r in records if r.event == "loop"]
    lost_line = lines.index("status: clock_lost")
    resumed = [line for line in lines[lost_line:] if line.startswith("bar ") and "skipped" not in line]
    assert len(resumed) >= 2, "\n".join(lines)  # scoring resumed after the clock came back
    marks = [r for r in records if r.event == "mark"]
    kept = {p.name for p in takes.glob("*.wav")}
    assert len(marks) == 1 and marks[0].file in kept, "\n".join(lines)
    for r in loops:  # a take for every flagged loop, none for the others but the marked one
        assert (r.file in kept) == (r.flagged or r.file == marks[0].file), r
    planted = [r for r in loops if r.bar == PLANTED_BARS[0]]  # scored before the clock was removed
    assert len(planted) == 1 and planted[0].flagged and planted[0].file in kept, loops


def test_jack_clock_port_that_vanishes_is_reopened_by_name(jack: Jack, trained_bundle: Path, stream: Path) -> None:
    """rtloop opens jack_midi_clock's own port; the clock dies (port gone), comes back (port
    re-created): rtloop reports the lost clock, reopens the port by name and scores on."""

    def kill_clock() -> None:
        clock = next(p for p in jack.procs if p.args[0] == "jack_midi_clock" and p.poll() is None)
        clock.terminate()
        clock.wait(timeout=5)

    script = [
        (0.5, "play"),
        (5.0, kill_clock),
        (1.5, lambda: jack.spawn(["jack_midi_clock", "-b", "120", "-B"])),
        (3.0, "stop"),  # by now rtloop has reconnected; Stop, Song Position, then Continue
        (0.5, "play"),
        (8.0, "stop"),
    ]
    messages, lines, status = run_rtloop(jack, trained_bundle, stream, ["-b", "120", "-B"], script, virtual_port=False)
    assert status == 0, "\n".join(lines)
    lost = lines.index("status: clock_lost")
    resumed = [line for line in lines[lost:] if line.startswith("bar ") and "skipped" not in line]
    assert len(resumed) >= 2, "\n".join(lines)


def test_jack_server_gone_ends_the_run_with_a_reason(jack: Jack, trained_bundle: Path) -> None:
    """PortAudio cannot reconnect to a restarted JACK server inside one process, so rtloop reports
    the lost audio and exits non-zero with the reason, for a service manager to restart it."""
    port = _free_udp_port()
    dump = jack.spawn(["oscdump", "-L", str(port)], stdout=subprocess.PIPE, text=True)
    osc_lines = Lines(dump)
    argv = [sys.executable, "-m", "rtloop.cli", "run", str(trained_bundle), "--input", "system", "--bpm", "120"]
    argv += ["--bars", "1", "--control", "off", "--osc", f"127.0.0.1:{port}"]
    rtloop = jack.spawn(argv, stdout=subprocess.PIPE, text=True, env={**jack.env, "PYTHONUNBUFFERED": "1"})
    out = Lines(rtloop)
    wait_for(lambda: "status: running" in out.lines, 60, "rtloop to start")
    time.sleep(3)
    jack.server.terminate()
    jack.server.wait(timeout=10)
    assert rtloop.wait(timeout=30) == 1
    time.sleep(0.3)
    dump.terminate()
    lines = out.join()
    assert "stopped because: no audio from system for 2 s" in lines, lines
    assert any(line.endswith('"audio_lost"') for line in osc_lines.join())


def test_two_named_instruments_at_once_keep_apart(
    jack: Jack, trained_bundle: Path, stream: Path, tmp_path: Path
) -> None:
    """Two rtloop processes on one JACK server, one per instrument: each has its own OSC addresses
    (/rtloop/<name>/...), control port, takes folder and tagged terminal lines."""
    port = _free_udp_port()
    dump = jack.spawn(["oscdump", "-L", str(port)], stdout=subprocess.PIPE, text=True)
    osc_lines = Lines(dump)
    names = ("bass", "keys")
    controls = {name: _free_udp_port() for name in names}
    procs, outs = {}, {}
    for name in names:
        argv = [sys.executable, "-m", "rtloop.cli", "run", str(trained_bundle), "--input", "system", "--bpm", "120"]
        argv += ["--bars", "1", "--name", name, "--osc", f"127.0.0.1:{port}", "--takes", str(tmp_path / name)]
        argv += ["--takes-all", "--control", f"127.0.0.1:{controls[name]}"]
        procs[name] = jack.spawn(argv, stdout=subprocess.PIPE, text=True, env={**jack.env, "PYTHONUNBUFFERED": "1"})
        outs[name] = Lines(procs[name])
        wait_for(lambda n=name: f"[{n}] status: running" in outs[n].lines, 60, f"rtloop {name} to start")
    inputs = [line.strip() for line in jack.ports().splitlines() if line.strip().endswith(":in_0")]
    assert len(inputs) == 2, inputs
    player = jack.spawn(["jack-play", "-b", str(PLAYER_RING), str(stream)])
    wait_for(lambda: f"jack-play-{player.pid}:out_1" in jack.ports(), 10, "jack-play")
    for destination in inputs:
        jack.connect(f"jack-play-{player.pid}:out_1", destination)
    for name in names:
        SimpleUDPClient("127.0.0.1", controls[name]).send_message(f"/rtloop/{name}/ping", [])
    wait_for(lambda: all(len(_bars(osc_lines.lines, n)) >= 4 for n in names), 60, "four bars of each instrument")
    for name in names:
        procs[name].send_signal(signal.SIGTERM)
        assert procs[name].wait(timeout=20) == 0
    time.sleep(0.3)
    dump.terminate()
    lines = osc_lines.join()
    for name in names:
        own = [line for line in lines if f" /rtloop/{name}/" in line]
        assert any(f"/rtloop/{name}/pong" in line for line in own)
        assert any(f"/rtloop/{name}/variation " in line for line in own)
        assert len(_bars(lines, name)) >= 4
        loops = [r for r in read_session(tmp_path / name) if r.event == "loop"]
        assert len(loops) >= 4 and all((tmp_path / name / r.file).is_file() for r in loops)
        out = outs[name].join()
        assert any(line.startswith(f"[{name}] bar ") for line in out), out
    assert not any(line.split(" ")[1].startswith("/rtloop/variation") for line in lines if " " in line)


def _bars(lines: list[str], name: str) -> list[str]:
    return [line for line in lines if f" /rtloop/{name}/bar " in line]

"""Wiring ``rtloop run``: options -> bundle, audio source, clock, scorer, OSC, takes -> a running daemon.

:func:`open_daemon` opens every resource of a run inside one ``ExitStack``, which closes them all,
in reverse order, however the run ends; :func:`run` adds signal handling around it.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import enum
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rtloop.audio_input import ArrayInput, AudioSource, SoundDeviceInput
from rtloop.audio_io import MAX_REPLAY_SECONDS, load_audio
from rtloop.backoff import Backoff
from rtloop.bundle import Bundle, load_bundle
from rtloop.clock import ClockFollower
from rtloop.clocks import Clock, InternalClock, MidiClock, TimeWindows
from rtloop.daemon import Daemon
from rtloop.errors import RtloopError
from rtloop.link_clock import LinkClock
from rtloop.midi_input import ClockInput
from rtloop.midi_out import CcMap, MidiCcOut
from rtloop.osc_io import ControlServer, OscOut
from rtloop.osc_spec import DEFAULT_PREFIX
from rtloop.pages import no_huge_pages_in_this_process
from rtloop.reporter import Reporter
from rtloop.results import Summary
from rtloop.scorer_process import REPLY_TIMEOUT, ScorerProcess
from rtloop.segmenter import Segmenter
from rtloop.takes import TakeKeeper, TakesConfig

SCORING_SLACK_SECONDS = 10.0  # audio a window may wait in the ring for the scorer after its end
DEFAULT_BARS = 2


class ClockKind(str, enum.Enum):
    """Where bars come from (``--clock``); by default from which of --midi, --bpm, --window is given."""

    MIDI = "midi"
    INTERNAL = "internal"
    WINDOWS = "windows"
    LINK = "link"


@dataclass(frozen=True)
class RunConfig:
    """Everything ``rtloop run`` takes from its command line; the defaults here are the CLI's."""

    bundle: Path
    osc: tuple[tuple[str, int], ...]
    control: tuple[str, int] | None
    prefix: str = DEFAULT_PREFIX
    name: str | None = None  # instrument name: OSC under prefix/name, terminal lines tagged [name]
    input: str | None = None
    channel: int = 1
    sample_rate: int | None = None
    blocksize: int = 0
    file: Path | None = None
    wave: np.ndarray | None = None  # replay this audio (the demo) instead of a device or file
    speed: float = 1.0
    loop: bool = False
    midi: str | None = None
    midi_api: str = "default"
    midi_virtual: bool = False
    bpm: float | None = None
    clock: ClockKind | None = None  # None: MIDI with --midi, internal with --bpm, windows with --window
    link_sync: bool = False  # Link: follow the session's start/stop
    bars: int | None = None  # None: the bundle's bars hint, else DEFAULT_BARS
    hop: int = 1
    beats_per_bar: int | None = None  # None: the bundle's training grid's (4 if it gave none)
    latency_ms: float = 0.0
    lost_after: float = 0.5
    window_s: float | None = None  # clock-free mode: score the last window_s seconds ...
    window_hop_s: float = 1.0  # ... every window_hop_s seconds
    takes: TakesConfig | None = None
    providers: tuple[str, ...] | None = None
    # Scoring threads: 2 measured faster than 1 (bench/latency.py, 2-core VM, realtime JACK: p95 304 vs
    # 418 ms) with no more xruns, since a realtime audio thread pre-empts the niced scoring child.
    threads: int = 2
    scorer_timeout: float = REPLY_TIMEOUT
    midi_out: str | None = None  # MIDI CC output port (index or name), or with midi_out_virtual its name
    midi_out_virtual: bool = False
    midi_out_channel: int = 1
    terminal_marks: bool = False  # Enter in the terminal marks the last loop (needs takes)


def _audio_source(cfg: RunConfig, model_rate: int) -> AudioSource:
    if cfg.wave is not None:
        return ArrayInput(cfg.wave, model_rate, speed=cfg.speed, loop=cfg.loop)
    if cfg.file is not None:
        wave = load_audio(cfg.file, model_rate, max_seconds=MAX_REPLAY_SECONDS)
        return ArrayInput(wave, model_rate, speed=cfg.speed, loop=cfg.loop)
    return SoundDeviceInput(cfg.input, cfg.channel, cfg.sample_rate, cfg.blocksize)


def clock_kind(cfg: RunConfig) -> ClockKind:
    """The clock a configuration asks for.

    Raises:
        RtloopError: none is given, or options of two clocks (one of them was silently ignored before).
    """
    kind = _asked_clock(cfg)
    named = kind.value if kind is not None else ""
    clashes = [
        (
            cfg.window_s is not None and kind is not ClockKind.WINDOWS,
            f"--window (clock-free windows) with {named} bars",
        ),
        ((cfg.midi is not None or cfg.midi_virtual) and kind is not ClockKind.MIDI, f"--midi with the {named} clock"),
        (cfg.bpm is not None and kind in (ClockKind.MIDI, ClockKind.WINDOWS), f"--bpm with the {named} clock"),
        (cfg.link_sync and kind is not ClockKind.LINK, "--link-sync without --clock link"),
    ]
    for clash, what in clashes:
        if clash:
            raise RtloopError(f"{what}: one of them would be ignored; give the options of one clock")
    if kind is not None:
        return kind
    raise RtloopError(
        "no clock: pass --midi PORT (MIDI clock), --clock link (Ableton Link), --bpm N (internal clock) "
        "or --window SECONDS (no clock)"
    )


def _asked_clock(cfg: RunConfig) -> ClockKind | None:
    if cfg.clock is not None:
        return cfg.clock
    if cfg.midi is not None or cfg.midi_virtual:
        return ClockKind.MIDI
    if cfg.bpm is not None:
        return ClockKind.INTERNAL
    if cfg.window_s is not None:
        return ClockKind.WINDOWS
    return None


def _clock(cfg: RunConfig, sample_rate: int) -> Clock:
    kind = clock_kind(cfg)
    try:
        if kind is ClockKind.MIDI:
            follower = ClockFollower(cfg.beats_per_bar, lost_after=cfg.lost_after)
            return MidiClock(ClockInput(cfg.midi, cfg.midi_api, cfg.midi_virtual), follower, Backoff(1.0, 30.0))
        if kind is ClockKind.LINK:
            return LinkClock(cfg.beats_per_bar, start_stop_sync=cfg.link_sync, bpm=cfg.bpm or 120.0)
        if kind is ClockKind.INTERNAL and cfg.bpm is not None:
            return InternalClock(cfg.bpm, cfg.beats_per_bar, sample_rate)
        if kind is ClockKind.WINDOWS and cfg.window_s is not None:
            return TimeWindows(round(cfg.window_s * sample_rate), round(cfg.window_hop_s * sample_rate))
    except ValueError as exc:
        raise RtloopError(str(exc)) from None
    raise RtloopError(f"--clock {kind.value} needs {'--bpm' if kind is ClockKind.INTERNAL else '--window'}")


def _segmenter(cfg: RunConfig, bundle: Bundle, audio: AudioSource) -> Segmenter:
    rate = audio.sample_rate
    bars = cfg.bars or bundle.manifest.get("bars_hint") or DEFAULT_BARS
    max_frames = audio.ring.capacity - audio.ring.guard - int(SCORING_SLACK_SECONDS * rate)
    window = round(cfg.window_s * rate) if cfg.window_s is not None else None
    if window is not None and window > max_frames:
        raise RtloopError(
            f"--window {cfg.window_s:g}s is longer than the {max_frames / rate:.0f} s the audio buffer holds"
        )
    return Segmenter(bars, cfg.hop, round(cfg.latency_ms * rate / 1000.0), max_frames, window)


def _marks_from_terminal(requests: collections.deque[tuple[str, Any]]) -> None:
    """Thread: each line typed in the terminal asks the worker to mark the last loop."""
    for _line in sys.stdin:
        requests.append(("/mark", None))


def osc_prefix(cfg: RunConfig) -> str:
    """The OSC prefix of a run: ``/rtloop``, or ``/rtloop/<name>`` for a named instrument."""
    return f"{cfg.prefix.rstrip('/')}/{cfg.name}" if cfg.name else cfg.prefix


@contextlib.contextmanager
def open_daemon(cfg: RunConfig, print_line: Callable[[str], None] = print) -> Iterator[Daemon]:
    """Open everything a run needs and yield the daemon; everything is closed when the block ends.

    Raises:
        RtloopError: bundle, device, MIDI port, control port or takes folder problems, each with a
            clear message (whatever was opened before is closed again).
    """
    if cfg.name:
        untagged, tag = print_line, f"[{cfg.name}] "
        print_line = lambda line: untagged(tag + line)  # noqa: E731
    prefix = osc_prefix(cfg)
    no_huge_pages_in_this_process()  # the audio thread's process: see rtloop.pages
    with contextlib.ExitStack() as stack:
        bundle = load_bundle(cfg.bundle)
        cfg = dataclasses.replace(cfg, beats_per_bar=cfg.beats_per_bar or bundle.grid_options.beats_per_bar)
        audio: AudioSource = stack.enter_context(_audio_source(cfg, bundle.frontend.sample_rate))
        summary = Summary()
        takes = TakeKeeper(cfg.takes, audio.sample_rate) if cfg.takes else None  # a bad folder fails first
        if takes is not None:
            stack.callback(_close_takes, takes, summary)
        clock = stack.enter_context(_clock(cfg, audio.sample_rate))
        segmenter = _segmenter(cfg, bundle, audio)
        control = stack.enter_context(ControlServer(*cfg.control, prefix=prefix)) if cfg.control else None
        scorer = stack.enter_context(
            ScorerProcess(
                bundle, list(cfg.providers) if cfg.providers else None, cfg.threads, reply_timeout=cfg.scorer_timeout
            )
        )
        osc = stack.enter_context(OscOut(list(cfg.osc), prefix))
        midi_out = None
        if cfg.midi_out is not None or cfg.midi_out_virtual:
            midi_out = stack.enter_context(
                MidiCcOut(cfg.midi_out, cfg.midi_api, cfg.midi_out_virtual, CcMap(channel=cfg.midi_out_channel))
            )
        print_line(
            f"rtloop: {cfg.bundle} ({bundle.manifest['detector']['name']}, "
            f"{'pretrained' if bundle.pretrained else 'RANDOM encoder'}) on {', '.join(scorer.providers)}; "
            f"{segmenter.bars} bar(s) per loop; OSC {prefix}/... to {', '.join(f'{h}:{p}' for h, p in cfg.osc)}"
            + (f"; control on {control.address[0]}:{control.address[1]}" if control else "")
        )
        daemon = Daemon(
            scorer,
            audio,
            clock,
            segmenter,
            Reporter(osc, print_line, takes, midi_out, summary),
            control=(control.commands,) if control else (),
            beats_per_bar=cfg.beats_per_bar,
        )
        if cfg.terminal_marks and takes is not None and sys.stdin is not None and sys.stdin.isatty():
            print_line("press Enter to mark the last loop as a take")
            threading.Thread(target=_marks_from_terminal, args=(daemon.requests,), daemon=True).start()
        yield daemon


def _close_takes(takes: TakeKeeper, summary: Summary) -> None:
    """Close the takes writer (bounded) and put what it could not write into the run's summary."""
    summary.takes_lost = takes.close().describe()


@contextlib.contextmanager
def _stop_on_sigterm(stop: threading.Event) -> Iterator[None]:
    """SIGTERM sets ``stop`` (main thread only: elsewhere signals cannot be handled)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_daemon(daemon: Daemon, stop: threading.Event) -> Summary:
    """Run until Ctrl-C, SIGTERM, ``stop``, the audio's end or a failure; returns the summary."""
    with _stop_on_sigterm(stop):
        try:
            return daemon.run(stop)
        except KeyboardInterrupt:
            stop.set()
            return daemon.summary


def run(cfg: RunConfig, stop: threading.Event | None = None, print_line: Callable[[str], None] = print) -> Summary:
    """Open, run and close a live run (see :func:`open_daemon` and :func:`run_daemon`)."""
    with open_daemon(cfg, print_line) as daemon:
        return run_daemon(daemon, stop or threading.Event())

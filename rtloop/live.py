"""Wiring ``rtloop run``: options -> bundle, audio source, clock, segmenter, OSC -> a running daemon."""

from __future__ import annotations

import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rtloop.audio_input import ArrayInput, AudioSource, SoundDeviceInput
from rtloop.audio_io import load_audio
from rtloop.bundle import load_bundle
from rtloop.clock import ClockFollower
from rtloop.daemon import Daemon, Summary
from rtloop.errors import RtloopError
from rtloop.midi_input import ClockInput
from rtloop.osc_io import ControlServer, OscOut
from rtloop.scorer_process import ScorerProcess
from rtloop.segmenter import InternalClock, Segmenter, TimeWindows
from rtloop.takes import TakeKeeper, TakesConfig


@dataclass(frozen=True)
class RunConfig:
    """Everything ``rtloop run`` takes from its command line."""

    bundle: Path
    osc: tuple[tuple[str, int], ...]
    control: tuple[str, int] | None
    prefix: str = "/rtloop"
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
    bars: int | None = None
    hop: int = 1
    beats_per_bar: int = 4
    latency_ms: float = 0.0
    lost_after: float = 0.5
    window_s: float | None = None  # clock-free mode: score the last window_s seconds ...
    window_hop_s: float = 1.0  # ... every window_hop_s seconds
    takes: TakesConfig | None = None
    providers: tuple[str, ...] | None = None
    threads: int = 1


def _audio_source(cfg: RunConfig, model_rate: int) -> AudioSource:
    if cfg.wave is not None:
        return ArrayInput(cfg.wave, model_rate, speed=cfg.speed, loop=cfg.loop)
    if cfg.file is not None:
        return ArrayInput(load_audio(cfg.file, model_rate), model_rate, speed=cfg.speed, loop=cfg.loop)
    return SoundDeviceInput(cfg.input, cfg.channel, cfg.sample_rate, cfg.blocksize)


def build_daemon(cfg: RunConfig, print_line: Any = print) -> tuple[Daemon, ClockInput | None]:
    """Open everything a run needs; returns the daemon and the MIDI input (or None) to close after.

    Raises:
        RtloopError: bundle, device, MIDI port or control port problems, each with a clear message.
    """
    bundle = load_bundle(cfg.bundle)
    bars = cfg.bars or bundle.manifest.get("bars_hint") or 2
    audio = _audio_source(cfg, bundle.frontend.sample_rate)
    midi = None
    clock: Any
    if cfg.midi is not None or cfg.midi_virtual:
        midi = ClockInput(cfg.midi, cfg.midi_api, cfg.midi_virtual)
        clock = (midi, ClockFollower(cfg.beats_per_bar, lost_after=cfg.lost_after))
    elif cfg.bpm is not None:
        clock = InternalClock(cfg.bpm, cfg.beats_per_bar, audio.sample_rate)
    elif cfg.window_s is not None:
        rate = audio.sample_rate
        clock = TimeWindows(round(cfg.window_s * rate), round(cfg.window_hop_s * rate))
    else:
        raise RtloopError(
            "no clock: pass --midi PORT (MIDI clock), --bpm N (internal clock) or --window SECONDS (no clock)"
        )
    segmenter = Segmenter(bars, cfg.hop, round(cfg.latency_ms * audio.sample_rate / 1000.0))
    control = ControlServer(*cfg.control, prefix=cfg.prefix) if cfg.control else None
    scorer = ScorerProcess(bundle, providers=list(cfg.providers) if cfg.providers else None, threads=cfg.threads)
    osc = OscOut(list(cfg.osc), cfg.prefix)
    providers = ", ".join(scorer.providers)
    print_line(
        f"rtloop: {cfg.bundle} ({bundle.manifest['detector']['name']}, "
        f"{'pretrained' if bundle.pretrained else 'RANDOM encoder'}) on {providers}; {bars} bar(s) per loop; "
        f"OSC to {', '.join(f'{h}:{p}' for h, p in cfg.osc)}"
        + (f"; control on {control.address[0]}:{control.address[1]}" if control else "")
    )
    takes = TakeKeeper(cfg.takes, audio.sample_rate) if cfg.takes else None
    return Daemon(scorer, audio, clock, segmenter, osc, control, takes, print_line), midi


def run_until_signal(daemon: Daemon, midi: ClockInput | None, stop: threading.Event | None = None) -> Summary:
    """Run until Ctrl-C, SIGTERM or ``stop``; always closes the MIDI port and OSC socket."""
    stop = stop or threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        return daemon.run(stop)
    except KeyboardInterrupt:
        stop.set()
        return daemon.summary
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if midi is not None:
            midi.close()
        daemon.osc.close()
        daemon.scorer.close()

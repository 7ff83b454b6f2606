"""``rtloop demo``: a virtual bass player through the real train and live paths, no hardware needed.

The first run trains a bundle on synthesised normal loops through the training pipeline that the
command line hands in (``rtloop train --random-encoder``; cached afterwards), then plays a stream
in which some bars deviate through the live daemon with its internal clock, sending OSC to
127.0.0.1:7474 as a live run would. This module never imports the training stage itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rtloop.bundle import load_bundle
from rtloop.errors import BundleError
from rtloop.live import RunConfig, run
from rtloop.results import Summary
from rtloop.synth import bass_loop, write_loop_set

BPM = 120.0
SAMPLE_RATE = 48000
TRAIN_LOOPS = 48
# bar -> planted deviation, and the aspect that should show it most
PLANTED = {7: "instrument", 11: "wrong_notes", 15: "noise", 19: "broken_rhythm", 23: "glitch", 27: "wrong_notes"}
EXPECTED_ASPECT = {
    "instrument": ("timbre", "sound"),
    "noise": ("integrity", "timbre"),
    "glitch": ("integrity",),
    "wrong_notes": ("harmony",),
    "broken_rhythm": ("rhythm",),
}


TrainBundle = Callable[[Path, Path, Path], None]  # (loops folder, bundle to write, cache folder)


def demo_bundle(cache_dir: Path, train: TrainBundle) -> Path:
    """The demo's bundle, trained with ``train`` on the first run and reused after."""
    path = cache_dir / "demo" / "bass.rtloop"
    try:
        if load_bundle(path).overall is not None:
            return path
        print("the cached demo bundle has no aspects (made by an older rtloop): training it again")
    except BundleError as exc:
        if path.exists():
            print(f"the cached demo bundle cannot be used ({exc}): training it again")
    loops = cache_dir / "demo" / "loops"
    write_loop_set(loops, TRAIN_LOOPS, bpm=BPM, bars=1, sample_rate=SAMPLE_RATE, seed=11)
    print(f"training the demo bundle on {TRAIN_LOOPS} synthesised bass loops (first run only)...")
    train(loops, path, cache_dir)
    return path


def demo_stream(bars: int, seed: int = 5) -> np.ndarray:
    """``bars`` one-bar loops of the virtual player, with the deviations of :data:`PLANTED`."""
    rng = np.random.default_rng(seed)
    parts = [bass_loop(BPM, 1, SAMPLE_RATE, rng, deviation=PLANTED.get(bar)) for bar in range(1, bars + 1)]
    return np.concatenate(parts)


def report(summary: Summary) -> str:
    """Per planted deviation: caught (flagged) or missed, and whether the aspect that moved most is the
    one that should; then the normal bars."""
    by_bar = {r.bar: r for r in summary.results}
    normal = [r.variation for b, r in by_bar.items() if b not in PLANTED]
    lines = ["planted deviations:"]
    caught = 0
    for bar, kind in PLANTED.items():
        r = by_bar.get(bar)
        if r is None:
            continue
        caught += r.flagged
        aspects = "  ".join(f"{name} {value:.2f}" for name, value in r.aspects.items())
        right = r.top_aspect in EXPECTED_ASPECT[kind]
        verdict = "caught" if r.flagged else "missed"
        lines.append(
            f"  bar {bar:>3} {kind:<14} {verdict}: variation {r.variation:.2f}, moved most: {r.top_aspect}"
            f" ({'as expected' if right else 'expected ' + ' or '.join(EXPECTED_ASPECT[kind])})   {aspects}"
        )
    if normal:
        lines.append(f"normal bars: {len(normal)}, variation median {np.median(normal):.2f}, max {max(normal):.2f}")
    lines.append(
        f"{caught} of {sum(bar in by_bar for bar in PLANTED)} planted deviations flagged.\n"
        "Rhythm, harmony, timbre and integrity come from the loop descriptors; 'sound' is the HTS-AT encoder,\n"
        "random here (no CLAP checkpoint can be downloaded), so it is left out of the overall. Train with a\n"
        "pretrained LAION-CLAP checkpoint (README: 'Train on your own loops') to add the network's sense of sound."
    )
    return "\n".join(lines)


def run_demo(
    cache_dir: Path,
    seconds: float,
    forever: bool,
    osc: tuple[tuple[str, int], ...],
    control: tuple[str, int] | None,
    train: TrainBundle,
    speed: float = 1.0,
    stop: threading.Event | None = None,
) -> Summary:
    """Train (once, with ``train``) and play the demo; returns the run's summary."""
    bundle = demo_bundle(cache_dir, train)
    bars = max(2, int(seconds * BPM / 60.0 / 4))
    cfg = RunConfig(
        bundle=bundle,
        osc=osc,
        control=control,
        wave=demo_stream(bars),
        speed=speed,
        loop=forever,
        bpm=BPM,
        bars=1,
        hop=1,
    )
    planted = ", ".join(f"{bar} ({kind})" for bar, kind in PLANTED.items() if bar <= bars or forever)
    print(f"playing {bars} bars at {BPM:.0f} bpm; deviations planted at bars {planted or 'none (play longer)'}")
    summary = run(cfg, stop)
    print(summary.render())
    print(report(summary))
    return summary

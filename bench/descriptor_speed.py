"""Descriptor speed: milliseconds per loop for ``describe`` (all aspects) and ``estimate_grid``.

Loops are Karplus-Strong bass loops at 48 kHz (rtloop.synth). Each call is timed alone; the median and
the 90th percentile of wall-clock time are printed, with the median CPU time of the process (the better
number on a shared, busy machine), for the shared analysis and each aspect separately.

    python bench/descriptor_speed.py [--loops 30] [--seconds 2 4]

Small matrix products go through the BLAS numpy was built with; on a busy machine a multi-threaded
OpenBLAS can cost more than it saves, so compare with OPENBLAS_NUM_THREADS=1.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable

import numpy as np

from rtloop.descriptors import describe, harmony, integrity, rhythm, timbre
from rtloop.descriptors.samples import gather
from rtloop.descriptors.spectra import analyse, analyse_pitch
from rtloop.grid import Grid, GridSource, estimate_grid
from rtloop.synth import bass_loop

SR = 48000


def timings(fn: Callable[[np.ndarray], object], waves: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Wall-clock and CPU milliseconds of ``fn`` on each wave, after one warm-up call."""
    fn(waves[0])
    wall, cpu = [], []
    for wave in waves:
        start, start_cpu = time.perf_counter(), time.process_time()
        fn(wave)
        wall.append(1e3 * (time.perf_counter() - start))
        cpu.append(1e3 * (time.process_time() - start_cpu))
    return np.array(wall), np.array(cpu)


def stages(wave: np.ndarray, grid: Grid) -> dict[str, Callable[[np.ndarray], object]]:
    """What to time: the whole of ``describe``, its parts (on ``wave``'s analysis), and the grid estimate."""
    spectra = analyse(wave, SR)
    pitch = analyse_pitch(spectra.x)
    samples = gather(wave, SR)
    return {
        "describe (all)": lambda w: describe(w, SR, grid),
        "  shared spectra": lambda w: analyse(w, SR),
        "  pitch salience": lambda w: analyse_pitch(spectra.x),
        "  sample statistics": lambda w: gather(w, SR),
        "  rhythm": lambda w: rhythm.features(spectra, grid),
        "  harmony": lambda w: harmony.features(pitch, grid, spectra.seconds),
        "  timbre": lambda w: timbre.features(spectra, pitch, samples),
        "  integrity": lambda w: integrity.features(spectra, samples, grid),
        "estimate_grid": lambda w: estimate_grid(w, SR),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loops", type=int, default=30)
    parser.add_argument("--seconds", type=float, nargs="+", default=[2.0, 4.0])
    args = parser.parse_args()
    print(
        f"{args.loops} loops per length, 48 kHz mono, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}"
    )
    rng = np.random.default_rng(0)
    for seconds in args.seconds:
        bars = max(1, round(seconds / 2))
        bpm = 120.0 * bars * 2 / seconds
        waves = [bass_loop(bpm, bars, SR, rng) for _ in range(args.loops)]
        print(f"{seconds:g} s loops ({bars} bar(s) at {bpm:g} BPM):")
        for name, fn in stages(waves[0], Grid(bpm, 4, bars, GridSource.CLOCK)).items():
            wall, cpu = timings(fn, waves)
            print(
                f"  {name:<18} wall median {np.median(wall):6.2f} ms  p90 {np.percentile(wall, 90):6.2f} ms"
                f"   CPU median {np.median(cpu):6.2f} ms"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

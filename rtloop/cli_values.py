"""argparse ``type=`` functions for the command line's numbers: each refuses a bad value with one message.

argparse turns an :class:`argparse.ArgumentTypeError` into ``rtloop <command>: error: argument --bpm:
<message>`` and exit status 2, before anything is opened. Ranges are where a value makes sense for
rtloop (a tempo a drummer could play, a sample rate an interface runs at), so a typo such as
``--speed 0`` (which would never finish) or ``--bpm nan`` is caught at the boundary.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

from rtloop.manifest_schema import (
    MAX_BARS,
    MAX_BEATS_PER_BAR,
    MAX_GRID_BPM,
    MAX_SAMPLE_RATE,
    MIN_GRID_BPM,
    MIN_SAMPLE_RATE,
)

MIN_BPM, MAX_BPM = MIN_GRID_BPM, MAX_GRID_BPM
MIN_SPEED, MAX_SPEED = 0.01, 1000.0
MAX_CHANNEL = 256
MAX_BLOCKSIZE = 65_536
MAX_LATENCY_MS = 2000.0
MAX_THREADS = 256
MAX_TAKES_MB = 10_000_000.0  # 10 TB
MAX_DEMO_SECONDS = 7 * 24 * 3600.0
MAX_WINDOW_SECONDS = 60.0  # a window must fit the live ring (120 s) with room to spare
MAX_HOP_SECONDS = 3600.0
MAX_TOP = 1_000_000


def _number(text: str, kind: type[int] | type[float]) -> float:
    """``text`` as a finite int or float, or ArgumentTypeError."""
    try:
        value = kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def _shown(value: float) -> str:
    return f"{value:.10g}"


def _in_range(value: float, low: float, high: float, unit: str, *, low_open: bool = False) -> None:
    below = value <= low if low_open else value < low
    if below or value > high:
        lower = f"more than {_shown(low)}" if low_open else f"at least {_shown(low)}"
        raise argparse.ArgumentTypeError(
            f"{_shown(value)}{unit} is out of range: {lower} and at most {_shown(high)}{unit}"
        )


def int_range(low: int, high: int, unit: str = "") -> Callable[[str], int]:
    """A type function accepting whole numbers in ``low..high``."""

    def parse(text: str) -> int:
        value = int(_number(text, int))
        _in_range(value, low, high, unit)
        return value

    return parse


def float_range(low: float, high: float, unit: str = "", *, low_open: bool = False) -> Callable[[str], float]:
    """A type function accepting finite numbers in ``low..high`` (excluding ``low`` if ``low_open``)."""

    def parse(text: str) -> float:
        value = float(_number(text, float))
        _in_range(value, low, high, unit, low_open=low_open)
        return value

    return parse


bpm = float_range(MIN_BPM, MAX_BPM, " BPM")
speed = float_range(MIN_SPEED, MAX_SPEED, "x")
bars = int_range(1, MAX_BARS, " bars")
beats_per_bar = int_range(1, MAX_BEATS_PER_BAR, " beats")
channel = int_range(1, MAX_CHANNEL)
samplerate = int_range(MIN_SAMPLE_RATE, MAX_SAMPLE_RATE, " Hz")
blocksize = int_range(0, MAX_BLOCKSIZE, " frames")
latency_ms = float_range(0.0, MAX_LATENCY_MS, " ms")
threads = int_range(0, MAX_THREADS, " threads")
takes_max_mb = float_range(1.0, MAX_TAKES_MB, " MB")
quantile = float_range(0.5, 1.0, "", low_open=True)
val_fraction = float_range(0.0, 0.5, "", low_open=True)
demo_seconds = float_range(1.0, MAX_DEMO_SECONDS, " s")
top = int_range(1, MAX_TOP)
midi_channel = int_range(1, 16)
seed = int_range(0, 2**32 - 1)  # numpy and torch accept these
jobs = int_range(0, 1024)
batch = int_range(1, 4096)
port = int_range(0, 65535)
scorer_timeout = float_range(1.0, 3600.0, " s")


def _duration(text: str, high: float) -> float:
    try:
        value = _number(text.removesuffix("s"), float)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite duration like 4s or 0.5s") from None
    _in_range(value, 0.0, high, " s", low_open=True)
    return value


def seconds(text: str) -> float:
    """``"4s"``, ``"4"`` or ``"0.5s"`` -> seconds, for ``--window`` (up to 60 s).

    Raises:
        argparse.ArgumentTypeError: not a finite duration, not positive, or longer than 60 s.
    """
    return _duration(text, MAX_WINDOW_SECONDS)


def hop_seconds(text: str) -> float:
    """``--hop`` with ``--window``: a duration like ``0.5s`` (up to an hour)."""
    return _duration(text, MAX_HOP_SECONDS)


def hop(text: str) -> str:
    """``--hop``: a whole number of bars (1..64), or with ``--window`` a duration like ``0.5s``.

    Returned as given: which of the two it means depends on ``--window``, which the command decides.

    Raises:
        argparse.ArgumentTypeError: neither a whole number of bars in range nor a positive duration.
    """
    try:
        count = int(text)
    except ValueError:
        _duration(text, MAX_HOP_SECONDS)
        return text
    _in_range(count, 1, MAX_BARS, " bars")
    return text


PLOT_FORMATS = ("png", "pdf", "svg", "svgz", "eps", "ps", "jpg", "jpeg", "tif", "tiff", "webp")  # matplotlib's


def plot_file(text: str) -> Path:
    """A figure to write: a format matplotlib writes (by its suffix), in a folder that exists; checked before
    any work (a bad one failed only after every file was scored)."""
    path = Path(text)
    if path.suffix.lower().lstrip(".") not in PLOT_FORMATS:
        raise argparse.ArgumentTypeError(f"{text!r}: name a figure file ending in .{', .'.join(PLOT_FORMATS)}")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r}: folder {path.parent} does not exist")
    return path

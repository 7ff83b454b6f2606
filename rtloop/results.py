"""What a run produces: one :class:`LoopResult` per scored window, and the run's :class:`Summary`."""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

import numpy as np

KEEP_RESULTS = 10_000  # bounded: a run may last for days


@dataclass(frozen=True)
class LoopResult:
    """One scored window: overall raw score and 0..1 variation, and the variation of each aspect."""

    bar: int
    bpm: float
    raw: float
    variation: float
    flagged: bool
    latency_ms: float
    aspects: dict[str, float] = field(default_factory=dict)
    top_aspect: str | None = None  # the aspect that varied most (None for a bundle without aspects)
    aspects_latency_ms: float | None = None  # when its descriptor aspects were sent, before the network answered


@dataclass
class Summary:
    """What a run did, printed at the end; keeps the last 10 000 results and skips."""

    results: collections.deque[LoopResult] = field(default_factory=lambda: collections.deque(maxlen=KEEP_RESULTS))
    scored: int = 0
    skipped: collections.Counter[str] = field(default_factory=collections.Counter)
    skipped_bars: collections.deque[tuple[int, str]] = field(
        default_factory=lambda: collections.deque(maxlen=KEEP_RESULTS)
    )
    xruns: int = 0
    gaps: list[float] = field(default_factory=list)  # seconds without audio input, per outage
    scorer_restarts: int = 0
    callback_seconds: np.ndarray = field(default_factory=lambda: np.zeros(0))
    takes_lost: str | None = None  # what the takes writer could not write, if anything
    reason: str | None = None  # set when the run ended because something failed

    def render(self) -> str:
        """The summary as terminal lines."""
        lines = [f"loops scored: {self.scored}", f"bars skipped: {sum(self.skipped.values())}"]
        lines += [f"  {n} x {why}" for why, n in self.skipped.most_common()]
        lines.append(f"input overflows (xruns): {self.xruns}")
        if self.gaps:
            lines.append(f"audio input outages: {len(self.gaps)}, {sum(self.gaps):.1f} s in all")
        if self.scorer_restarts:
            lines.append(f"scoring process restarts: {self.scorer_restarts}")
        if self.callback_seconds.size:
            p50, p99 = np.percentile(self.callback_seconds * 1000.0, [50, 99])
            lines.append(f"audio callback duration: p50 {p50:.3f} ms, p99 {p99:.3f} ms")
        if self.results:
            lat = np.array([r.latency_ms for r in self.results])
            p50, p95, p99 = np.percentile(lat, [50, 95, 99])
            lines.append(f"latency bar boundary -> OSC: p50 {p50:.0f} ms, p95 {p95:.0f} ms, p99 {p99:.0f} ms")
            early = [r.aspects_latency_ms for r in self.results if r.aspects_latency_ms is not None]
            if early:
                p50, p95, p99 = np.percentile(early, [50, 95, 99])
                lines.append(
                    f"descriptor aspects bar boundary -> OSC: p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms"
                )
            tops = collections.Counter(r.top_aspect for r in self.results if r.flagged and r.top_aspect)
            if tops:
                lines.append("flagged loops by aspect: " + ", ".join(f"{a} {n}" for a, n in tops.most_common()))
        if self.takes_lost:
            lines.append(self.takes_lost)
        if self.reason:
            lines.append(f"stopped because: {self.reason}")
        return "\n".join(lines)


def meter(value: float, width: int = 20) -> str:
    """A text bar for a 0..1 value."""
    filled = int(round(max(0.0, min(1.0, value)) * width))
    return "[" + "#" * filled + "." * (width - filled) + "]"

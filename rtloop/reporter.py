"""Everything the daemon tells the outside world: OSC messages, terminal lines, takes, the summary."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping

import numpy as np

from rtloop.midi_out import MidiCcOut
from rtloop.osc_io import OscOut
from rtloop.osc_spec import Status
from rtloop.results import LoopResult, Summary, meter
from rtloop.takes import TakeKeeper

STATUS_EVERY = 1.0  # /status doubles as the heartbeat


class Reporter:
    """Turns a scored loop, a skipped bar or a status change into every output at once.

    Args:
        osc: destinations of rtloop's messages.
        print_line: where terminal lines go.
        takes: keeper of takes and the session log, or None.
        midi_out: MIDI control changes for hosts without OSC, or None.
        summary: where the run's results go (a new one by default).
    """

    def __init__(
        self,
        osc: OscOut,
        print_line: Callable[[str], None],
        takes: TakeKeeper | None = None,
        midi_out: MidiCcOut | None = None,
        summary: Summary | None = None,
    ) -> None:
        self.osc = osc
        self.print_line = print_line
        self.takes = takes
        self.midi_out = midi_out
        self.summary = summary or Summary()
        self.state = Status.WAITING_FOR_CLOCK  # what the daemon does; `status` may add a takes failure
        self._sent: Status | None = None
        self._sent_at = 0.0
        self._takes_problem: str | None = None

    @property
    def status(self) -> Status:
        """The status sent on /status: the daemon's state, or takes_failing while it runs without takes."""
        if self.state is Status.RUNNING and self._takes_problem is not None:
            return Status.TAKES_FAILING
        return self.state

    def set_state(self, state: Status) -> None:
        """A new daemon state: printed and sent at once when it changes the status."""
        self.state = state
        self.heartbeat(force=self.status is not self._sent)

    def heartbeat(self, force: bool = False) -> None:
        """Send the status again if a second has passed (the heartbeat), or now with ``force``."""
        self._check_takes()
        status, now = self.status, time.monotonic()
        if not force and status is self._sent and now - self._sent_at < STATUS_EVERY:
            return
        if status is not self._sent:
            self.print_line(f"status: {status.value}")
        self._sent, self._sent_at = status, now
        self.osc.send("/status", status.value)

    def _check_takes(self) -> None:
        problem = self.takes.problem if self.takes is not None else None
        if problem != self._takes_problem:
            self.print_line(f"takes: {problem}" if problem else "takes: writing again")
            self._takes_problem = problem

    def skipped(self, bar: int, reason: str) -> None:
        """A bar that gets no score, and why."""
        self.summary.skipped[reason] += 1
        self.summary.skipped_bars.append((bar, reason))
        self.osc.send("/skipped", bar)
        self.print_line(f"bar {bar:>5}  skipped: {reason}")

    def aspects_scored(self, variation: Mapping[str, float]) -> None:
        """A loop's descriptor aspects, sent as soon as they are scored, before the network answers."""
        for aspect, value in variation.items():
            self.osc.send(f"/variation/{aspect}", value)

    def scored(self, result: LoopResult, audio: np.ndarray, aspects_sent: Collection[str] = ()) -> None:
        """A scored loop: OSC (overall first, then the aspects not in ``aspects_sent`` already), MIDI CC,
        takes, summary, terminal line."""
        self.osc.send("/variation", result.variation)
        for aspect, value in result.aspects.items():
            if aspect not in aspects_sent:
                self.osc.send(f"/variation/{aspect}", value)
        if result.top_aspect is not None:
            self.osc.send("/aspect", result.top_aspect)
        if self.midi_out is not None:
            self.midi_out.send(result.variation, result.aspects, result.flagged)
        for name, value in (
            ("/score", result.raw),
            ("/flag", int(result.flagged)),
            ("/bar", result.bar),
            ("/tempo", result.bpm),
            ("/latency", result.latency_ms),
        ):
            self.osc.send(name, value)
        self.summary.results.append(result)
        self.summary.scored += 1
        if self.takes is not None:
            self.takes.add(audio, result.bar, result.bpm, result.raw, result.variation, result.flagged, result.aspects)
        self.print_line(loop_line(result))

    def pong(self) -> None:
        """Answer /ping."""
        self.osc.send("/pong", 1)

    def say(self, line: str) -> None:
        """A terminal line that is not a loop (window changes, marks, recoveries)."""
        self.print_line(line)


def loop_line(result: LoopResult) -> str:
    """The terminal line of one scored loop: bar, tempo, score, meter, the aspects, latency."""
    flag = "  FLAG" if result.flagged else ""
    top = result.top_aspect
    aspects = "".join(
        f"  {name[:4]} {value:.2f}{'*' if name == top and result.flagged else ''}"
        for name, value in result.aspects.items()
    )
    return (
        f"{'bar' if result.bpm else 'win'} {result.bar:>5}  {result.bpm:6.1f} bpm  score {result.raw:10.4g}  "
        f"{meter(result.variation)} {result.variation:.2f}{flag}{aspects}  ({result.latency_ms:.0f} ms)"
    )

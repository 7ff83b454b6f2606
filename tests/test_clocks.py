"""Clock sources behind one interface: internal clock, clock-free windows, MIDI clock reopening."""

from __future__ import annotations

import collections
import re
from pathlib import Path

import pytest

from rtloop.backoff import Backoff
from rtloop.clock import CLOCK, START, ClockFollower, EventKind
from rtloop.clocks import InternalClock, MidiClock, TimeWindows
from rtloop.errors import DeviceError, RtloopError
from rtloop.live import ClockKind, RunConfig, clock_kind
from rtloop.segmenter import Segmenter, Skip, Window


def test_internal_clock_bars_carry_their_frames() -> None:
    clock = InternalClock(bpm=120.0, beats_per_bar=4, sample_rate=48000)
    assert [(e.kind, e.bar, e.frame) for e in clock.poll(0.0, 0)] == [(EventKind.BAR, 1, 0)]
    assert [(e.bar, e.frame, e.bpm) for e in clock.poll(0.0, 200000)] == [(2, 96000, 120.0), (3, 192000, 120.0)]
    assert clock.poll(0.0, 200001) == []
    with pytest.raises(ValueError, match="out of range"):
        InternalClock(bpm=0.0, beats_per_bar=4, sample_rate=48000)


def test_time_windows_slide_by_hop_and_the_segmenter_cuts_them() -> None:
    clock = TimeWindows(window_frames=400, hop_frames=100)
    segmenter = Segmenter(1, window_frames=400)
    assert clock.poll(0.0, 399) == []
    events = clock.poll(0.0, 600)
    assert [(e.kind, e.bar, e.frame) for e in events] == [(EventKind.WINDOW, n, 300 + 100 * n) for n in (1, 2, 3)]
    assert [segmenter.window(e.bar, e.frame) for e in events] == [
        Window(1, 0, 400, 0.0),
        Window(2, 100, 500, 0.0),
        Window(3, 200, 600, 0.0),
    ]
    assert clock.poll(0.0, 650) == []


def test_segmenter_skips_windows_the_ring_cannot_hold_and_bursts() -> None:
    segmenter = Segmenter(2, max_frames=1000)
    assert segmenter.boundary(1, 0, 120.0) is None
    assert segmenter.boundary(2, 600, 120.0) == Skip(1, "no full 2-bar window yet")
    assert segmenter.boundary(3, 1200, 120.0) == Skip(2, "window longer than the audio buffer: use fewer bars")
    burst = Segmenter(1)
    burst.boundary(1, 500, 120.0)
    assert burst.boundary(2, 500, 120.0) == Skip(1, "bar boundaries out of order (clock burst)")
    with pytest.raises(ValueError):
        burst.configure(65)


class _FakePort:
    """Fake of :class:`~rtloop.midi_input.ClockInput` (a unit test of the reopen protocol): its port
    is 'gone' until ``back`` is set, and it counts reopen attempts."""

    reopenable = True

    def __init__(self) -> None:
        from rtloop.clock import MidiClockReceiver

        self.receiver = MidiClockReceiver()
        self.attempts: list[float] = []
        self.back = False
        self.closed = False

    def reopen(self) -> None:
        self.attempts.append(len(self.attempts))
        if not self.back:
            raise DeviceError("gone")

    def close(self) -> None:
        self.closed = True


def test_lost_midi_clock_is_reopened_with_growing_back_off() -> None:
    port = _FakePort()
    clock = MidiClock(port, ClockFollower(lost_after=0.5), Backoff(1.0, 4.0))  # type: ignore[arg-type]
    messages = iter(range(10**6))
    port.receiver.queue.extend([(next(messages), 0.0, 0.0, [START]), (next(messages), 0.0, 0.02, [CLOCK])])
    assert [e.kind for e in clock.poll(0.1, 0)][:1] == [EventKind.START]
    assert [e.kind for e in clock.poll(1.0, 0)] == [EventKind.LOST]
    tries = {}
    for now in [x / 10 for x in range(10, 100)]:
        clock.poll(now, 0)
        tries.setdefault(len(port.attempts), now)
    # first retry 1 s after the loss, then 2 s, then 4 s (the cap)
    assert [round(tries[n], 1) for n in (1, 2, 3)] == [2.0, 4.0, 8.0]
    port.back = True
    for now in [x / 10 for x in range(100, 125)]:
        clock.poll(now, 0)
    assert len(port.attempts) == 4  # at 12 s, and it worked
    port.receiver.queue.append((next(messages), 13.0, 0.0, [START]))
    assert [e.kind for e in clock.poll(13.0, 0)] == [EventKind.START]
    for tick in range(1, 200):  # the clock is back and ticks: no loss, no more attempts
        port.receiver.queue.append((next(messages), 13.0 + tick * 0.02, 0.02, [CLOCK]))
        assert EventKind.LOST not in [e.kind for e in clock.poll(13.0 + tick * 0.02, 0)]
    assert len(port.attempts) == 4
    clock.close()
    assert port.closed


def test_backoff_doubles_up_to_its_cap_and_resets() -> None:
    backoff = Backoff(1.0, 5.0)
    assert not backoff.waiting and not backoff.due(100.0)
    delays = []
    now = 0.0
    for _ in range(5):
        backoff.failed(now)
        delays.append(backoff.next_try - now)  # type: ignore[operator]
        now = backoff.next_try  # type: ignore[assignment]
    assert delays == [1.0, 2.0, 4.0, 5.0, 5.0]
    backoff.succeeded()
    backoff.failed(0.0)
    assert backoff.next_try == 1.0
    assert collections.Counter([backoff.due(0.5), backoff.due(1.0)]) == {False: 1, True: 1}


def run_config(**options: object) -> RunConfig:
    return RunConfig(bundle=Path("b.rtloop"), osc=(), control=None, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "options, clash",
    [
        ({"window_s": 4.0, "bpm": 120.0}, "--window (clock-free windows) with internal bars"),
        ({"window_s": 4.0, "midi": "0"}, "--window (clock-free windows) with midi bars"),
        ({"midi": "0", "clock": ClockKind.LINK}, "--midi with the link clock"),
        ({"midi": "0", "bpm": 120.0}, "--bpm with the midi clock"),
        ({"link_sync": True, "bpm": 120.0}, "--link-sync without --clock link"),
    ],
)
def test_options_of_two_clocks_are_refused_not_half_ignored(options: dict, clash: str) -> None:
    """``--window 4s --bpm 120`` ran one-bar windows at 120 bpm without a word (and /bars was then refused)."""
    with pytest.raises(RtloopError, match=f"^{re.escape(clash)}: one of them would be ignored"):
        clock_kind(run_config(**options))


def test_one_clocks_options_choose_it() -> None:
    assert clock_kind(run_config(window_s=4.0)) is ClockKind.WINDOWS
    assert clock_kind(run_config(clock=ClockKind.LINK, bpm=100.0, link_sync=True)) is ClockKind.LINK
    assert clock_kind(run_config(midi="0")) is ClockKind.MIDI
    assert clock_kind(run_config(bpm=90.0)) is ClockKind.INTERNAL

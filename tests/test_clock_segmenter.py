"""MIDI clock parsing and tempo, internal clock, and bar-window segmentation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtloop.clock import CLOCK, CONTINUE, SONG_POSITION, START, STOP, ClockFollower, MidiClockReceiver
from rtloop.segmenter import Segmenter, Skip, Window


def play(follower: ClockFollower, messages: list[tuple[float, list[int]]]) -> list:
    """Feed (timestamp, message) pairs with rtmidi-style deltas; arrival equals the timestamp."""
    events, last = [], 0.0
    for t, msg in messages:
        events += follower.feed(t, t - last, msg)
        last = t
    return events


def ticks(start: float, bpm: float, n: int, jitter: float = 0.0, seed: int = 0) -> list[tuple[float, list[int]]]:
    rng = np.random.default_rng(seed)
    period = 60.0 / bpm / 24
    return [(start + k * period + rng.uniform(-jitter, jitter), [CLOCK]) for k in range(n)]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(allow_nan=True), st.lists(st.integers(-300, 300), max_size=4)), max_size=80))
def test_parser_never_raises_on_garbage(stream: list) -> None:
    follower = ClockFollower()
    for delta, msg in stream:
        follower.feed(1.0, delta, msg)
        follower.check_lost(2.0)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_parser_never_raises_on_raw_bytes(data: bytes) -> None:
    follower = ClockFollower()
    for i in range(0, len(data), 3):
        follower.feed(float(i), 0.001, list(data[i : i + 3]))


def test_start_gives_one_bar_event_per_96_ticks_at_the_boundary_time() -> None:
    follower = ClockFollower(beats_per_bar=4)
    events = play(follower, [(0.0, [START])] + ticks(0.01, 120.0, 96 * 3 + 1))
    bars = [e for e in events if e.kind == "bar"]
    assert [e.bar for e in bars] == [1, 2, 3, 4]
    assert [e.time for e in bars] == pytest.approx([0.01, 2.01, 4.01, 6.01], abs=1e-6)
    assert follower.bpm == pytest.approx(120.0)


def test_tempo_is_robust_to_jitter_and_boundaries_are_smoothed() -> None:
    follower = ClockFollower()
    events = play(follower, [(0.0, [START])] + ticks(0.0, 100.0, 96 * 4 + 1, jitter=0.004, seed=1))
    assert follower.bpm == pytest.approx(100.0, rel=0.01)
    bar_times = [e.time for e in events if e.kind == "bar"][1:]
    expected = [2.4 * k for k in range(1, 5)]
    assert np.max(np.abs(np.array(bar_times) - expected)) < 0.003  # better than the ±4 ms tick jitter


def test_tempo_change_is_followed_within_a_bar() -> None:
    follower = ClockFollower()
    first = ticks(0.0, 120.0, 96)
    second = ticks(first[-1][0] + 60 / 90 / 24, 90.0, 96)
    play(follower, [(0.0, [START])] + first + second)
    assert follower.bpm == pytest.approx(90.0, rel=0.005)


def test_stop_song_position_continue() -> None:
    follower = ClockFollower()
    play(follower, [(0.0, [START])] + ticks(0.0, 120.0, 100))
    events = play(follower, [(3.0, [STOP]), (3.1, [SONG_POSITION, 32 & 0x7F, 0]), (3.2, [CONTINUE])])
    assert [e.kind for e in events] == ["stop", "position", "continue"]
    assert follower.position == 32 * 6  # 32 sixteenths = bar 3
    events = play(follower, ticks(3.3, 120.0, 1))
    assert [(e.kind, e.bar) for e in events] == [("bar", 3)]
    assert [e.kind for e in play(follower, [(4.0, [STOP])] + ticks(4.1, 120.0, 200))] == ["stop"]


def test_ticks_while_stopped_are_ignored() -> None:
    follower = ClockFollower()
    assert play(follower, ticks(0.0, 120.0, 200)) == []


def test_lost_clock_is_reported_once_and_start_resumes() -> None:
    follower = ClockFollower(lost_after=0.5)
    play(follower, [(0.0, [START])] + ticks(0.0, 120.0, 30))
    assert follower.check_lost(0.4) == []
    lost = follower.check_lost(1.2)
    assert [e.kind for e in lost] == ["lost"] and not follower.running
    assert follower.check_lost(5.0) == []
    events = play(follower, [(6.0, [START])] + ticks(6.0, 120.0, 1))
    assert [e.kind for e in events] == ["start", "bar"]


def test_message_timestamps_not_arrival_times_set_the_beat() -> None:
    follower = ClockFollower()
    rng = np.random.default_rng(3)
    stamps = [0.0] + [0.01 + i * 0.025 for i in range(97)]  # Start, then ticks 0..96
    events, previous = [], 0.0
    for k, stamp in enumerate(stamps):
        arrival = stamp + 0.001 + rng.uniform(0.0, 0.010)  # delivery adds 1 ms plus up to 10 ms jitter
        events += follower.feed(arrival, stamp - previous, [START] if k == 0 else [CLOCK])
        previous = stamp
    bar2 = next(e for e in events if e.kind == "bar" and e.bar == 2)
    assert bar2.time == pytest.approx(stamps[-1] + 0.001, abs=0.0015)


def test_resync_after_a_reopened_port_whose_deltas_start_again() -> None:
    follower = ClockFollower(lost_after=0.5)
    play(follower, [(0.0, [START])] + ticks(0.0, 120.0, 48))
    follower.resync()
    arrival = 30.0  # the port came back 29 s later; rtmidi's first delta after reopening is 0
    events = follower.feed(arrival, 0.0, [CONTINUE]) + follower.feed(arrival + 0.02, 0.02, [CLOCK])
    assert [e.kind for e in events] == ["continue"]
    assert follower.check_lost(arrival + 0.1) == []  # the new ticks are on time, not 29 s late


def test_receiver_only_numbers_and_queues() -> None:
    receiver = MidiClockReceiver()
    receiver(([CLOCK], 0.02))
    receiver(([START], 0.0))
    (number, arrival, delta, message), second = receiver.queue
    assert number == 1 and delta == 0.02 and message == [CLOCK] and arrival > 0
    assert second[0] == 2 and receiver.received == 2


def test_segmenter_windows_skips_and_hop() -> None:
    seg = Segmenter(bars=2, hop=1, latency_frames=10)
    assert seg.boundary(1, 0, 120.0) is None
    assert seg.boundary(2, 1000, 120.0) == Skip(1, "no full 2-bar window yet")
    assert seg.boundary(3, 2100, 120.0) == Window(2, 10, 2110, 120.0)  # tempo change: real frames
    assert seg.boundary(4, 3100, 120.0) == Window(3, 1010, 3110, 120.0)
    seg.reset()
    assert isinstance(seg.boundary(9, 9000, 120.0), Skip)
    hop = Segmenter(bars=2, hop=2)
    results = [hop.boundary(b, 1000 * b, 120.0) for b in range(1, 8)]
    assert [type(r).__name__ for r in results] == [
        "NoneType",
        "NoneType",
        "Window",
        "NoneType",
        "Window",
        "NoneType",
        "Window",
    ]
    assert [r.last_bar for r in results if isinstance(r, Window)] == [2, 4, 6]

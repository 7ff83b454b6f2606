"""The daemon's contract, driven step by step through fakes of its protocols (no hardware, no sleeps).

The fakes here are test doubles of the daemon's seams (audio source, clock, scorer, OSC output), named
as such; the real parts are covered by tests/test_live_file.py, tests/test_scorer_process.py and the
JACK end-to-end tests.
"""

from __future__ import annotations

import socket
import time
import types
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtloop.clock import ClockEvent, EventKind
from rtloop.daemon import Daemon, RunEnded
from rtloop.errors import DeviceError
from rtloop.osc_spec import Status
from rtloop.reporter import Reporter
from rtloop.ring import RingBuffer
from rtloop.scorer_process import ScorerFailed
from rtloop.scores import AspectScores, Scores
from rtloop.segmenter import Segmenter

RATE = 48000
BAR = RATE * 2  # 120 bpm, 4/4


class FakeAudio:
    """Fake audio source: the test writes frames into its ring and decides when it fails."""

    def __init__(self, reopenable: bool = True) -> None:
        self.ring = RingBuffer(120 * RATE)
        self.sample_rate = RATE
        self.xruns = 0
        self.last_xrun_frame = -1
        self.reopenable = reopenable
        self.realtime = True
        self.failing: str | None = None
        self.reopen_works = False
        self.reopens = 0

    def feed(self, frames: int) -> None:
        self.ring.write(np.full(frames, 0.1, dtype=np.float32))

    def start(self) -> None: ...

    def close(self) -> None: ...

    def frame_at(self, t: float) -> int:
        return int(t * RATE)

    def time_at(self, frame: int) -> float:
        return frame / RATE

    def failure(self) -> str | None:
        return self.failing

    def exhausted(self) -> bool:
        return False

    def reopen(self) -> None:
        self.reopens += 1
        if not self.reopen_works:
            raise DeviceError("still unplugged")
        self.failing = None

    def callback_durations(self) -> np.ndarray:
        return np.zeros(0)


class FakeClock:
    """Fake clock: returns the events the test queued."""

    waits_for_start = False

    def __init__(self) -> None:
        self.events: list[ClockEvent] = []

    def bar(self, number: int) -> None:
        self.events.append(ClockEvent(EventKind.BAR, 0.0, bar=number, bpm=120.0, frame=(number - 1) * BAR))

    def poll(self, now: float, written: int) -> list[ClockEvent]:
        events, self.events = self.events, []
        return events

    def close(self) -> None: ...


class FakeScorer:
    """Fake scoring child: answers on the next poll, or dies / hangs when told to."""

    def __init__(self) -> None:
        self.bundle = types.SimpleNamespace(frontend=types.SimpleNamespace(sample_rate=RATE))
        self.ready = True
        self.submitted = 0
        self.restarts = 0
        self.die_next = False
        self.gone = False  # the pipe is broken: submit fails
        self._busy = False
        self._aspects_sent = False

    def submit(self, waves: list[np.ndarray], grids: list, windows: bool = False) -> None:
        assert self.ready and not self._busy, "one request at a time"
        self.grids = grids
        if self.gone:
            raise ScorerFailed("the scoring process is gone ([Errno 32] Broken pipe)")
        self.submitted += 1
        self._busy = True
        self.ready = False

    def poll(self, now: float) -> Scores | AspectScores | None:
        """As the real child with a bundle with aspects: the descriptor aspects, then the whole loop."""
        if not self._busy:
            self.ready = True  # a restarted child comes up on the next poll
            return None
        if self.die_next:
            self.die_next = False
            self._busy = False
            raise ScorerFailed("the scoring process died (killed by SIGKILL)")
        if not self._aspects_sent:
            self._aspects_sent = True
            return AspectScores({"rhythm": np.array([0.2])}, {"rhythm": np.array([1.5])}, ())
        self._busy, self.ready, self._aspects_sent = False, True, False
        one = np.array([1.0])
        aspects = {"rhythm": np.array([0.2]), "sound": np.array([0.4])}
        return Scores(one, np.array([0.3]), np.array([False]), np.zeros((1, 512)), aspects, top_aspects=("sound",))

    def restart(self) -> None:
        self.restarts += 1
        self.gone = False
        self._busy = False
        self.ready = False


class FakeOsc:
    """Fake OSC output: records (address, value)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    def send(self, name: str, value: Any = None) -> None:
        self.sent.append((name, value))

    def values(self, name: str) -> list[Any]:
        return [v for n, v in self.sent if n == name]


@pytest.fixture
def rig() -> types.SimpleNamespace:
    audio, clock, scorer, osc, lines = FakeAudio(), FakeClock(), FakeScorer(), FakeOsc(), []
    max_frames = audio.ring.capacity - audio.ring.guard - 10 * RATE
    daemon = Daemon(scorer, audio, clock, Segmenter(1, max_frames=max_frames), Reporter(osc, lines.append))  # type: ignore[arg-type]
    daemon.start()
    return types.SimpleNamespace(daemon=daemon, audio=audio, clock=clock, scorer=scorer, osc=osc, lines=lines)


def play_bars(rig: types.SimpleNamespace, first: int, last: int, now: float = 0.0) -> None:
    """Write bars ``first..last`` of audio, announce their boundaries, and step the daemon twice
    per bar (submit, then collect)."""
    for number in range(first, last + 1):
        rig.audio.feed(BAR)
        rig.clock.bar(number + 1)
        rig.daemon.step(now)
        rig.daemon.step(now)


def test_every_bar_is_scored_and_reported(rig) -> None:  # type: ignore[no-untyped-def]
    rig.clock.bar(1)
    rig.daemon.step(0.0)
    play_bars(rig, 1, 4)
    assert rig.osc.values("/bar") == [1, 2, 3, 4]
    assert rig.osc.values("/status")[0] == "running"
    assert rig.daemon.summary.scored == 4
    grid = rig.scorer.grids[0]  # the clock's tempo and the window's bars describe the loop
    assert (grid.bpm, grid.beats_per_bar, grid.bars, grid.source.value) == (120.0, 4, 1, "clock")


def test_descriptor_aspects_leave_before_the_network_answer_and_are_not_sent_again(rig) -> None:  # type: ignore[no-untyped-def]
    rig.clock.bar(1)
    rig.daemon.step(0.0)
    play_bars(rig, 1, 2)
    sent = [(name, value) for name, value in rig.osc.sent if name.startswith("/variation")]
    assert sent == [("/variation/rhythm", 0.2), ("/variation", 0.3), ("/variation/sound", 0.4)] * 2
    results = rig.daemon.summary.results
    assert [r.aspects for r in results] == [{"rhythm": 0.2, "sound": 0.4}] * 2  # takes and terminal get all
    assert all(r.aspects_latency_ms is not None and r.aspects_latency_ms <= r.latency_ms for r in results)
    assert "descriptor aspects bar boundary -> OSC: p50" in rig.daemon.summary.render()


def busy_bars(rig: types.SimpleNamespace, first: int, last: int) -> None:
    """Bars ``first..last`` arrive while the scorer is still busy with the bar before (stepped once each)."""
    for number in range(first, last + 1):
        rig.audio.feed(BAR)
        rig.clock.bar(number + 1)
        rig.daemon.step(0.0)


@pytest.mark.parametrize("realtime", [True, False])
def test_a_scorer_that_falls_behind_skips_overtaken_windows_live_and_none_in_a_replay(rig, realtime: bool) -> None:  # type: ignore[no-untyped-def]
    """Live, what is sent must be current: before, windows queued without bound and values went out ever
    later (15 s behind at 400 bpm). A finite replay scores every window, however late."""
    rig.audio.realtime = realtime
    rig.clock.bar(1)
    rig.daemon.step(0.0)
    rig.audio.feed(BAR)
    rig.clock.bar(2)
    rig.daemon.step(0.0)  # bar 1 submitted; the scorer answers on later polls
    rig.scorer.poll = lambda now: None  # it hangs on for three more bars
    busy_bars(rig, 2, 4)
    del rig.scorer.poll
    for _ in range(12):
        rig.daemon.step(0.0)
    if realtime:
        assert rig.osc.values("/bar") == [1, 4] and rig.osc.values("/skipped") == [2, 3]
        assert rig.daemon.summary.skipped == {"overrun: the scorer fell behind, a newer window is ready": 2}
    else:
        assert rig.osc.values("/bar") == [1, 2, 3, 4] and rig.osc.values("/skipped") == []


def test_a_silent_window_is_skipped_not_scored_as_the_greatest_variation(rig) -> None:  # type: ignore[no-untyped-def]
    """Between songs: digital silence was scored (variation 1.00, flagged, kept as a take); now as files are."""
    rig.clock.bar(1)
    rig.daemon.step(0.0)
    play_bars(rig, 1, 1)
    rig.audio.ring.write(np.zeros(BAR, dtype=np.float32))
    rig.clock.bar(3)
    rig.daemon.step(0.0)
    rig.daemon.step(0.0)
    play_bars(rig, 3, 3)
    assert rig.osc.values("/bar") == [1, 3] and rig.osc.values("/skipped") == [2]
    assert rig.daemon.summary.skipped == {"silent input (peak below -100 dBFS)": 1}


def test_disarm_skips_bars_and_arm_resumes_and_half_values_are_refused(rig) -> None:  # type: ignore[no-untyped-def]
    rig.clock.bar(1)
    rig.daemon.requests.append(("/arm", 0))
    play_bars(rig, 1, 2)
    assert rig.osc.values("/skipped") == [1, 2] and rig.daemon.reporter.status is Status.DISARMED
    rig.daemon.requests.append(("/arm", 0.5))
    play_bars(rig, 3, 3)
    assert not rig.daemon.armed and rig.osc.values("/skipped") == [1, 2, 3]
    rig.daemon.requests.append(("/arm", 1))
    play_bars(rig, 4, 5)
    assert rig.osc.values("/bar") == [4, 5] and rig.daemon.reporter.status is Status.RUNNING


def test_bars_are_limited_by_the_spec_and_by_what_the_ring_holds(rig) -> None:  # type: ignore[no-untyped-def]
    rig.clock.bar(1)
    play_bars(rig, 1, 1)  # the daemon now knows the tempo: 2 s bars; the ring holds ~110 s
    assert rig.daemon.max_bars() == 54
    for value in (65, 100, 2**32 - 1, float("nan"), float("inf"), "2", True, 0, -1, 64, 55):
        rig.daemon.requests.append(("/bars", value))
        rig.daemon.step(0.0)
        assert rig.daemon.segmenter.bars == 1, value
    rig.daemon.requests.append(("/bars", 54))
    rig.daemon.step(0.0)
    assert rig.daemon.segmenter.bars == 54


def test_unplugged_audio_is_reopened_with_back_off_and_the_gap_recorded(rig) -> None:  # type: ignore[no-untyped-def]
    rig.audio.failing = "unplugged"
    rig.daemon.step(10.0)
    assert rig.daemon.reporter.status is Status.AUDIO_LOST
    for now in np.arange(10.0, 16.5, 0.1):
        rig.daemon.step(float(now))
    assert rig.audio.reopens == 2  # at 11 and 13 s: back-off 1, 2, then 4 s
    rig.audio.reopen_works = True
    for now in np.arange(16.5, 17.5, 0.1):
        rig.daemon.step(float(now))
    assert rig.audio.reopens == 3  # at 17 s, and it worked
    assert rig.daemon.summary.gaps == [pytest.approx(7.0, abs=0.25)]
    assert rig.daemon.reporter.status is Status.RUNNING
    assert any("audio input back after" in line for line in rig.lines)


def test_audio_that_cannot_come_back_ends_the_run_with_the_reason(rig) -> None:  # type: ignore[no-untyped-def]
    rig.audio.reopenable = False
    rig.audio.failing = "the JACK server is gone"
    with pytest.raises(RunEnded, match="JACK server is gone"):
        rig.daemon.step(0.0)
    assert rig.daemon.reporter.status is Status.AUDIO_LOST


def test_a_dying_scorer_costs_one_bar_and_is_restarted(rig) -> None:  # type: ignore[no-untyped-def]
    rig.clock.bar(1)
    play_bars(rig, 1, 2)
    rig.scorer.die_next = True
    play_bars(rig, 3, 6, now=100.0)
    assert rig.scorer.restarts == 1
    assert (
        3,
        "scoring process failed: the scoring process died (killed by SIGKILL)",
    ) in rig.daemon.summary.skipped_bars
    assert rig.osc.values("/bar") == [1, 2, 4, 5, 6]
    assert "scorer_restarting" in rig.osc.values("/status")
    assert rig.daemon.reporter.status is Status.RUNNING


def test_a_scorer_gone_before_the_request_is_restarted_too(rig) -> None:  # type: ignore[no-untyped-def]
    rig.clock.bar(1)
    play_bars(rig, 1, 1)
    rig.scorer.gone = True
    play_bars(rig, 2, 4, now=100.0)
    assert rig.scorer.restarts == 1
    assert rig.daemon.summary.skipped_bars[0] == (
        2,
        "scoring process failed: the scoring process is gone ([Errno 32] Broken pipe)",
    )
    assert rig.osc.values("/bar") == [1, 3, 4]


def test_four_scorer_failures_within_a_minute_end_the_run(rig) -> None:  # type: ignore[no-untyped-def]
    rig.clock.bar(1)
    play_bars(rig, 1, 1)
    with pytest.raises(RunEnded, match="failed 4 times within a minute"):
        for number in range(2, 10):
            rig.scorer.die_next = True
            play_bars(rig, number, number, now=float(number))
    assert rig.scorer.restarts == 3


def test_failures_a_minute_apart_are_all_survived(rig) -> None:  # type: ignore[no-untyped-def]
    rig.clock.bar(1)
    for number in range(1, 8):
        rig.scorer.die_next = True
        play_bars(rig, number, number, now=61.0 * number)
    assert rig.scorer.restarts == 7


def test_a_failing_takes_folder_shows_in_the_status_while_scoring_goes_on(rig) -> None:  # type: ignore[no-untyped-def]
    takes = types.SimpleNamespace(problem=None, added=[], add=lambda *args: takes.added.append(args))
    rig.daemon.reporter.takes = takes
    rig.clock.bar(1)
    play_bars(rig, 1, 1)
    takes.problem = "cannot write to /takes: No space left on device"
    play_bars(rig, 2, 3)
    assert rig.daemon.reporter.status is Status.TAKES_FAILING
    assert rig.osc.values("/status")[-1] == "takes_failing"
    assert sum("No space left" in line for line in rig.lines) == 1  # said once, not per bar
    takes.problem = None
    play_bars(rig, 4, 4)
    assert rig.daemon.reporter.status is Status.RUNNING and rig.osc.values("/bar") == [1, 2, 3, 4]
    assert len(takes.added) == 4


# -- fuzz: hostile control packets and MIDI bytes while the daemon runs ---------------------------------

TICK = 60.0 / 120.0 / 24  # seconds per MIDI clock tick at 120 bpm
NOT_TRANSPORT = [b for b in range(256) if b not in (0xF2, 0xF8, 0xFA, 0xFB, 0xFC)]  # junk never says start/stop


class FakeClockPort:
    """Fake of :class:`~rtloop.midi_input.ClockInput`: the test writes its messages into the receiver."""

    reopenable = False

    def __init__(self) -> None:
        from rtloop.clock import MidiClockReceiver

        self.receiver = MidiClockReceiver()
        self.number = 0

    def put(self, arrival: float, delta: float, message: list[int]) -> None:
        self.receiver.queue.append((self.number, arrival, delta, message))
        self.number += 1

    def close(self) -> None: ...


def osc_message(address: str, *ints: int) -> bytes:
    def pad(b: bytes) -> bytes:
        return b + b"\0" * (4 - len(b) % 4)

    return pad(address.encode()) + pad(("," + "i" * len(ints)).encode()) + b"".join(i.to_bytes(4, "big") for i in ints)


@settings(max_examples=15, deadline=None)
@given(
    packets=st.lists(
        st.one_of(
            st.binary(max_size=200),
            st.builds(
                lambda b, at, v: b[:at] + bytes([v]) + b[at + 1 :],
                st.just(osc_message("/rtloop/bars", 2)),
                st.integers(0, 15),
                st.integers(0, 255),
            ),
        ),
        max_size=20,
    ),
    junk=st.lists(st.lists(st.sampled_from(NOT_TRANSPORT), min_size=1, max_size=12), max_size=60),
)
def test_fuzzed_control_packets_and_midi_bytes_leave_every_bar_accounted_for_and_ping_answered(
    packets: list[bytes], junk: list[list[int]]
) -> None:
    from rtloop.clock import CLOCK, START, ClockFollower
    from rtloop.clocks import MidiClock
    from rtloop.osc_io import ControlServer

    audio, scorer, osc, port = FakeAudio(), FakeScorer(), FakeOsc(), FakeClockPort()
    max_frames = audio.ring.capacity - audio.ring.guard - 10 * RATE
    with ControlServer("127.0.0.1", 0) as control, MidiClock(port, ClockFollower(4)) as clock:
        daemon = Daemon(
            scorer,
            audio,
            clock,
            Segmenter(1, max_frames=max_frames),
            Reporter(osc, lambda _: None),  # type: ignore[arg-type]
            control=(control.commands,),
        )
        daemon.start()
        port.put(0.0, 0.0, [START])
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        spread = iter(junk)
        bars = 8
        for tick in range(bars * 96 + 1):
            now = tick * TICK
            if tick % 96 == 0 and packets:
                sender.sendto(packets.pop(), control.address)
            message = next(spread, None)
            if message is not None:
                port.put(now, 0.0 if tick == 0 else TICK, message)  # junk arrives just before the tick
                port.put(now, 0.0, [CLOCK])
            else:
                port.put(now, 0.0 if tick == 0 else TICK, [CLOCK])
            if tick % 24 == 0:
                audio.feed(int(RATE * now) - audio.ring.written)
                daemon.step(now)
                daemon.step(now)
        for data in (osc_message("/rtloop/arm", 1), osc_message("/rtloop/bars", 1), osc_message("/rtloop/ping")):
            sender.sendto(data, control.address)
        sender.close()
        deadline = time.monotonic() + 10
        while len(control.commands) < 3 and time.monotonic() < deadline:
            time.sleep(0.005)
        daemon.step(bars * 96 * TICK)
        for tick in range(bars * 96 + 1, (bars + 3) * 96 + 1):  # three more bars after the fuzz
            port.put(tick * TICK, TICK, [CLOCK])
            if tick % 24 == 0:
                audio.feed(int(RATE * tick * TICK) - audio.ring.written)
                daemon.step(tick * TICK)
                daemon.step(tick * TICK)
    assert osc.values("/pong") == [1]
    scored, skipped = osc.values("/bar"), osc.values("/skipped")
    assert sorted(scored + skipped) == list(range(1, bars + 3 + 1)), (scored, skipped)  # every bar exactly once
    assert scored[-3:] == [bars + 1, bars + 2, bars + 3], (scored, skipped)  # scoring goes on after the fuzz

"""The MIDI clock follower against hostile streams: bursts, a 10,000 ticks/s clock, gaps, Active Sensing,
SysEx (whole, split, unterminated), garbage and running-status bytes, a full queue; a fuzz test that
interleaves random MIDI with a valid clock; and, on a real JACK server, what rtmidi's deltas count."""

from __future__ import annotations

import logging
import math
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jack_server import Jack

from rtloop.clock import (
    CLOCK,
    CONTINUE,
    MAX_BPM,
    MIN_BPM,
    SONG_POSITION,
    START,
    STOP,
    ClockEvent,
    ClockFollower,
    MidiClockReceiver,
)

ACTIVE_SENSING, SYSEX, SYSEX_END = 0xFE, 0xF0, 0xF7
TICK = 60.0 / 120.0 / 24  # seconds per tick at 120 bpm


class Stream:
    """Feeds a follower as rtmidi would: each message's delta is the time since the message before."""

    def __init__(self, follower: ClockFollower) -> None:
        self.follower = follower
        self.time = 0.0
        self.last = 0.0
        self.events: list[ClockEvent] = []

    def send(self, message: list[int], after: float = 0.0) -> list[ClockEvent]:
        self.time += after
        events = self.follower.feed(self.time + 0.001, self.time - self.last, message)
        self.last = self.time
        self.events += events
        return events

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    def bars(self) -> list[ClockEvent]:
        return [e for e in self.events if e.kind == "bar"]


def assert_sane_bars(bars: list[ClockEvent]) -> None:
    times = [e.time for e in bars]
    assert times == sorted(times), "bar times went back"
    for e in bars:
        assert math.isfinite(e.bpm) and (e.bpm == 0.0 or MIN_BPM <= e.bpm <= MAX_BPM), e


def test_back_to_back_ticks_with_zero_deltas(caplog: pytest.LogCaptureFixture) -> None:
    stream = Stream(ClockFollower())
    stream.send([START])
    with caplog.at_level(logging.WARNING, "rtloop.clock"):
        for _ in range(96 * 5 + 1):
            stream.send([CLOCK])
    bars = stream.bars()
    assert [e.bar for e in bars] == [1, 2, 3, 4, 5, 6]
    assert all(e.bpm == 0.0 for e in bars)
    assert_sane_bars(bars)
    assert len(caplog.records) == 1 and "gets no tempo" in caplog.records[0].getMessage()


def test_ten_thousand_ticks_a_second() -> None:
    follower = ClockFollower()
    stream = Stream(follower)
    stream.send([START])
    for _ in range(96 * 40 + 1):
        stream.send([CLOCK], after=1e-4)
    bars = stream.bars()
    assert [e.bar for e in bars] == list(range(1, 42))
    assert all(e.bpm == 0.0 for e in bars) and follower.bpm == 0.0
    assert_sane_bars(bars)
    assert follower.check_lost(stream.time + 0.1) == []  # fast is not lost


def test_a_burst_inside_a_steady_clock_keeps_the_tempo_plausible() -> None:
    stream = Stream(ClockFollower())
    stream.send([START])
    for k in range(96 * 4 + 1):
        stream.send([CLOCK], after=0.0 if 100 <= k < 110 else TICK)
    bars = stream.bars()
    assert [e.bar for e in bars] == [1, 2, 3, 4, 5]
    assert_sane_bars(bars)
    assert bars[-1].bpm == pytest.approx(120.0, rel=1e-6)  # the burst has left the fit by then


@pytest.mark.parametrize(
    "noise",
    [
        [ACTIVE_SENSING],
        [SYSEX, 0x7E, 0x00, 0x06, 0x01, SYSEX_END],
        [0x45, 0x40],  # running-status data bytes without their status
        [0x90, 60, 100],
        [0xF9],
        [0xFF],  # System Reset is ignored
    ],
)
def test_messages_between_ticks_do_not_move_the_beat(noise: list[int]) -> None:
    stream = Stream(ClockFollower())
    stream.send([START])
    for k in range(96 * 3 + 1):
        if k % 7 == 3:
            stream.send(noise, after=TICK * 0.4)  # rtmidi: the next delta counts from this message
            stream.send([CLOCK], after=TICK * 0.6)
        else:
            stream.send([CLOCK], after=TICK)
    bars = stream.bars()
    assert [e.bar for e in bars] == [1, 2, 3, 4]
    assert [e.bpm for e in bars[1:]] == pytest.approx([120.0] * 3, rel=1e-9)
    assert [e.time for e in bars] == pytest.approx([TICK + 0.001 + 2.0 * k for k in range(4)], abs=1e-9)


def test_realtime_bytes_count_inside_sysex_and_garbage() -> None:
    follower = ClockFollower()
    stream = Stream(follower)
    assert stream.send([SYSEX, 1, 2, START]) and follower.running  # unterminated SysEx, then Start (ALSA)
    stream.send([SYSEX, 1, CLOCK, 2, 3, SYSEX_END])  # a tick inside a SysEx: bar 1
    stream.send([SYSEX, 5, 6])  # split SysEx: first part ...
    stream.send([7, 8, SYSEX_END, STOP])  # ... second part, then Stop
    stream.send([0x12, 0x34, CONTINUE, 0x56])  # garbage around Continue
    stream.send([0xC0, 300, -1, "x", None, STOP])  # not even bytes: skipped one by one
    assert stream.kinds() == ["start", "bar", "stop", "continue", "stop"]
    assert follower.invalid == 4


def test_what_jack_delivers_after_an_unterminated_sysex_keeps_its_start_and_ticks() -> None:
    """rtmidi's JACK backend appends every later message to an unterminated SysEx until an F7 comes."""
    follower = ClockFollower()
    stream = Stream(follower)
    stream.send([SYSEX, 1, 2, START, CLOCK, 0x90, 1, 2, CLOCK, 3, SYSEX_END])
    assert stream.kinds() == ["start", "bar"] and follower.position == 2


def test_a_long_sysex_dump_is_skipped_but_its_real_time_bytes_count() -> None:
    follower = ClockFollower()
    stream = Stream(follower)
    stream.send([START])
    stream.send([SYSEX] + [0x55] * 1_000_000 + [CLOCK] + [0x2A] * 1000 + [SYSEX_END, STOP])
    assert stream.kinds() == ["start", "bar", "stop"]


def test_song_position_needs_its_data_bytes_but_real_time_may_interrupt() -> None:
    follower = ClockFollower()
    stream = Stream(follower)
    stream.send([SONG_POSITION, CLOCK, 16, 0])
    assert stream.kinds() == ["position"] and follower.position == 16 * 6
    stream.send([SONG_POSITION, 0x90, 1, 2])  # a status byte cuts it short
    stream.send([SONG_POSITION, 5])  # truncated
    stream.send([SONG_POSITION])
    stream.send([3, 0])  # data bytes of another message are not its data
    assert stream.kinds() == ["position"] and follower.position == 16 * 6


def test_gap_then_resume_without_loss_and_a_long_silence_resets_the_timeline() -> None:
    follower = ClockFollower(lost_after=0.5)
    stream = Stream(follower)
    stream.send([START])
    for k in range(96 * 2 + 1):
        stream.send([CLOCK], after=0.3 if k == 50 else TICK)  # a 0.3 s gap: not lost
    assert [e.bar for e in stream.bars()] == [1, 2, 3]
    assert_sane_bars(stream.bars())
    stream.send([STOP], after=0.1)
    stream.time += 3600.0  # an hour later, the timeline restarts from the arrivals
    stream.send([START])
    stream.send([CLOCK], after=TICK)
    assert stream.kinds()[-2:] == ["start", "bar"]
    assert stream.events[-1].time == pytest.approx(stream.time + 0.001)


@pytest.mark.parametrize("delta", [float("nan"), float("inf"), -1.0, True, "0.1", None])
def test_invalid_deltas_count_as_zero(delta: object) -> None:
    follower = ClockFollower()
    assert follower.feed(5.0, delta, [START])  # type: ignore[arg-type]
    assert follower.feed(5.02, 0.02, [CLOCK])[0].time == pytest.approx(5.02)


def test_a_full_queue_is_reported_and_the_bars_do_not_join_up(caplog: pytest.LogCaptureFixture) -> None:
    receiver = MidiClockReceiver(maxlen=8)
    follower = ClockFollower()
    receiver(([START], 0.0))
    events = list(follower.drain(receiver.queue))
    for _ in range(20):  # the worker stalls: 12 of these are dropped
        receiver(([CLOCK], TICK))
    with caplog.at_level(logging.WARNING, "rtloop.clock"):
        events += follower.drain(receiver.queue)
    assert [e.kind for e in events] == ["start", "position", "bar"]  # the segmenter resets at "position"
    assert "12 messages lost" in caplog.records[0].getMessage()


# --- fuzz: random MIDI interleaved with a valid clock ---------------------------------------------------

CONTROL_BYTES = {CLOCK, START, CONTINUE, STOP, SONG_POSITION}
noise_bytes = st.integers(0, 255).filter(lambda b: b not in CONTROL_BYTES)
noise_message = st.one_of(
    st.lists(noise_bytes, min_size=1, max_size=6),
    st.just([ACTIVE_SENSING]),
    st.lists(st.integers(0, 127), max_size=40).map(lambda body: [SYSEX, *body]),  # unterminated
    st.lists(st.integers(0, 127), max_size=40).map(lambda body: [SYSEX, *body, SYSEX_END]),
    st.lists(st.integers(0, 127), min_size=1, max_size=4),  # running status, SysEx tails
)
transport = st.lists(st.tuples(st.sampled_from([START, STOP, CONTINUE]), st.integers(0, 220)), max_size=4)


@settings(max_examples=60, deadline=None)
@given(
    first_run=st.integers(0, 300),
    later=transport,
    noise=st.lists(st.tuples(st.integers(0, 1200), noise_message, st.floats(0.0, 1.0)), max_size=40),
    split=st.booleans(),
)
def test_random_midi_between_a_valid_clock_loses_nothing(
    first_run: int, later: list[tuple[int, int]], noise: list, split: bool
) -> None:
    program = [START] + [CLOCK] * first_run
    for status, ticks in later:
        program += [status] + [CLOCK] * ticks
    noise_at: dict[int, list[tuple[list[int], float]]] = {}
    for index, message, share in noise:
        noise_at.setdefault(index % len(program), []).append((message, share))

    follower = ClockFollower()
    stream = Stream(follower)
    running, position, expected_bars, expected_kinds = False, 0, [], []
    for index, status in enumerate(program):
        gap = TICK
        for message, share in noise_at.get(index, []):  # noise takes part of the gap: no time is lost
            stream.send(message, after=gap * share if split else 0.0)
            gap -= gap * share if split else 0.0
        stream.send([status], after=gap)
        if status == CLOCK and running:
            if position % 96 == 0:
                expected_bars.append(position // 96 + 1)
            position += 1
        elif status != CLOCK:
            expected_kinds.append({START: "start", STOP: "stop", CONTINUE: "continue"}[status])
            running = status != STOP
            position = 0 if status == START else position

    assert [k for k in stream.kinds() if k != "bar"] == expected_kinds
    bars = stream.bars()
    assert [e.bar for e in bars] == expected_bars
    assert_sane_bars(bars)
    for e in bars:
        assert e.bpm == 0.0 or e.bpm == pytest.approx(120.0, rel=1e-6), "noise moved the tempo"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(allow_nan=True, allow_infinity=True), st.binary(max_size=12)), max_size=200))
def test_arbitrary_bytes_and_deltas_never_raise_and_bars_stay_sane(stream: list[tuple[float, bytes]]) -> None:
    follower = ClockFollower()
    events: list[ClockEvent] = []
    for k, (delta, data) in enumerate(stream):
        events += follower.feed(1.0 + k * 0.001, delta, list(data))
        events += follower.check_lost(1.0 + k * 0.001)
    bars = [e for e in events if e.kind == "bar"]
    assert_sane_bars(bars)
    assert math.isfinite(follower.bpm)


# --- real JACK: which deltas does rtmidi deliver? ----------------------------------------------------


@pytest.fixture
def jack_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, str]]:
    if shutil.which("jackd") is None or shutil.which("jack_connect") is None:
        pytest.skip("jackd not installed")
    jack = Jack(tmp_path / "jackd.log", name="rtloop-midi-fuzz")
    monkeypatch.setenv("JACK_DEFAULT_SERVER", jack.name)  # python-rtmidi's clients and jack_lsp join it
    monkeypatch.setenv("JACK_NO_AUDIO_RESERVATION", "1")
    try:
        yield jack.env
    finally:
        jack.close()


@pytest.mark.jack
@pytest.mark.slow
def test_jack_deltas_span_all_the_time_when_nothing_is_ignored(jack_server: dict[str, str]) -> None:
    """rtmidi's JACK backend measures each delta from the previous message, ignored or not: a port that
    ignores Active Sensing or SysEx loses their share of time. ClockInput receives everything."""
    rtmidi = pytest.importorskip("rtmidi")
    from rtloop.midi_input import ClockInput

    clock_in = ClockInput("clock in", api="jack", virtual=True)
    out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="rtloop-test-sender")
    try:
        out.open_virtual_port("out")
        ports = subprocess.run(["jack_lsp"], capture_output=True, text=True, check=True).stdout.split("\n")
        source = next(p for p in ports if p.startswith("rtloop-test-sender"))
        sink = next(p for p in ports if "clock in" in p and not p.startswith("rtloop-test-sender"))
        subprocess.run(["jack_connect", source, sink], check=True)
        time.sleep(0.3)  # the connection takes a process cycle or two
        messages = [[CLOCK], [ACTIVE_SENSING], [SYSEX, 1, 2, SYSEX_END], [CLOCK], [ACTIVE_SENSING], [CLOCK]]
        sent_at = []
        for message in messages:
            sent_at.append(time.monotonic())
            out.send_message(message)
            time.sleep(0.1)
        deadline = time.monotonic() + 5
        while len(clock_in.receiver.queue) < len(messages) and time.monotonic() < deadline:
            time.sleep(0.01)
        received = list(clock_in.receiver.queue)
    finally:
        out.close_port()
        clock_in.close()
    spanned = sum(delta for _, _, delta, _ in received[1:])
    assert spanned == pytest.approx(sent_at[-1] - sent_at[0], abs=0.1)  # 0.5 s; ignoring gives ~0.2
    assert [list(m) for _, _, _, m in received] == messages


@pytest.mark.jack
@pytest.mark.slow
def test_jack_start_inside_an_unterminated_sysex_is_not_lost(jack_server: dict[str, str]) -> None:
    rtmidi = pytest.importorskip("rtmidi")
    from rtloop.midi_input import ClockInput

    clock_in = ClockInput("clock in", api="jack", virtual=True)
    out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="rtloop-test-sender")
    follower = ClockFollower()
    events: list[ClockEvent] = []
    try:
        out.open_virtual_port("out")
        ports = subprocess.run(["jack_lsp"], capture_output=True, text=True, check=True).stdout.split("\n")
        source = next(p for p in ports if p.startswith("rtloop-test-sender"))
        sink = next(p for p in ports if "clock in" in p and not p.startswith("rtloop-test-sender"))
        subprocess.run(["jack_connect", source, sink], check=True)
        time.sleep(0.3)
        for message in ([SYSEX, 1, 2], [START], [CLOCK], [0x90, 60, 1], [CLOCK], [3, SYSEX_END], [STOP], [START]):
            out.send_message(message)
            time.sleep(0.02)
        deadline = time.monotonic() + 5
        while [e.kind for e in events].count("start") < 2 and time.monotonic() < deadline:
            events += follower.drain(clock_in.receiver.queue)
            time.sleep(0.01)
    finally:
        out.close_port()
        clock_in.close()
    assert [e.kind for e in events] == ["start", "bar", "stop", "start"]


@pytest.mark.jack
@pytest.mark.slow
def test_jack_clock_port_that_vanishes_is_reopened_after_failed_attempts(jack_server: dict[str, str]) -> None:
    """The clock source's port vanishes: each attempt to reopen it fails with a message (python-rtmidi
    crashes the process on a client freed by an earlier attempt), and once the port is back, the clock
    comes through again; closing twice is harmless."""
    rtmidi = pytest.importorskip("rtmidi")
    from rtloop.errors import DeviceError
    from rtloop.midi_input import ClockInput
    from rtloop.midi_ports import release

    def source() -> object:
        out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="rtloop-test-source")
        out.open_virtual_port("clock")
        return out

    out = source()
    clock_in = ClockInput("rtloop-test-source", api="jack")
    try:
        release(out)
        for _ in range(3):
            with pytest.raises(DeviceError, match="'rtloop-test-source:clock' is not back"):
                clock_in.reopen()
        out = source()
        clock_in.reopen()
        time.sleep(0.3)  # the connection takes a process cycle or two
        out.send_message([CLOCK])
        deadline = time.monotonic() + 5
        while not clock_in.receiver.queue and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [list(m) for _, _, _, m in clock_in.receiver.queue] == [[CLOCK]]
    finally:
        release(out)
        clock_in.close()
        clock_in.close()


@pytest.mark.jack
@pytest.mark.slow
def test_jack_clock_port_chosen_by_index_is_reopened_as_that_port_not_the_one_at_its_index(
    jack_server: dict[str, str],
) -> None:
    """``--midi 0`` names the first port; when it vanishes, another takes index 0: a reopen must wait for
    the first one (before, it bound the other device and followed its clock)."""
    rtmidi = pytest.importorskip("rtmidi")
    from rtloop.errors import DeviceError
    from rtloop.midi_input import ClockInput
    from rtloop.midi_ports import list_ports, release

    def source(name: str) -> object:
        out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=name)
        out.open_virtual_port("clock")
        return out

    sources = {name: source(name) for name in ("rtloop-test-first", "rtloop-test-other")}
    index = list_ports("jack").index("rtloop-test-first:clock")
    clock_in = ClockInput(str(index), api="jack")
    try:
        release(sources.pop("rtloop-test-first"))  # python-rtmidi crashes on a client released twice
        assert list_ports("jack")[index] == "rtloop-test-other:clock", "the other port now has the index"
        with pytest.raises(DeviceError, match="'rtloop-test-first:clock' is not back"):
            clock_in.reopen()
        sources["rtloop-test-first"] = source("rtloop-test-first")
        clock_in.reopen()
        time.sleep(0.3)  # the connection takes a process cycle or two
        sources["rtloop-test-other"].send_message([CLOCK])
        sources["rtloop-test-first"].send_message([START])
        deadline = time.monotonic() + 5
        while not clock_in.receiver.queue and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
        assert [list(m) for _, _, _, m in clock_in.receiver.queue] == [[START]], "only the first port's messages"
    finally:
        for out in sources.values():
            release(out)
        clock_in.close()

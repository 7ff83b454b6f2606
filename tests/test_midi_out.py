"""MIDI CC out through a real JACK MIDI connection: a private jackd (dummy backend), rtloop's output port and
a second python-rtmidi client that records the exact bytes."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest
from jack_server import Jack

from rtloop.errors import DeviceError
from rtloop.midi_out import CcMap, MidiCcOut, to_7bit
from rtloop.midi_ports import find_again, list_ports, release, select_port

SERVER = "rtloop-midi-out"  # its own fixed name: JACK frees a dead server's registry entry only on reuse
ASPECTS = ("rhythm", "harmony", "timbre", "integrity", "sound")


def test_cc_map_refuses_bad_numbers() -> None:
    assert CcMap().aspects == {"rhythm": 21, "harmony": 22, "timbre": 23, "integrity": 24, "sound": 25}
    for bad in ({"channel": 0}, {"channel": 17}, {"overall": 120}, {"flag": 21}, {"overall": -1}):
        with pytest.raises(ValueError):
            CcMap(**bad)  # type: ignore[arg-type]


def test_values_are_clipped_and_rounded_to_seven_bits() -> None:
    assert [to_7bit(v) for v in (-0.5, 0.0, 0.5, 0.999, 1.0, 3.0)] == [0, 0, 64, 127, 127, 127]


def test_port_selection_by_index_or_substring() -> None:
    ports = ["witness:in", "synth:midi_in"]
    assert select_port(ports, "1", "MIDI output") == 1
    assert select_port(ports, "WITNESS", "MIDI output") == 0
    with pytest.raises(DeviceError, match=r"matches several ports.*\[0\] witness:in"):
        select_port(ports, "in", "MIDI output")
    with pytest.raises(DeviceError, match="matches no MIDI output"):
        select_port(ports, "7", "MIDI output")


def test_a_port_is_found_again_by_its_name_never_by_its_old_index() -> None:
    first = "USB Uno:USB Uno MIDI 1 24:0"  # rtmidi's ALSA names: client:port, then the ALSA address
    assert find_again(["Midi Through:Midi Through Port-0 14:0", first], first, "1", "MIDI input") == 1
    assert find_again(["USB Uno:USB Uno MIDI 1 28:0"], first, "1", "MIDI input") == 0, "plugged in again: a new client"
    with pytest.raises(DeviceError, match=r"'USB Uno:USB Uno MIDI 1 24:0' is not back.*\[1\] Keystep"):
        find_again(["Midi Through:Midi Through Port-0 14:0", "Keystep:Keystep MIDI 1 24:0"], first, "1", "MIDI input")
    with pytest.raises(DeviceError, match="is not back"):  # two of the same device again: which one is not known
        find_again(["USB Uno:USB Uno MIDI 1 28:0", "USB Uno:USB Uno MIDI 1 32:0"], first, "1", "MIDI input")
    # Windows numbers its names ("USB Uno 1", then "USB Uno 2"): a port the user named is found by that name
    assert find_again(["Microsoft GS", "USB Uno 2"], "USB Uno 1", "uno", "MIDI output") == 1
    with pytest.raises(DeviceError, match="is not back"):
        find_again(["Microsoft GS", "USB Uno 2"], "USB Uno 1", "1", "MIDI output")


@pytest.fixture(scope="module")
def jack_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    if shutil.which("jackd") is None or shutil.which("jack_lsp") is None:
        pytest.skip("jackd not installed")
    jack = Jack(tmp_path_factory.mktemp("jack") / "jackd.log", name=SERVER)
    try:
        yield jack.env
    finally:
        jack.close()


@pytest.fixture
def jack_env(jack_server: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("JACK_DEFAULT_SERVER", SERVER)  # python-rtmidi's JACK clients join this server
    return jack_server


def witness_input(virtual: bool, source: str | None = None) -> Any:
    import rtmidi

    midi = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="witness")
    if virtual:
        midi.open_virtual_port("in")
    else:
        midi.open_port(select_port(midi.get_ports(), source, "MIDI input"))
    return midi


def received(midi: Any, count: int, wait: float = 2.0) -> list[list[int]]:
    """Messages until ``count`` arrived, then what else comes within 0.3 s (to catch extra messages)."""
    messages: list[list[int]] = []
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        message = midi.get_message()
        if message is None:
            time.sleep(0.005)
            continue
        messages.append(message[0])
        if len(messages) == count:
            deadline = min(deadline, time.monotonic() + 0.3)
    return messages


@pytest.mark.jack
def test_values_arrive_as_exact_control_changes_and_only_when_they_change(
    jack_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    witness = witness_input(virtual=True)
    assert "witness:in" in list_ports("jack", output=True)
    out = MidiCcOut("witness", api="jack", ccs=CcMap(channel=3))
    try:
        time.sleep(0.2)  # the connection is made by the JACK server thread
        aspects = dict(zip(ASPECTS, (0.0, 0.25, 0.5, 0.75, 1.0), strict=True))
        out.send(0.5, aspects, True)
        assert received(witness, 7) == [
            [0xB2, 20, 64],
            [0xB2, 21, 0],
            [0xB2, 22, 32],
            [0xB2, 23, 64],
            [0xB2, 24, 95],
            [0xB2, 25, 127],
            [0xB2, 26, 127],
        ]
        out.send(0.5, aspects, True)  # nothing changed: nothing sent
        out.send(0.501, {**aspects, "timbre": 0.9}, False)  # 0.501 rounds to the same 64
        assert received(witness, 2) == [[0xB2, 23, 114], [0xB2, 26, 0]]
        with caplog.at_level(logging.WARNING, logger="rtloop.midi_out"):
            out.send(float("nan"), {"rhythm": float("nan"), "unknown": 0.3}, False)
            out.send(float("nan"), {}, False)
        assert received(witness, 0, wait=0.5) == []
        assert [r.getMessage() for r in caplog.records] == ["MIDI CC 20 not sent: the value is not a number (nan)"]
    finally:
        out.close()
        witness.close_port()
        witness.delete()


@pytest.mark.jack
def test_an_output_port_whose_program_restarts_gets_every_value_again(
    jack_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """The synth or host behind --midi-out quits and starts again: nothing reached it again before."""
    witness = witness_input(virtual=True)
    out = MidiCcOut("witness", api="jack")
    try:
        time.sleep(0.2)
        out.send(0.5, {}, False)
        assert received(witness, 2) == [[0xB0, 20, 64], [0xB0, 26, 0]]
        release(witness)  # its program quits
        witness = None  # python-rtmidi crashes on a client released twice
        with caplog.at_level(logging.WARNING, logger="rtloop.midi_out"):
            out.send(0.75, {}, False)
        assert [r.getMessage() for r in caplog.records] == [
            "MIDI output 'witness:in' is gone; its values go out again once it is back"
        ]
        witness = witness_input(virtual=True)  # and starts again
        out.send(0.75, {}, True)
        time.sleep(0.2)  # the connection is made by the JACK server thread
        out.send(0.75, {}, True)
        assert received(witness, 2) == [[0xB0, 20, 95], [0xB0, 26, 127]], "every value, once, to the new port"
    finally:
        out.close()
        if witness is not None:
            release(witness)


@pytest.mark.jack
def test_virtual_output_port_for_hosts_to_connect_to(jack_env: dict[str, str]) -> None:
    out = MidiCcOut("cc out", api="jack", virtual=True)
    witness = witness_input(virtual=False, source="rtloop:cc out")
    try:
        time.sleep(0.2)
        out.send(1.0, {}, False)
        assert received(witness, 2) == [[0xB0, 20, 127], [0xB0, 26, 0]]
    finally:
        witness.close_port()
        witness.delete()
        out.close()


@pytest.mark.jack
def test_a_port_that_is_not_there_is_refused_with_the_list(jack_env: dict[str, str]) -> None:
    with pytest.raises(DeviceError, match="matches no MIDI output"):
        MidiCcOut("no such synth", api="jack")
    with pytest.raises(DeviceError, match="unknown MIDI API"):
        MidiCcOut("x", api="carrier pigeon")

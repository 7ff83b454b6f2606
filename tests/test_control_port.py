"""The OSC control port against hostile input: the bounded decoder byte by byte, the pattern matcher's
cost, value checks, rate-limited warnings, and a real UDP server that keeps answering (fuzzed)."""

from __future__ import annotations

import logging
import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pythonosc.osc_message_builder import OscMessageBuilder

from rtloop.osc_decode import (
    MAX_BUNDLE_DEPTH,
    MAX_MESSAGES,
    MAX_PACKET_BYTES,
    OscDecodeError,
    OscMessage,
    decode_packet,
    match_steps,
    osc_match,
)
from rtloop.osc_io import BARS_RANGE, STOP_TIMEOUT, ControlServer
from rtloop.osc_spec import CONTROL
from rtloop.ratelimit import RateLimitedLog


def pad(text: bytes) -> bytes:
    """An OSC string: the bytes, a NUL, NULs up to a multiple of 4."""
    return text + b"\0" * (4 - len(text) % 4)


def msg(address: str, tags: str = "", *data: bytes) -> bytes:
    return pad(address.encode()) + pad(b"," + tags.encode()) + b"".join(data)


def i32(value: int) -> bytes:
    return struct.pack(">i", value)


def bundle(*elements: bytes, timetag: bytes = b"\0\0\0\0\0\0\0\1") -> bytes:
    return b"#bundle\0" + timetag + b"".join(i32(len(e)) + e for e in elements)


FAR_FUTURE = b"\xff\xff\xff\xff\x00\x00\x00\x00"  # 2036 (NTP era 0's last second): python-osc sleeps till then


# --- decoder: exact bytes -----------------------------------------------------------------------------


def test_message_with_every_supported_type_tag() -> None:
    data = msg(
        "/a",
        "ifsbhdtTFNI",
        i32(-7),
        struct.pack(">f", 0.5),
        pad(b"hi"),
        i32(3) + b"xyz\0",
        struct.pack(">q", 2**40),
        struct.pack(">d", 0.25),
        struct.pack(">Q", 5),
    )
    assert decode_packet(data) == [
        OscMessage("/a", "ifsbhdtTFNI", (-7, 0.5, "hi", b"xyz", 2**40, 0.25, 5, True, False, None, float("inf")))
    ]


def test_exact_bytes_of_a_bars_message() -> None:
    data = b"/rtloop/bars\0\0\0\0,i\0\0\0\0\0\x04"
    assert decode_packet(data) == [OscMessage("/rtloop/bars", "i", (4,))]


def test_message_without_type_tag_string_has_no_arguments() -> None:
    assert decode_packet(pad(b"/rtloop/ping")) == [OscMessage("/rtloop/ping", "", ())]


def test_bundles_and_nested_bundles_in_order() -> None:
    inner = bundle(msg("/b", "i", i32(2)))
    data = bundle(msg("/a", "i", i32(1)), inner, msg("/c"))
    assert [(m.address, m.args) for m in decode_packet(data)] == [("/a", (1,)), ("/b", (2,)), ("/c", ())]


def test_far_future_timetag_is_ignored() -> None:
    assert decode_packet(bundle(msg("/a"), timetag=FAR_FUTURE)) == [OscMessage("/a", "", ())]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"/a\0", "multiple of 4"),
        (b"xyz\0", "starts with '/'"),
        (b"#bundlX\0" + b"\0" * 8, "starts with '/'"),
        (b"#bundle\0\0\0\0\0", "16-byte header"),
        (bundle() + i32(-8) + b"/a\0\0,\0\0\0", "size -8"),  # python-osc loops forever on this
        (bundle() + i32(0), "size 0"),
        (bundle() + i32(6) + b"/a\0\0,\0\0\0", "size 6"),
        (bundle() + i32(64) + b"/a\0\0,\0\0\0", "size 64"),
        (bundle() + b"\0\0", "multiple of 4"),
        (bundle() + i32(8) + b"/a\0\0,\0\0\0" + b"\0\0\0\0", "size 0"),
        (b"/abc", "no terminating NUL"),
        (pad(b"/a") + b"i\0\0\0", "start with ','"),
        (msg("/a", "i"), "truncated"),
        (msg("/a", "d", b"\0\0\0\0"), "truncated"),
        (msg("/a", "s", b"abcd"), "NUL"),
        (msg("/a", "b", i32(-1)), "blob size -1"),
        (msg("/a", "b", i32(5) + b"abcd"), "blob size 5"),
        (msg("/a", "c", i32(65)), "unsupported type tag 'c'"),
        (msg("/a", "[i]", i32(1)), "unsupported type tag '['"),
        (msg("/a", "i", i32(1), i32(2)), "4 bytes after"),
        (pad(b"/a b"), "non-printable"),
        (pad("/é".encode()), "non-ASCII"),
        (pad(b"/" + b"a" * 300), "301 characters"),
        (b"/" + b"a" * MAX_PACKET_BYTES + b"\0\0\0", "limit"),
    ],
)
def test_malformed_packets_are_refused_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(OscDecodeError, match=reason.replace("[", r"\[").replace("(", r"\(")):
        decode_packet(data)


def test_bundle_nesting_is_limited() -> None:
    data = msg("/a")
    for _ in range(MAX_BUNDLE_DEPTH):
        data = bundle(data)
    assert decode_packet(data) == [OscMessage("/a", "", ())]
    with pytest.raises(OscDecodeError, match="nested deeper"):
        decode_packet(bundle(data))


def test_messages_per_packet_are_limited() -> None:
    assert len(decode_packet(bundle(*[msg("/a")] * MAX_MESSAGES))) == MAX_MESSAGES
    with pytest.raises(OscDecodeError, match="more than"):
        decode_packet(bundle(*[msg("/a")] * (MAX_MESSAGES + 1)))


# --- address patterns ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "matches"),
    [
        ("/rtloop/bars", True),
        ("/rtloop/*", True),
        ("/rtloop/b*s", True),
        ("/rtloop/b?rs", True),
        ("/rtloop/[a-c]ars", True),
        ("/rtloop/[!b]ars", False),
        ("/rtloop/{arm,bars}", True),
        ("/rtloop/{arm,ping}", False),
        ("/*/bars", True),
        ("/*", False),  # '*' stays within one part of the address
        ("/rtloop/bars/*", False),
        ("/rtloop/bar", False),
        ("/rtloop/barsx", False),
    ],
)
def test_pattern_matching(pattern: str, matches: bool) -> None:
    assert osc_match(pattern, "/rtloop/bars") is matches


@pytest.mark.parametrize("pattern", ["/rtloop/[ab", "/rtloop/{bars", "/rtloop/bars]", "/rtloop/}"])
def test_malformed_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(OscDecodeError, match="pattern"):
        osc_match(pattern, "/rtloop/bars")


@pytest.mark.parametrize(
    "pattern",
    [
        "/rtloop/" + "*" * 150 + "x",
        "/rtloop/" + "*?" * 75,
        "/rtloop/" + "*b" * 70 + "x",  # the classic backtracking blow-up: many stars, then a miss
        "/rtloop/" + "{a,b,ba,bar}*" * 12 + "q",
    ],
)
def test_pattern_cost_is_bounded_by_tokens_times_text(pattern: str) -> None:
    address = "/rtloop/" + "bar" * 10
    matched, steps = match_steps(pattern, address)
    assert matched is False
    alternatives = 4
    assert steps <= len(pattern) * (len(address) + 1) * alternatives


# --- values -------------------------------------------------------------------------------------------


def test_bars_range_matches_the_spec() -> None:
    spec = next(a for a in CONTROL if a.name == "/bars")
    assert spec.values == f"{BARS_RANGE[0]} .. {BARS_RANGE[1]}"


def packet(address: str, *args: object, tags: str | None = None) -> bytes:
    builder = OscMessageBuilder(address)
    for k, value in enumerate(args):
        builder.add_arg(value, tags[k] if tags else None)
    return builder.build().dgram


ACCEPTED = [
    (packet("/rtloop/arm", 0), ("/arm", 0)),
    (packet("/rtloop/arm", 1), ("/arm", 1)),
    (packet("/rtloop/arm", True), ("/arm", 1)),
    (packet("/rtloop/arm", False), ("/arm", 0)),
    (packet("/rtloop/arm", 1, tags="h"), ("/arm", 1)),
    (packet("/rtloop/bars", 1), ("/bars", 1)),
    (packet("/rtloop/bars", 64), ("/bars", 64)),
    (packet("/rtloop/ping"), ("/ping", None)),
    (packet("/rtloop/mark"), ("/mark", None)),
    (pad(b"/rtloop/ping"), ("/ping", None)),
    (bundle(packet("/rtloop/bars", 8), timetag=FAR_FUTURE), ("/bars", 8)),
]

REFUSED = [
    (packet("/rtloop/arm", 0.5), "got float 0.5"),
    (packet("/rtloop/arm", 2), "got int 2"),
    (packet("/rtloop/arm", "1"), "got string '1'"),
    (packet("/rtloop/arm"), "got no argument"),
    (packet("/rtloop/bars", 0), "1 .. 64, got 0"),
    (packet("/rtloop/bars", 65), "1 .. 64, got 65"),
    (packet("/rtloop/bars", 100), "1 .. 64, got 100"),
    (packet("/rtloop/bars", -(2**31)), "got -2147483648"),
    (packet("/rtloop/bars", 2**32 - 1, tags="h"), "got 4294967295"),
    (packet("/rtloop/bars", 4.0), "got float 4.0"),
    (packet("/rtloop/bars", float("nan")), "got float nan"),
    (packet("/rtloop/bars", float("inf"), tags="d"), "got double inf"),
    (packet("/rtloop/bars", 4, 4), "2 arguments"),
    (packet("/rtloop/ping", 1.0), "expects no argument, got float 1.0"),
    (packet("/rtloop/nothing", 1), "no such address"),
    (packet("/other/bars", 1), "no such address"),
]


@pytest.fixture
def server() -> Iterator[ControlServer]:
    with ControlServer("127.0.0.1", 0, prefix="/rtloop") as running:
        yield running


@pytest.mark.parametrize(("data", "command"), ACCEPTED)
def test_valid_commands_are_queued(server: ControlServer, data: bytes, command: tuple) -> None:
    server.handle_packet(data, ("127.0.0.1", 9))  # synchronous: a far-future timetag delays nothing
    assert list(server.commands) == [command]


@pytest.mark.parametrize(("data", "reason"), REFUSED)
def test_wrong_values_get_one_clear_warning(
    server: ControlServer, caplog: pytest.LogCaptureFixture, data: bytes, reason: str
) -> None:
    with caplog.at_level(logging.WARNING, "rtloop.osc_io"):
        server.handle_packet(data, ("127.0.0.1", 9))
    assert not server.commands
    assert len(caplog.records) == 1 and reason in caplog.records[0].getMessage()


def test_a_pattern_reaches_every_address_it_matches(server: ControlServer, caplog) -> None:  # type: ignore[no-untyped-def]
    with caplog.at_level(logging.WARNING, "rtloop.osc_io"):
        server.handle_packet(packet("/rtloop/{ping,mark,bars}"), ("127.0.0.1", 9))
    assert list(server.commands) == [("/ping", None), ("/mark", None)]
    assert len(caplog.records) == 1 and "/bars expects one int" in caplog.records[0].getMessage()


def test_a_junk_packet_gets_one_short_warning(server: ControlServer, caplog: pytest.LogCaptureFixture) -> None:
    junk = b"#bundle\0" + b"\0" * 8 + i32(-8) + b"\xff" * 4000
    with caplog.at_level(logging.WARNING, "rtloop.osc_io"):
        server.handle_packet(junk, ("127.0.0.1", 9))
        server.handle_packet(pad(b"/" + b"x" * 250), ("127.0.0.1", 9))
    text = caplog.records[0].getMessage()
    assert len(caplog.records) == 2 and "size -8" in text and len(text) < 200
    assert len(caplog.records[1].getMessage()) < 300


def test_repeated_warnings_are_counted_and_summarised(server: ControlServer, caplog) -> None:  # type: ignore[no-untyped-def]
    with caplog.at_level(logging.WARNING, "rtloop.osc_io"):
        for _ in range(38):
            server.handle_packet(b"junk", ("127.0.0.1", 9))
        server.handle_packet(packet("/rtloop/bars", 99), ("127.0.0.1", 9))  # another kind: not held back
        server.warnings.flush()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3, messages
    assert "malformed" in messages[0] and "got 99" in messages[1]
    assert messages[2].startswith("37 more like this: ignored a malformed OSC packet")
    assert server.rejected == 39


def test_rate_limited_log_lets_one_through_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    limiter = RateLimitedLog(logging.getLogger("test.ratelimit"), interval=5.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, "test.ratelimit"):
        logged = [limiter.warning("k", "bad %d", n) for n in range(5)]
        now[0] = 6.0
        logged.append(limiter.warning("k", "bad %d", 5))
        limiter.flush()
    assert logged == [True, False, False, False, False, True]
    assert [r.getMessage() for r in caplog.records] == ["bad 0", "bad 5 (4 more like this)"]
    assert limiter.suppressed == 4


# --- the real server over UDP -------------------------------------------------------------------------


def wait_for_commands(server: ControlServer, count: int, timeout: float = 10.0) -> list:
    """Wait (bounded) until ``count`` commands are queued; returns them. UDP on loopback keeps order."""
    deadline = time.monotonic() + timeout
    while len(server.commands) < count and time.monotonic() < deadline:
        time.sleep(0.002)
    return list(server.commands)


def test_server_binds_loopback_by_default() -> None:
    server = ControlServer(port=0)
    try:
        assert server.address[0] == "127.0.0.1"
    finally:
        server.stop()


def test_port_in_use_is_a_device_error(server: ControlServer) -> None:
    with pytest.raises(OSError, match="cannot listen for OSC control"):
        ControlServer("127.0.0.1", server.address[1])


def test_server_survives_the_packets_that_wedged_python_osc(server: ControlServer) -> None:
    hostile = [
        bundle() + i32(-8) + b"/a\0\0,\0\0\0",  # endless loop in python-osc
        bundle(packet("/rtloop/arm", 0), timetag=FAR_FUTURE),  # python-osc sleeps until 2036
        packet("/" + "*" * 150),  # python-osc's matcher takes ~19 s
        packet("/rtloop/bars", float("nan")),  # python-osc: traceback in the server thread
        b"\xff" * (MAX_PACKET_BYTES + 100),
    ]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        for data in hostile:
            sender.sendto(data, server.address)
        sender.sendto(packet("/rtloop/ping"), server.address)
        sender.sendto(packet("/rtloop/bars", 3), server.address)
    assert wait_for_commands(server, 3) == [("/arm", 0), ("/ping", None), ("/bars", 3)]


def test_stop_returns_while_a_flood_arrives() -> None:
    server = ControlServer("127.0.0.1", 0)
    server.start()
    flooding = threading.Event()
    flooding.set()

    def flood() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            while flooding.is_set():
                sender.sendto(b"#bundle\0" + b"\0" * 8 + i32(-8) + b"\0" * 8, server.address)
                sender.sendto(packet("/rtloop/ping"), server.address)

    flooder = threading.Thread(target=flood, daemon=True)
    flooder.start()
    try:
        wait_for_commands(server, 1)
        stopper = threading.Thread(target=server.stop, daemon=True)
        stopper.start()
        stopper.join(STOP_TIMEOUT + 5.0)  # a bound, not a speed target: stop() must not hang
        assert not stopper.is_alive(), "stop() hung while packets kept arriving"
        assert not server._thread.is_alive()
    finally:
        flooding.clear()
        flooder.join()


VALID = [packet("/rtloop/bars", 4), packet("/rtloop/arm", 1), packet("/rtloop/ping"), bundle(packet("/rtloop/mark"))]


@st.composite
def hostile_packets(draw: st.DrawFn) -> bytes:
    """Random bytes, or a valid packet with some bytes overwritten, a size field replaced, or cut short."""
    kind = draw(st.sampled_from(["random", "mutated", "sized", "cut"]))
    if kind == "random":
        return draw(st.binary(max_size=300))
    data = bytearray(draw(st.sampled_from(VALID + [bundle(*VALID, timetag=FAR_FUTURE)])))
    if kind == "cut":
        return bytes(data[: draw(st.integers(0, len(data)))])
    if kind == "sized":
        at = draw(st.integers(0, len(data) // 4 - 1)) * 4
        data[at : at + 4] = i32(draw(st.integers(-(2**31), 2**31 - 1)))
        return bytes(data)
    for _ in range(draw(st.integers(1, 6))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[ControlServer]:
    with ControlServer("127.0.0.1", 0) as running:
        logging.getLogger("rtloop.osc_io").setLevel(logging.ERROR)  # thousands of expected warnings
        yield running
        logging.getLogger("rtloop.osc_io").setLevel(logging.NOTSET)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(hostile_packets(), min_size=1, max_size=12))
def test_fuzzed_packets_over_udp_leave_the_server_answering(fuzz_server: ControlServer, packets: list) -> None:
    fuzz_server.commands.clear()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        for data in packets:
            sender.sendto(data, fuzz_server.address)
        sender.sendto(packet("/rtloop/ping"), fuzz_server.address)
        sender.sendto(packet("/rtloop/bars", 5), fuzz_server.address)
    deadline = time.monotonic() + 10.0
    while ("/bars", 5) not in fuzz_server.commands and time.monotonic() < deadline:
        time.sleep(0.002)
    commands = list(fuzz_server.commands)
    assert commands[-2:] == [("/ping", None), ("/bars", 5)], commands
    assert fuzz_server._thread.is_alive()
    for name, value in commands:  # whatever got through the mutations is a valid command
        assert value in {"/bars": range(BARS_RANGE[0], BARS_RANGE[1] + 1), "/arm": (0, 1)}.get(name, (None,))

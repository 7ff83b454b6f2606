"""OSC over UDP: typed messages out to every destination, control messages in on a loopback port."""

from __future__ import annotations

import collections
import contextlib
import logging
import selectors
import socket
import threading
from types import TracebackType
from typing import Any

import numpy as np
from pythonosc.osc_message_builder import OscMessageBuilder

from rtloop.errors import DeviceError, RtloopError
from rtloop.osc_decode import MAX_PACKET_BYTES, OscDecodeError, OscMessage, decode_packet, is_pattern, osc_match
from rtloop.osc_spec import BARS_RANGE, CONTROL_TYPES, DEFAULT_CONTROL_HOST, DEFAULT_PREFIX, OUTPUT_TYPES
from rtloop.ratelimit import RateLimitedLog
from rtloop.resources import Closing

log = logging.getLogger(__name__)


def parse_host_port(text: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """``"HOST:PORT"``, ``"[IPV6]:PORT"`` or ``"PORT"`` -> (host, port)."""
    host, _, port = text.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"{text!r} is not HOST:PORT") from None
    if not 0 < number < 65536:
        raise ValueError(f"port {number} is out of range")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host or default_host, number


def resolve(host: str, port: int) -> tuple[socket.AddressFamily, tuple[Any, ...]]:
    """(address family, socket address) of a UDP destination, looked up once: IPv4 where the name has both
    (a host's OSC listener is most often IPv4 only, and ``localhost`` may list ``::1`` first).

    Raises:
        DeviceError: the name does not resolve (no DNS answer, a host not on the network, a typo).
    """
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) else str(exc)
        raise DeviceError(f"OSC destination {host}:{port}: cannot resolve {host!r} ({reason})") from None
    family, _, _, _, address = min(found, key=lambda info: info[0] != socket.AF_INET)
    return family, address


RESOLVE_RETRY_S = 5.0  # between attempts to resolve a destination's name that did not resolve


class OscOut(Closing):
    """Sends rtloop's messages, typed as osc_spec says, to every destination, immediately.

    Each destination's name is resolved once, here: a message never waits for DNS (a name looked up for
    every message froze the daemon while a resolver did not answer). A name that does not resolve (a tablet
    asleep, DNS not up yet at boot) is said once and resolved again every ``retry_s`` on a thread of its own;
    messages go to it once it does. A destination that cannot be reached is reported once and retried on
    every message; neither ever stops the daemon.
    """

    def __init__(
        self, destinations: list[tuple[str, int]], prefix: str = "/rtloop", retry_s: float = RESOLVE_RETRY_S
    ) -> None:
        self.destinations = list(destinations)
        self.prefix = prefix.rstrip("/")
        self.sent = 0
        self.failures: collections.Counter[tuple[str, int]] = collections.Counter()
        self._socks: dict[socket.AddressFamily, socket.socket] = {}
        self._said_unreachable: set[tuple[str, int]] = set()
        self._addresses: dict[tuple[str, int], tuple[socket.AddressFamily, tuple[Any, ...]] | None] = {}
        for dest in self.destinations:
            try:
                self._addresses[dest] = resolve(*dest)
            except DeviceError as exc:
                log.warning("%s; messages go to it once it resolves (tried every %g s)", exc, retry_s)
                self._addresses[dest] = None
        self._stop = threading.Event()
        if None in self._addresses.values():
            threading.Thread(target=self._resolve_later, args=(retry_s,), name="osc-resolve", daemon=True).start()

    def _resolve_later(self, retry_s: float) -> None:
        while not self._stop.wait(retry_s):
            for dest in [d for d, address in self._addresses.items() if address is None]:
                with contextlib.suppress(DeviceError):
                    resolved = resolve(*dest)
                    if self._stop.is_set():  # closed while the resolver was asked
                        return
                    self._addresses[dest] = resolved  # one assignment: the sender sees it whole
                    log.info("OSC destination %s:%d resolved", *dest)
            if None not in self._addresses.values():
                return

    def send(self, name: str, value: Any = None) -> None:
        """Send ``prefix + name`` with one value of the type the spec gives it."""
        types = OUTPUT_TYPES[name]
        builder = OscMessageBuilder(self.prefix + name)
        if types == "f":
            builder.add_arg(float(np.float32(value)), "f")
        elif types == "i":
            builder.add_arg(int(value), "i")
        elif types == "s":
            builder.add_arg(str(value), "s")
        datagram = builder.build().dgram
        for dest in self.destinations:
            resolved = self._addresses[dest]
            if resolved is None:
                self.failures[dest] += 1
                continue
            family, address = resolved
            try:
                if family not in self._socks:
                    self._socks[family] = socket.socket(family, socket.SOCK_DGRAM)
                self._socks[family].sendto(datagram, address)
                self.sent += 1
            except OSError as exc:  # unreachable, or no socket of that family on this machine (IPv6 off)
                if dest not in self._said_unreachable:
                    self._said_unreachable.add(dest)
                    log.warning("OSC destination %s:%d unreachable (%s); still trying", *dest, exc)
                self.failures[dest] += 1

    def close(self) -> None:
        """Stop resolving and release the sockets."""
        self._stop.set()
        for sock in self._socks.values():
            sock.close()


STOP_TIMEOUT = 2.0  # seconds stop() waits for the server thread (it wakes at once: a self-pipe)
SHOWN_CHARS = 40  # of an address or string value quoted in a warning


class Rejected(RtloopError, ValueError):
    """A control message that decodes but is not acceptable; the message says why.

    ``key`` names the kind of problem (the address it was for), to rate-limit warnings per kind.
    """

    def __init__(self, message: str, key: str = "rejected") -> None:
        super().__init__(message)
        self.key = key


def _short(text: str) -> str:
    """``text`` quoted, cut to SHOWN_CHARS: hostile input must not make hostile log lines."""
    return repr(text[:SHOWN_CHARS]) + ("..." if len(text) > SHOWN_CHARS else "")


def _describe(message: OscMessage) -> str:
    """The arguments of a message in a few words, e.g. ``float nan`` or ``2 arguments``."""
    if not message.tags:
        return "no argument"
    if len(message.tags) > 1:
        return f"{len(message.tags)} arguments ({message.tags[:SHOWN_CHARS]})"
    value = message.args[0]
    kind = {"i": "int", "h": "int64", "f": "float", "d": "double", "s": "string", "b": "blob", "t": "timetag"}
    if isinstance(value, str):
        return f"string {_short(value)}"
    if isinstance(value, bytes):
        return f"blob of {len(value)} bytes"
    return f"{kind.get(message.tags, 'OSC ' + message.tags)} {value}"


def control_value(name: str, message: OscMessage) -> int | None:
    """The value of a control message for ``name`` (one of osc_spec's CONTROL), checked.

    ``/arm`` takes int 0 or 1 or OSC True/False; ``/bars`` an int in :data:`BARS_RANGE`; addresses
    without a value take no argument. Floats are refused, not rounded: ``/arm 0.5`` means nothing.

    Returns:
        The int value, or None for an address without a value.

    Raises:
        Rejected: wrong type, count or range; the message says what was expected and what came.
    """
    tags = message.tags
    if CONTROL_TYPES[name] == "":
        if tags:
            raise Rejected(f"expects no argument, got {_describe(message)}")
        return None
    value = message.args[0] if tags in ("i", "h") else None  # the decoder gives ints for i and h
    if name == "/arm":
        if tags in ("T", "F"):
            return int(tags == "T")
        if isinstance(value, int) and value in (0, 1):
            return value
        raise Rejected(f"expects int 0 or 1 (or True/False), got {_describe(message)}")
    if not isinstance(value, int):
        raise Rejected(f"expects one int, got {_describe(message)}")
    if name == "/bars" and not BARS_RANGE[0] <= value <= BARS_RANGE[1]:
        raise Rejected(f"expects an int {BARS_RANGE[0]} .. {BARS_RANGE[1]}, got {value}")
    if not -(2**31) <= value < 2**31:
        raise Rejected(f"expects a 32-bit int, got {value}")
    return value


class ControlServer:
    """Receives control messages on a UDP port; valid ones are queued as (name, value) for the worker.

    Packets go through rtloop's own bounded decoder (:mod:`rtloop.osc_decode`): bundles are handled at
    once whatever their timetag, address patterns are matched in bounded time, and a packet that is
    malformed, addressed to nothing or carries a wrong value gets one short warning (rate-limited:
    repeats within 5 s are counted and summarised) and is otherwise ignored.

    Thread: its own server thread, which only decodes, validates and appends to :attr:`commands`.
    :meth:`stop` wakes it through a self-pipe, so it returns promptly even while a flood arrives.

    Args:
        host: address to bind (loopback by default; anyone who can reach the port can control rtloop).
        port: UDP port (0: any free port; see :attr:`address`).
        prefix: address prefix, e.g. ``/rtloop``.

    Raises:
        DeviceError: the port is in use or cannot be bound.
    """

    def __init__(self, host: str = DEFAULT_CONTROL_HOST, port: int = 0, prefix: str = DEFAULT_PREFIX) -> None:
        self.commands: collections.deque[tuple[str, Any]] = collections.deque(maxlen=256)
        self.prefix = prefix.rstrip("/")
        self.rejected = 0  # packets or messages refused, over the run
        self.warnings = RateLimitedLog(log)
        self._names = {self.prefix + name: name for name in CONTROL_TYPES}
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._sock.bind((host, port))
        except OSError as exc:
            self._sock.close()
            raise DeviceError(
                f"cannot listen for OSC control on {host}:{port}: {exc.strerror or exc}; pass --control"
            ) from exc
        self._sock.setblocking(False)
        self.address: tuple[str, int] = self._sock.getsockname()
        self._wake_r, self._wake_w = socket.socketpair()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="osc-control", daemon=True)

    def __enter__(self) -> ControlServer:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        """Start the server thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the server thread (within :data:`STOP_TIMEOUT`) and close the port; safe to call twice."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass  # the pipe is full: the thread is awake anyway
        if self._thread.is_alive():
            self._thread.join(STOP_TIMEOUT)
            if self._thread.is_alive():
                log.warning("OSC control thread did not stop within %.0f s; leaving it", STOP_TIMEOUT)
                return  # it still uses the sockets
        for sock in (self._sock, self._wake_r, self._wake_w):
            sock.close()
        self.warnings.flush()

    def _serve(self) -> None:
        with selectors.DefaultSelector() as selector:  # epoll where there is one: no limit on fd numbers
            selector.register(self._sock, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self._stopping.is_set():
                selector.select()
                if not self._stopping.is_set():
                    self._receive_one()

    def _receive_one(self) -> None:
        try:
            data, sender = self._sock.recvfrom(MAX_PACKET_BYTES + 1)  # one more: to tell "too big"
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:  # e.g. ICMP port unreachable reported on a later receive
            self.warnings.warning("recv", "OSC control receive failed: %s", exc)
            return
        try:
            self.handle_packet(data, sender)
        except Exception:  # a bug here must not end the control thread, nor flood the log
            self.warnings.warning("bug", "OSC control: error handling a packet", exc_info=True)

    def handle_packet(self, data: bytes, sender: tuple[str, int]) -> None:
        """Decode one datagram, validate its messages and queue the valid ones (server thread).

        Args:
            data: the datagram.
            sender: (host, port) it came from, for warnings.
        """
        origin = f"{sender[0]}:{sender[1]}"
        try:
            messages = decode_packet(data)
        except OscDecodeError as exc:
            self.rejected += 1
            head = data[:16].hex(" ")
            self.warnings.warning(
                "malformed",
                "ignored a malformed OSC packet from %s (%d bytes: %s%s): %s",
                origin, len(data), head, " ..." if len(data) > 16 else "", exc,
            )  # fmt: skip
            return
        problems: list[tuple[str, str]] = []  # (rate-limit key, text)
        for message in messages:
            try:
                self._accept(message)
            except Rejected as exc:
                problems.append((exc.key, f"{_short(message.address)}: {exc}"))
            except OscDecodeError as exc:  # a malformed address pattern
                problems.append(("pattern", f"{_short(message.address)}: {exc}"))
        if problems:
            self.rejected += 1
            more = f" (and {len(problems) - 1} more in this packet)" if len(problems) > 1 else ""
            key, text = problems[0]
            self.warnings.warning(key, "ignored OSC control from %s: %s%s", origin, text, more)

    def _accept(self, message: OscMessage) -> None:
        if is_pattern(message.address):
            names = [name for full, name in self._names.items() if osc_match(message.address, full)]
        else:
            names = [self._names[message.address]] if message.address in self._names else []
        if not names:
            raise Rejected(f"no such address (rtloop accepts {', '.join(self._names)})", "unknown address")
        refusals = []
        for name in names:  # a pattern reaches every address it matches, each judging the value itself
            try:
                value = control_value(name, message)
            except Rejected as exc:
                refusals.append(f"{name} {exc}" if len(names) > 1 else str(exc))
                continue
            if len(self.commands) == self.commands.maxlen:
                self.warnings.warning("queue-full", "OSC control queue full: dropped the oldest command")
            self.commands.append((name, value))
        if refusals:
            raise Rejected("; ".join(refusals), "value for " + " ".join(names))

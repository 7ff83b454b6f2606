"""OSC over UDP: typed messages out to every destination, control messages in on a loopback port."""

from __future__ import annotations

import collections
import logging
import socket
import threading
from typing import Any

import numpy as np
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket
from pythonosc.osc_server import BlockingOSCUDPServer

from rtloop.errors import DeviceError
from rtloop.osc_spec import CONTROL_TYPES, OUTPUT_TYPES
from rtloop.resources import Closing

log = logging.getLogger(__name__)


def parse_host_port(text: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """``"HOST:PORT"`` or ``"PORT"`` -> (host, port)."""
    host, _, port = text.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"{text!r} is not HOST:PORT") from None
    if not 0 < number < 65536:
        raise ValueError(f"port {number} is out of range")
    return host or default_host, number


class OscOut(Closing):
    """Sends rtloop's messages, typed as osc_spec says, to every destination, immediately.

    A destination that cannot be reached is reported once and retried on every message; it never
    stops the daemon.
    """

    def __init__(self, destinations: list[tuple[str, int]], prefix: str = "/rtloop") -> None:
        self.destinations = destinations
        self.prefix = prefix.rstrip("/")
        self.sent = 0
        self.failures: collections.Counter[tuple[str, int]] = collections.Counter()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

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
            try:
                self._sock.sendto(datagram, dest)
                self.sent += 1
            except OSError as exc:
                if not self.failures[dest]:
                    log.warning("OSC destination %s:%d unreachable (%s); still trying", *dest, exc)
                self.failures[dest] += 1

    def close(self) -> None:
        self._sock.close()


class _LoggingDispatcher(Dispatcher):
    """Dispatcher that logs what python-osc would drop silently (unparseable packets)."""

    def call_handlers_for_packet(self, data: bytes, client_address: tuple[str, int]) -> list:  # type: ignore[override]
        try:
            OscPacket(data)
        except Exception as exc:  # python-osc raises several unrelated parse errors
            log.warning("ignored a malformed OSC packet from %s:%d: %s", *client_address, exc)
            return []
        return super().call_handlers_for_packet(data, client_address)


class ControlServer(Closing):
    """Receives control messages on a UDP port; valid ones are queued as (name, value) for the worker.

    Thread: python-osc's server thread; handlers only validate and append to a deque.

    Raises:
        DeviceError: the port is in use or cannot be bound.
    """

    def __init__(self, host: str, port: int, prefix: str = "/rtloop") -> None:
        self.commands: collections.deque[tuple[str, Any]] = collections.deque(maxlen=256)
        self.prefix = prefix.rstrip("/")
        dispatcher = _LoggingDispatcher()
        for name in CONTROL_TYPES:
            dispatcher.map(self.prefix + name, self._handle, name)
        dispatcher.set_default_handler(self._unknown)
        try:
            self._server = BlockingOSCUDPServer((host, port), dispatcher)
        except OSError as exc:
            raise DeviceError(
                f"cannot listen for OSC control on {host}:{port}: {exc.strerror}; pass --control"
            ) from exc
        self.address = self._server.server_address
        self._thread = threading.Thread(target=self._server.serve_forever, name="osc-control", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _handle(self, address: str, names: list[str], *args: Any) -> None:
        name = names[0]
        types = CONTROL_TYPES[name]
        if types == "" and not args:
            self.commands.append((name, None))
        elif types == "i" and len(args) == 1 and isinstance(args[0], (int, float)) and not isinstance(args[0], bool):
            self.commands.append((name, int(args[0])))
        else:
            log.warning("ignored %s with arguments %r: expects %s", address, args, types or "none")

    def _unknown(self, address: str, *args: Any) -> None:
        log.warning("ignored unknown OSC address %s", address)

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

"""OSC out to real UDP sockets on loopback: destinations resolved once (IPv4 first, IPv6 accepted), and a name
that does not resolve refused at start, inside a private network namespace that has no DNS."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys

import pytest

from rtloop.osc_decode import decode_packet
from rtloop.osc_io import OscOut, parse_host_port


def received(sock: socket.socket) -> tuple[str, tuple]:
    sock.settimeout(5.0)
    data, _ = sock.recvfrom(65536)
    message = decode_packet(data)[0]
    return message.address, message.args


def test_a_named_destination_gets_ipv4_loopback_and_a_bracketed_ipv6_one_is_accepted() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as four:
        four.bind(("127.0.0.1", 0))
        with OscOut([parse_host_port(f"localhost:{four.getsockname()[1]}")]) as osc:  # ::1 may come first
            osc.send("/bar", 7)
        assert received(four) == ("/rtloop/bar", (7,))
    assert parse_host_port("[::1]:9000") == ("::1", 9000)
    if not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as six:
        try:
            six.bind(("::1", 0))
        except OSError as exc:
            pytest.skip(f"no IPv6 loopback here: {exc}")
        with OscOut([parse_host_port(f"[::1]:{six.getsockname()[1]}")]) as osc:
            osc.send("/bar", 8)
        assert received(six) == ("/rtloop/bar", (8,))


def test_a_destination_name_that_does_not_resolve_is_refused_at_start() -> None:
    """Before, the name was looked up for every message: with a resolver that did not answer, the daemon
    froze for the resolver's timeout at each one, good destinations and all."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("unshare or ip (util-linux, iproute2) not installed")
    script = (
        "from rtloop.osc_io import OscOut\n"
        "try:\n"
        "    OscOut([('127.0.0.1', 9), ('osc-tablet.lan', 9000)])\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    command = f'ip link set lo up && exec "{sys.executable}" -c "$0"'
    run = subprocess.run(["unshare", "-rn", "sh", "-c", command, script], capture_output=True, text=True, timeout=60)
    if run.returncode and "unshare" in run.stderr:
        pytest.skip(f"private network namespaces not permitted here: {run.stderr.strip()}")
    assert run.stdout.startswith("DeviceError OSC destination osc-tablet.lan:9000: cannot resolve 'osc-tablet.lan'"), (
        run.stdout + run.stderr
    )

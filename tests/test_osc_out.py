"""OSC out to real UDP sockets on loopback: destinations resolved once (IPv4 first, IPv6 accepted), and a name
that does not resolve said once and looked up off the send path, against a resolver that never answers."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

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


def test_a_name_that_does_not_resolve_is_looked_up_off_the_send_path_and_said_once(tmp_path: Path) -> None:
    """A resolver that never answers (inside a private network and mount namespace): before, every message
    looked the name up and waited for the resolver's timeout, good destinations and all (bars came 12 s
    late). Now the name is looked up at start and then only on a thread of its own; no send asks the resolver."""
    if shutil.which("unshare") is None or shutil.which("ip") is None or shutil.which("mount") is None:
        pytest.skip("unshare, ip or mount (util-linux, iproute2) not installed")
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    script = """
import logging, socket
from rtloop.osc_io import OscOut
logging.basicConfig(format="%(message)s")
resolver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
resolver.bind(("127.0.0.1", 53))  # it never answers
resolver.setblocking(False)
def questions():
    count = 0
    while True:
        try:
            resolver.recv(512)
        except BlockingIOError:
            return count
        count += 1
sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sink.bind(("127.0.0.1", 0))
sink.settimeout(5)
with OscOut([("127.0.0.1", sink.getsockname()[1]), ("osc-tablet.lan", 9000)], retry_s=3600) as osc:
    asked_at_start = questions()
    for bar in range(3):
        osc.send("/bar", bar)
    print("asked at start", asked_at_start > 0, "asked by sends", questions())
    print("received", [sink.recv(100)[-1] for _ in range(3)], "failures", dict(osc.failures))
    osc._addresses[("osc-tablet.lan", 9000)] = (socket.AF_INET, ("255.255.255.255", 9000))  # as if it resolved
    osc.send("/bar", 3)  # to an address no socket may send to: said, though sends failed before
"""
    mount = f'ip link set lo up && mount --bind "{resolv}" /etc/resolv.conf && exec "{sys.executable}" -c "$0"'
    run = subprocess.run(["unshare", "-rmn", "sh", "-c", mount, script], capture_output=True, text=True, timeout=60)
    if run.returncode and ("unshare" in run.stderr or "mount" in run.stderr):
        pytest.skip(f"private network and mount namespaces not permitted here: {run.stderr.strip()}")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "asked at start True asked by sends 0",
        "received [0, 1, 2] failures {('osc-tablet.lan', 9000): 3}",
    ]
    said = [line for line in run.stderr.splitlines() if "osc-tablet.lan" in line]
    assert len(said) == 2 and said[0].startswith("OSC destination osc-tablet.lan:9000: cannot resolve"), run.stderr
    assert said[1].startswith("OSC destination osc-tablet.lan:9000 unreachable"), run.stderr

"""A Link session for tests/test_link_clock.py: run only inside a private network namespace.

    unshare -rn sh -c 'ip link set lo up && exec python tests/link_session.py rtloop'

``rtloop``: starts the ``peer`` role as a child (same namespace), runs three LinkClocks (``sync``: start/stop
sync and 0.25 s latency; ``free``: free-running; ``late``: start/stop sync, joining while the transport
plays), and prints one JSON object: what the peer did and what the
clocks reported, every time in Link's microseconds (``CLOCK_MONOTONIC_RAW``; the clocks' event times are
mapped back from ``time.monotonic()`` here, independently of LinkClock's own mapping).

``peer``: waits for two clocks, then sets 100 bpm and starts the transport, changes to 130 bpm, stops,
and starts again, recording every bar boundary it sees until ``end``; prints its record as JSON.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

BEATS_PER_BAR = 2  # short bars keep the test short; any quantum works the same
SYNC_LATENCY = 0.25
LATE_JOIN = 2.0  # seconds after the first start: a third clock joins while the transport plays


def refuse_outside_a_namespace() -> None:
    interfaces = {name for _, name in socket.if_nameindex()}  # of this network namespace
    if interfaces != {"lo"}:
        sys.exit(f"refusing to run Link with network interfaces {sorted(interfaces)}: use unshare -rn")


def peer() -> None:
    import link

    session = link.Link(120.0)
    session.startStopSyncEnabled = True
    session.enabled = True
    clock, quantum = session.clock(), float(BEATS_PER_BAR)
    deadline = time.monotonic() + 15
    while session.numPeers() < 2:  # the late clock joins later
        if time.monotonic() > deadline:
            sys.exit("the clocks did not join the session")
        time.sleep(0.01)
    time.sleep(0.5)
    record: dict[str, list] = {"boundaries": [], "starts": [], "stops": []}

    def change(action: str) -> None:
        state = session.captureAppSessionState()
        now = clock.micros()
        if action == "start100":
            state.setTempo(100.0, now)
            state.setIsPlayingAndRequestBeatAtTime(True, now, 0.0, quantum)
        elif action == "tempo130":
            state.setTempo(130.0, now)
        elif action == "stop":
            state.setIsPlaying(False, now)
        elif action == "start":
            state.setIsPlayingAndRequestBeatAtTime(True, now, 0.0, quantum)
        session.commitAppSessionState(state)
        state = session.captureAppSessionState()
        if action.startswith("start"):
            record["starts"].append(state.timeForIsPlaying())
        elif action == "stop":
            record["stops"].append(state.timeForIsPlaying())

    def watch(seconds: float) -> None:
        last = None
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            state = session.captureAppSessionState()
            index = int(state.beatAtTime(clock.micros(), quantum) // quantum)
            if last is not None and index != last:
                at = state.timeAtBeat(index * quantum, quantum)
                record["boundaries"].append([at, state.tempo(), state.isPlaying()])
            last = index
            time.sleep(0.001)

    for action, seconds in (("start100", 5.0), ("tempo130", 4.0), ("stop", 1.5), ("start", 3.5)):
        change(action)
        watch(seconds)
    record["end"] = clock.micros()
    session.enabled = False
    print(json.dumps(record))


def rtloop() -> None:
    from rtloop.link_clock import LinkClock

    child = subprocess.Popen([sys.executable, __file__, "peer"], stdout=subprocess.PIPE, text=True)
    clocks = {
        "sync": LinkClock(BEATS_PER_BAR, latency=SYNC_LATENCY, start_stop_sync=True),
        "free": LinkClock(BEATS_PER_BAR),
    }
    events: dict[str, list] = {"sync": [], "free": [], "late": []}
    while child.poll() is None:
        now = time.monotonic()
        started = [e[1] for e in events["sync"] if e[0] == "start"]
        if "late" not in clocks and started and now > started[0] + SYNC_LATENCY + LATE_JOIN:
            clocks["late"] = LinkClock(BEATS_PER_BAR, start_stop_sync=True)  # joins a session already playing
        for name, clock in clocks.items():
            latency = clock.latency
            events[name] += [[e.kind, e.time - latency, e.bar, e.bpm] for e in clock.poll(now, 0)]
        time.sleep(0.005)
    for clock in clocks.values():
        clock.close()
    before = time.monotonic()
    raw = time.clock_gettime(time.CLOCK_MONOTONIC_RAW)
    after = time.monotonic()
    to_raw = raw - (before + after) / 2
    for record in events.values():
        for event in record:
            event[1] = round((event[1] + to_raw) * 1e6)
    peer_record = json.loads(child.stdout.read() if child.stdout else "null")
    print(json.dumps({"peer": peer_record, "clocks": events, "returncode": child.returncode}))


if __name__ == "__main__":
    refuse_outside_a_namespace()
    {"peer": peer, "rtloop": rtloop}[sys.argv[1]]()

"""Ableton Link clock against a real Link peer, both inside a private network namespace made by the test
(Link announces itself by multicast on every interface: in the namespace only loopback exists, so nothing
leaves the machine). Link never runs outside such a namespace here."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rtloop.link_clock import LinkClock, LinkUnavailable

SESSION = Path(__file__).with_name("link_session.py")
ROOT = SESSION.parents[1]
MAX_PHASE_ERROR_US = 5000


def test_missing_binding_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "link", None)  # import link now raises ImportError
    with pytest.raises(LinkUnavailable, match=r"pip install 'rtloop\[link\]'"):
        LinkClock(4)


def test_bad_settings_are_refused_before_joining_a_session() -> None:
    with pytest.raises(ValueError, match="beats per bar"):
        LinkClock(0)
    with pytest.raises(ValueError, match="tempo"):
        LinkClock(4, bpm=5.0)


def namespace_problem() -> str | None:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "unshare or ip (util-linux, iproute2) not installed"
    probe = subprocess.run(["unshare", "-rn", "sh", "-c", "ip link set lo up"], capture_output=True, text=True)
    if probe.returncode:
        return f"private network namespaces not permitted here: {probe.stderr.strip()}"
    return None


@pytest.fixture(scope="module")
def session() -> dict:
    if importlib.util.find_spec("link") is None:
        pytest.skip("the Link binding is not installed (pip install 'rtloop[link]')")
    if problem := namespace_problem():
        pytest.skip(problem)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    command = f'ip link set lo up && exec "{sys.executable}" "{SESSION}" rtloop'
    run = subprocess.run(["unshare", "-rn", "sh", "-c", command], capture_output=True, text=True, env=env, timeout=90)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["returncode"] == 0, "the test peer failed"
    return result


def bars(events: list, since: int, until: int | None = None) -> list[list]:
    return [e for e in events if e[0] == "bar" and since <= e[1] and (until is None or e[1] <= until)]


def phase_errors(clock_bars: list[list], boundaries: list[int]) -> list[int]:
    """For each boundary, the distance to the clock's nearest bar (microseconds)."""
    return [min(abs(e[1] - b) for e in clock_bars) for b in boundaries]


@pytest.mark.slow
def test_bars_follow_the_session_through_tempo_changes_stop_and_start(session: dict) -> None:
    peer, sync = session["peer"], session["clocks"]["sync"]
    (first_start, second_start), (stop,) = peer["starts"], peer["stops"]
    playing = [b for b, _, is_playing in peer["boundaries"] if is_playing]
    # transport: start, stop, start, at the peer's times (the session script takes the 0.25 s latency off again)
    transport = [e for e in sync if e[0] != "bar"]
    assert [e[0] for e in transport] == ["start", "stop", "start"]
    offsets = [abs(e[1] - t) for e, t in zip(transport, (first_start, stop, second_start), strict=True)]
    assert max(offsets) < MAX_PHASE_ERROR_US, offsets
    # every boundary while playing, and no other: one bar each, numbered from 1 after each start
    clock_bars = bars(sync, since=0, until=peer["end"])
    assert len(clock_bars) == len(playing)
    errors = phase_errors(clock_bars, playing)
    print(f"sync clock: {len(errors)} bars, phase error max {max(errors)} us, mean {sum(errors) / len(errors):.0f} us")
    assert max(errors) < MAX_PHASE_ERROR_US
    numbers = [e[2] for e in clock_bars]
    restart = sum(1 for b in playing if b < stop)
    assert numbers == list(range(1, restart + 1)) + list(range(1, len(playing) - restart + 1))
    tempos = [round(e[3]) for e in clock_bars]
    assert tempos == [round(t) for _, t, p in peer["boundaries"] if p]
    assert set(tempos) == {100, 130}


@pytest.mark.slow
def test_free_running_clock_keeps_the_phase_while_the_transport_stops(session: dict) -> None:
    peer, free = session["peer"], session["clocks"]["free"]
    boundaries = [b for b, _, _ in peer["boundaries"]]
    clock_bars = bars(free, since=boundaries[0] - MAX_PHASE_ERROR_US, until=peer["end"])
    assert len(clock_bars) == len(boundaries)
    errors = phase_errors(clock_bars, boundaries)
    print(f"free clock: {len(errors)} bars, phase error max {max(errors)} us")
    assert max(errors) < MAX_PHASE_ERROR_US
    numbers = [e[2] for e in clock_bars]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))


@pytest.mark.slow
def test_a_clock_joining_while_the_transport_plays_follows_from_the_next_start(session: dict) -> None:
    # Link gives a new peer its own, newer transport state: it follows the session from the next change on
    peer, sync, late = session["peer"], session["clocks"]["sync"], session["clocks"]["late"]
    second_start = peer["starts"][1]
    transport = [e for e in late if e[0] != "bar"]
    assert [e[0] for e in transport] == ["start"] and abs(transport[0][1] - second_start) < MAX_PHASE_ERROR_US
    expected = bars(sync, since=second_start, until=peer["end"])
    late_bars = bars(late, since=0, until=peer["end"])
    assert [e[2] for e in late_bars] == [e[2] for e in expected] and expected
    assert max(abs(a[1] - b[1]) for a, b in zip(late_bars, expected, strict=True)) < MAX_PHASE_ERROR_US

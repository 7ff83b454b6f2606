"""The live path on replayed audio (no hardware): bars, OSC to a real UDP peer, control, bad input."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import BlockingOSCUDPServer
from pythonosc.udp_client import SimpleUDPClient

from rtloop.bundle import load_bundle
from rtloop.cli import main
from rtloop.live import RunConfig, open_daemon, run, run_daemon
from rtloop.scorer import Scorer
from rtloop.synth import bass_loop

pytestmark = pytest.mark.slow
PLANTED_BAR = 4


class OscPeer:
    """A real python-osc UDP server on loopback that records every message, in order."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, tuple]] = []
        dispatcher = Dispatcher()
        dispatcher.set_default_handler(lambda address, *args: self.messages.append((address, args)))
        self.server = BlockingOSCUDPServer(("127.0.0.1", 0), dispatcher)  # one thread: keeps the order
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def values(self, address: str) -> list:
        return [args[0] for a, args in self.messages if a == address]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def peer():  # type: ignore[no-untyped-def]
    p = OscPeer()
    yield p
    p.close()


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def take(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[np.ndarray]]:
    """Eight one-bar loops at 120 bpm, bar 4 played by another instrument, as one recording."""
    rng = np.random.default_rng(21)
    bars = [bass_loop(120.0, 1, 48000, rng, deviation="instrument" if b == PLANTED_BAR else None) for b in range(1, 9)]
    path = tmp_path_factory.mktemp("take") / "take.wav"
    sf.write(path, np.concatenate(bars), 48000, subtype="FLOAT")
    return path, bars


def test_run_file_sends_one_message_set_per_bar_and_matches_offline_scores(
    trained_bundle: Path, take: tuple[Path, list[np.ndarray]], peer: OscPeer, capsys: pytest.CaptureFixture
) -> None:
    path, bars = take
    argv = ["run", str(trained_bundle), "--file", str(path), "--bpm", "120", "--bars", "1", "--speed", "8"]
    assert main([*argv, "--osc", f"127.0.0.1:{peer.port}", "--control", "off"]) == 0
    time.sleep(0.2)
    assert peer.values("/rtloop/bar") == list(range(1, 9))
    variations, scores = peer.values("/rtloop/variation"), peer.values("/rtloop/score")
    assert len(variations) == 8 and all(0.0 <= v <= 1.0 for v in variations)
    normal = [s for i, s in enumerate(scores) if i + 1 != PLANTED_BAR]
    assert scores[PLANTED_BAR - 1] > max(normal)
    assert peer.values("/rtloop/flag")[PLANTED_BAR - 1] == 1
    assert peer.values("/rtloop/tempo") == pytest.approx([120.0] * 8)
    assert peer.values("/rtloop/status")[-1] == "stopped"
    scorer = Scorer(load_bundle(trained_bundle))
    offline = np.array([scorer.score([bar]).raw[0] for bar in bars], dtype=np.float32)  # as `rtloop score`
    np.testing.assert_allclose(np.array(scores, dtype=np.float32), offline, rtol=1e-5)
    out = capsys.readouterr().out
    assert "loops scored: 8" in out and "FLAG" in out


def test_two_bar_windows_with_hop_two(trained_bundle: Path, take: tuple[Path, list[np.ndarray]], peer: OscPeer) -> None:
    argv = ["run", str(trained_bundle), "--file", str(take[0]), "--bpm", "120", "--bars", "2", "--hop", "2"]
    assert main([*argv, "--speed", "8", "--osc", f"127.0.0.1:{peer.port}", "--control", "off"]) == 0
    time.sleep(0.2)
    assert peer.values("/rtloop/bar") == [2, 4, 6, 8]


def test_nan_bar_is_skipped_and_the_run_goes_on(
    trained_bundle: Path, take: tuple[Path, list[np.ndarray]], peer: OscPeer
) -> None:
    wave = np.concatenate(take[1]).copy()
    wave[48000 * 2 + 100] = np.nan  # inside bar 2
    cfg = RunConfig(
        bundle=trained_bundle, osc=(("127.0.0.1", peer.port),), control=None, wave=wave, speed=8, bpm=120.0, bars=1
    )
    summary = run(cfg, print_line=lambda _line: None)
    time.sleep(0.2)
    assert list(summary.skipped_bars) == [(2, "NaN/Inf in the input audio")]
    assert peer.values("/rtloop/skipped") == [2]
    assert peer.values("/rtloop/bar") == [1, 3, 4, 5, 6, 7, 8]


def test_control_ping_bars_arm_and_garbage(
    trained_bundle: Path, take: tuple[Path, list[np.ndarray]], peer: OscPeer
) -> None:
    control_port = free_udp_port()
    cfg = RunConfig(
        bundle=trained_bundle,
        osc=(("127.0.0.1", peer.port),),
        control=("127.0.0.1", control_port),
        wave=np.concatenate(take[1]),
        speed=1.0,
        loop=True,
        bpm=120.0,
        bars=1,
    )
    stop = threading.Event()
    with open_daemon(cfg, print_line=lambda _line: None) as daemon:
        runner = threading.Thread(target=run_daemon, args=(daemon, stop))
        runner.start()
        _exercise_control(daemon, runner, stop, peer, control_port)
    assert not runner.is_alive()
    assert peer.values("/rtloop/status")[-1] == "stopped"


def _exercise_control(daemon, runner, stop, peer, control_port) -> None:  # type: ignore[no-untyped-def]
    try:
        client = SimpleUDPClient("127.0.0.1", control_port)
        raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        deadline = time.monotonic() + 10
        while not peer.values("/rtloop/pong") and time.monotonic() < deadline:
            raw.sendto(b"\x00garbage that is not OSC", ("127.0.0.1", control_port))
            client.send_message("/rtloop/nonsense", 1)
            client.send_message("/rtloop/bars", "two")
            client.send_message("/rtloop/ping", [])
            time.sleep(0.2)
        assert peer.values("/rtloop/pong") and peer.values("/rtloop/pong")[0] == 1
        client.send_message("/rtloop/arm", 0)
        while "disarmed" not in peer.values("/rtloop/status") and time.monotonic() < deadline:
            time.sleep(0.05)
        client.send_message("/rtloop/arm", 1)
        client.send_message("/rtloop/bars", 2)
        while daemon.segmenter.bars != 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert daemon.segmenter.bars == 2 and daemon.armed
        assert runner.is_alive()
    finally:
        stop.set()
        runner.join(timeout=10)


def test_control_port_in_use_is_one_clear_error(trained_bundle: Path, take, capsys) -> None:  # type: ignore[no-untyped-def]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        argv = ["run", str(trained_bundle), "--file", str(take[0]), "--bpm", "120"]
        assert main([*argv, "--control", f"127.0.0.1:{port}"]) == 2
    assert "cannot listen for OSC control" in capsys.readouterr().err


def test_missing_clock_and_bad_destination_are_clear_errors(trained_bundle: Path, take, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["run", str(trained_bundle), "--file", str(take[0]), "--control", "off"]) == 2
    assert "no clock" in capsys.readouterr().err
    assert main(["run", str(trained_bundle), "--file", str(take[0]), "--bpm", "120", "--osc", "nowhere"]) == 2
    assert "not HOST:PORT" in capsys.readouterr().err


def test_tampered_bundle_stops_run_with_a_reason(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "manifest.json").write_text("{}")
    assert main(["run", str(tmp_path), "--bpm", "120", "--file", "x.wav"]) == 2
    assert "not an rtloop manifest" in capsys.readouterr().err

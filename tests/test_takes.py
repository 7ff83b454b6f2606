"""Takes and installations: takes and session log, manual marks, size cap, clock-free windows, config."""

from __future__ import annotations

import csv
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from pythonosc.udp_client import SimpleUDPClient

from rtloop.cli import config_argv, main
from rtloop.errors import RtloopError
from rtloop.live import RunConfig, open_daemon, run_daemon
from rtloop.synth import bass_loop
from rtloop.takes import TakeKeeper, TakesConfig, is_take_name, read_session, take_name


def test_keeper_keeps_flagged_loops_logs_every_loop_and_marks(tmp_path: Path) -> None:
    keeper = TakeKeeper(TakesConfig(tmp_path), sample_rate=48000)
    audio = np.zeros(4800, dtype=np.float32) + 0.1
    keeper.add(audio, 1, 120.0, 1.0, 0.05, False)
    keeper.add(audio, 2, 120.0, 9.0, 0.99, True)
    keeper.add(audio, 3, 120.0, 1.2, 0.07, False)
    keeper.mark()  # "that one": bar 3
    keeper.close()
    records = read_session(tmp_path)
    assert [(r.event, r.bar, r.flagged, r.marked) for r in records] == [
        ("loop", 1, False, False),
        ("loop", 2, True, False),
        ("loop", 3, False, False),
        ("mark", 3, False, True),
    ]
    files = sorted(p.name for p in tmp_path.glob("*.wav"))
    assert len(files) == 2 and "_bar00002_120.0bpm_score9.wav" in files[0] and "_bar00003_" in files[1]
    assert records[1].file == files[0] and records[3].file == files[1]
    rows = list(csv.DictReader((tmp_path / "session.csv").open()))
    assert [r["bar"] for r in rows] == ["1", "2", "3", "3"] and rows[3]["event"] == "mark"
    assert sf.info(str(tmp_path / files[0])).frames == 4800


def test_size_cap_removes_oldest_unflagged_first(tmp_path: Path) -> None:
    one_take = 4800 * 4 + 100  # float WAV bytes, roughly
    own = tmp_path / "my song.wav"  # a user's file in the folder, larger than the cap: not a take
    own.write_bytes(bytes(4 * one_take))
    keeper = TakeKeeper(TakesConfig(tmp_path, keep_all=True, max_bytes=int(2.5 * one_take)), sample_rate=48000)
    audio = np.full(4800, 0.1, dtype=np.float32)
    keeper.add(audio, 1, 120.0, 9.0, 0.99, True)  # flagged: precious
    keeper.add(audio, 2, 120.0, 1.0, 0.05, False)
    keeper.add(audio, 3, 120.0, 1.0, 0.05, False)
    keeper.add(audio, 4, 120.0, 1.0, 0.05, False)
    keeper.close()
    bars = sorted(int(p.name.split("_bar")[1][:5]) for p in tmp_path.glob("*_bar*.wav"))
    assert bars == [1, 4]
    assert own.stat().st_size == 4 * one_take


def test_take_names_are_recognised() -> None:
    assert is_take_name(take_name(1e9, 12, 120.0, -2.681)) and is_take_name(take_name(1e9, 123456, 97.5, 1e6))
    assert is_take_name(take_name(1e9, -1, 120.0, float("nan")))  # a Link timeline realigned before bar 1
    assert not any(map(is_take_name, ["my song.wav", "20260101-120000.000_bar00001_x.wav", "a_bar1_bpm_score.wav"]))


def test_log_rotation_keeps_files_bounded(tmp_path: Path) -> None:
    keeper = TakeKeeper(TakesConfig(tmp_path, log_max_bytes=2000), sample_rate=48000)
    for bar in range(60):
        keeper.add(np.zeros(10, dtype=np.float32), bar, 120.0, 1.0, 0.05, False)
    keeper.close()
    assert (tmp_path / "session.jsonl").stat().st_size < 2000 + 500
    assert list(tmp_path.glob("session.*.jsonl"))


@pytest.mark.slow
def test_run_with_takes_keeps_the_planted_loop_and_a_marked_one(trained_bundle: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(21)
    bars = [bass_loop(120.0, 1, 48000, rng, deviation="instrument" if b == 3 else None) for b in range(1, 7)]
    take = tmp_path / "take.wav"
    sf.write(take, np.concatenate(bars), 48000, subtype="FLOAT")
    takes = tmp_path / "takes"
    argv = ["run", str(trained_bundle), "--file", str(take), "--bpm", "120", "--bars", "1", "--speed", "4"]
    assert main([*argv, "--takes", str(takes), "--control", "off", "--osc", "127.0.0.1:9"]) == 0
    records = read_session(takes)
    assert [r.bar for r in records] == [1, 2, 3, 4, 5, 6]
    flagged = [r for r in records if r.flagged]
    assert 3 in {r.bar for r in flagged}
    kept = {p.name for p in takes.glob("*.wav")}
    assert kept == {r.file for r in flagged}
    assert all(r.file == "" for r in records if not r.flagged)
    capsys.readouterr()
    assert main(["takes", str(takes), "--plot", str(tmp_path / "session.png")]) == 0
    listing = capsys.readouterr().out
    assert listing.splitlines()[1].split()[1] == "3"  # the planted bar scores highest
    assert (tmp_path / "session.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_osc_mark_keeps_a_normal_loop(trained_bundle: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    wave = np.concatenate([bass_loop(120.0, 1, 48000, rng) for _ in range(3)])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = RunConfig(
        bundle=trained_bundle,
        osc=(("127.0.0.1", 9),),
        control=("127.0.0.1", port),
        wave=wave,
        speed=1.0,
        loop=True,
        bpm=120.0,
        bars=1,
        takes=TakesConfig(tmp_path),
    )
    stop = threading.Event()
    lines: list[str] = []
    with open_daemon(cfg, print_line=lines.append) as daemon:
        SimpleUDPClient("127.0.0.1", port).send_message("/rtloop/mark", [])  # before any loop: ignored, said so
        runner = threading.Thread(target=run_daemon, args=(daemon, stop))
        runner.start()
        try:
            deadline = time.monotonic() + 30
            while daemon.summary.scored < 1 and time.monotonic() < deadline:
                time.sleep(0.1)
            SimpleUDPClient("127.0.0.1", port).send_message("/rtloop/mark", [])
            while (
                not (tmp_path / "session.jsonl").exists()
                or '"event": "mark"' not in (tmp_path / "session.jsonl").read_text()
            ):
                assert time.monotonic() < deadline
                time.sleep(0.1)
        finally:
            stop.set()
            runner.join(timeout=20)
    marks = [r for r in read_session(tmp_path) if r.event == "mark"]
    assert len(marks) == 1 and marks[0].marked and (tmp_path / marks[0].file).is_file()
    assert lines.count("mark ignored: no loop scored yet") == 1 and lines.count("marked the last loop") == 1, lines


@pytest.mark.slow
def test_clock_free_windows_through_the_cli(trained_bundle: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(2)
    take = tmp_path / "gallery.wav"
    sf.write(take, np.concatenate([bass_loop(120.0, 1, 48000, rng) for _ in range(3)]), 48000, subtype="FLOAT")
    argv = ["run", str(trained_bundle), "--file", str(take), "--window", "2s", "--hop", "1s", "--speed", "4"]
    assert main([*argv, "--control", "off", "--osc", "127.0.0.1:9"]) == 0
    out = capsys.readouterr().out
    assert "loops scored: 5" in out  # windows ending at 2, 3, 4, 5, 6 s


def test_config_file_becomes_command_line(tmp_path: Path) -> None:
    config = tmp_path / "rtloop.toml"
    config.write_text(
        'bundle = "bass.rtloop"\ninput = "Scarlett"\nchannel = 2\nosc = ["127.0.0.1:7474", "10.0.0.2:8000"]\n'
        'takes = "/srv/takes"\ntakes_all = true\nforever = false\n'
    )
    assert config_argv(config) == [
        "run",
        "bass.rtloop",
        "--input",
        "Scarlett",
        "--channel",
        "2",
        "--osc",
        "127.0.0.1:7474",
        "--osc",
        "10.0.0.2:8000",
        "--takes",
        "/srv/takes",
        "--takes-all",
    ]
    config.write_text("bars = {a = 1}\n")
    with pytest.raises(RtloopError, match="not a string"):
        config_argv(config)
    config.write_text("not toml [")
    assert main(["--config", str(config)]) == 2

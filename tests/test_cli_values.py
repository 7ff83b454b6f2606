"""Command-line numbers: argparse refuses each bad value with exit status 2 and a message naming it."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from rtloop import cli_values
from rtloop.cli import build_parser, main, osc_prefix, with_config

RUN = ["run", "nowhere.rtloop"]
TRAIN = ["train", "nowhere", "-o", "out.rtloop"]

REFUSED = [
    (RUN, "--bpm", "0", "--bpm: 0 BPM is out of range: at least 20"),
    (RUN, "--bpm", "-120", "--bpm: -120 BPM is out of range"),
    (RUN, "--bpm", "nan", "--bpm: 'nan' is not a finite number"),
    (RUN, "--bpm", "inf", "--bpm: 'inf' is not a finite number"),
    (RUN, "--bpm", "1e9", "at most 400 BPM"),
    (RUN, "--bpm", "fast", "--bpm: 'fast' is not a number"),
    (RUN, "--speed", "0", "--speed: 0x is out of range: at least 0.01"),
    (RUN, "--speed", "1e12", "at most 1000x"),
    (RUN, "--bars", "0", "--bars: 0 bars is out of range: at least 1 and at most 64 bars"),
    (RUN, "--bars", "4294967295", "at most 64 bars"),
    (RUN, "--bars", "1.5", "--bars: '1.5' is not a whole number"),
    (RUN, "--hop", "0", "--hop: 0 bars is out of range"),
    (RUN, "--hop", "-1s", "--hop: -1 s is out of range: more than 0"),
    (RUN, "--hop", "soon", "--hop: 'soon' is not a finite duration"),
    (RUN, "--window", "0", "--window: 0 s is out of range: more than 0 and at most 60 s"),
    (RUN, "--window", "nans", "--window: 'nans' is not a finite duration"),
    (RUN, "--beats-per-bar", "0", "--beats-per-bar: 0 beats is out of range"),
    (RUN, "--channel", "0", "--channel: 0 is out of range: at least 1"),
    (RUN, "--samplerate", "1", "--samplerate: 1 Hz is out of range: at least 8000 and at most 384000 Hz"),
    (RUN, "--blocksize", "-256", "--blocksize: -256 frames is out of range"),
    (RUN, "--latency-ms", "-5", "--latency-ms: -5 ms is out of range: at least 0"),
    (RUN, "--latency-ms", "nan", "--latency-ms: 'nan' is not a finite number"),
    (RUN, "--threads", "-1", "--threads: -1 threads is out of range"),
    (RUN, "--takes-max-mb", "0", "--takes-max-mb: 0 MB is out of range: at least 1"),
    (TRAIN, "--quantile", "0.2", "--quantile: 0.2 is out of range: more than 0.5 and at most 1"),
    (TRAIN, "--val-fraction", "0", "--val-fraction: 0 is out of range: more than 0 and at most 0.5"),
    (TRAIN, "--val-fraction", "1", "at most 0.5"),
    (TRAIN, "--bars-hint", "0", "--bars-hint: 0 bars is out of range"),
    (TRAIN, "--seed", "-1", "--seed: -1 is out of range: at least 0"),
    (["demo"], "--seconds", "0", "--seconds: 0 s is out of range: at least 1"),
    (["demo"], "--speed", "0", "--speed: 0x is out of range"),
    (["takes", "folder"], "--top", "0", "--top: 0 is out of range: at least 1"),
    (RUN, "--prefix", "bass", "--prefix: 'bass': an OSC prefix starts with '/'"),  # every packet was invalid OSC
    (RUN, "--prefix", "/my bass", "--prefix: '/my bass': an OSC prefix"),
    (RUN, "--prefix", "/a*", "--prefix: '/a*': an OSC prefix"),
    (["demo"], "--prefix", "/" + "a" * 64, "at most 64 characters"),
    (["eval", "b.rtloop", "n", "a"], "--plot", "nodir/x.png", "--plot: 'nodir/x.png': folder nodir does not exist"),
    (["takes", "folder"], "--plot", "x.txt", "--plot: 'x.txt': name a figure file ending in .png, .pdf"),
]


@pytest.mark.parametrize("command, option, value, message", REFUSED, ids=[f"{r[1]} {r[2]}" for r in REFUSED])
def test_bad_numbers_exit_2_with_a_message(
    command: list[str], option: str, value: str, message: str, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command, f"{option}={value}"])  # "=" keeps argparse from reading -5 as an option
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "parse, text, value",
    [
        (cli_values.bpm, "120", 120.0),
        (cli_values.bpm, "20", 20.0),
        (cli_values.speed, "8", 8.0),
        (cli_values.bars, "64", 64),
        (cli_values.blocksize, "0", 0),
        (cli_values.threads, "0", 0),
        (cli_values.samplerate, "44100", 44100),
        (cli_values.quantile, "0.95", 0.95),
        (cli_values.seconds, "4s", 4.0),
        (cli_values.seconds, "0.5", 0.5),
        (cli_values.hop, "2", "2"),
        (cli_values.hop, "0.5s", "0.5s"),
    ],
)
def test_values_in_range_pass_through(parse: object, text: str, value: object) -> None:
    assert parse(text) == value  # type: ignore[operator]


def test_a_config_file_goes_through_the_same_checks(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    config = tmp_path / "rtloop.toml"
    config.write_text('command = "run"\nbundle = "x.rtloop"\nbpm = 0\n')
    with pytest.raises(SystemExit) as exited:
        main(["--config", str(config)])
    assert exited.value.code == 2
    assert "--bpm: 0 BPM is out of range" in capsys.readouterr().err


@pytest.mark.parametrize(
    "before, config, after",
    [
        ([], 'log_level = "warning"\n', []),
        (["--log-level", "warning"], "", []),
        ([], "", ["--log-level", "warning"]),
        ([], "", ["--log-level=warning"]),
    ],
)
def test_a_config_file_takes_the_log_level_wherever_it_is_given(
    before: list[str], config: str, after: list[str], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """``--log-level`` is an option of rtloop, not of the command: from a config file it was unrecognised."""
    path = tmp_path / "rtloop.toml"
    path.write_text(f'command = "run"\nbundle = "x.rtloop"\n{config}bpm = 0\n')
    with pytest.raises(SystemExit) as exited:
        main([*before, "--config", str(path), *after])
    assert exited.value.code == 2
    assert "--bpm: 0 BPM is out of range" in capsys.readouterr().err, "the log level was taken: bpm was checked"


@pytest.mark.parametrize("typed", [["--log-level", "debug", "--config"], ["--log-level=debug", "--config"]])
def test_a_log_level_typed_wins_over_the_config_files(typed: list[str], tmp_path: Path) -> None:
    path = tmp_path / "rtloop.toml"
    path.write_text('command = "takes"\nbundle = "folder"\nlog_level = "warning"\n')
    for argv in ([*typed, str(path)], ["--config", str(path), "--log-level", "debug"]):
        assert build_parser().parse_args(with_config(argv)).log_level == "debug", argv
    assert build_parser().parse_args(with_config(["--config", str(path)])).log_level == "warning"
    assert with_config(["takes", "--config", "x"]) == ["takes", "--config", "x"], "a command's word, not rtloop's"
    assert build_parser().parse_args(with_config([f"--config={path}"])).log_level == "warning"
    with pytest.raises(SystemExit):  # argparse: "expected one argument", not "invalid choice: ''"
        build_parser().parse_args(with_config(["--config", str(path), "--log-level"]))


def test_a_config_file_that_is_not_utf8_is_one_message(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "rtloop.toml"
    path.write_bytes(b'command = "run"\n# caf\xe9\n')  # saved as Latin-1: a UnicodeDecodeError traceback before
    assert main(["--config", str(path)]) == 2
    assert f"config {path}: not UTF-8 text (byte 21): save it as UTF-8" in capsys.readouterr().err
    assert main(["--config"]) == 2


def test_an_osc_prefix_keeps_its_parts_and_loses_a_trailing_slash() -> None:
    assert osc_prefix("/stage/bass-1/") == "/stage/bass-1"


def test_type_errors_are_argparse_errors() -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="not a whole number"):
        cli_values.channel("two")

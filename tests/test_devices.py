"""``rtloop devices`` lists what exists and names what is unavailable, and why, instead of failing."""

from __future__ import annotations

import os

import pytest

from rtloop.cli import main


def test_devices_lists_every_midi_api_and_says_what_is_unavailable(capsys: pytest.CaptureFixture) -> None:
    assert main(["devices"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("audio inputs:")
    assert "MIDI inputs (" in out and "MIDI outputs (--midi-out) (" in out
    if not os.path.exists("/dev/snd/seq"):  # no ALSA sequencer: the default API fails, the others are tried
        assert "MIDI inputs (default):\n  unavailable: cannot start the default MIDI API" in out
        assert "MIDI inputs (jack):" in out
    assert "Traceback" not in out

"""MIDI clock input through python-rtmidi (ALSA, JACK, CoreMIDI, WinMM): ports by index or name."""

from __future__ import annotations

from typing import Any

from rtloop.clock import MidiClockReceiver
from rtloop.errors import DeviceError

APIS = {
    "default": "API_UNSPECIFIED",
    "alsa": "API_LINUX_ALSA",
    "jack": "API_UNIX_JACK",
    "coremidi": "API_MACOSX_CORE",
    "winmm": "API_WINDOWS_MM",
}


def _midi_in(api: str) -> Any:
    import rtmidi

    try:
        return rtmidi.MidiIn(getattr(rtmidi, APIS[api]), name="rtloop")
    except (KeyError, AttributeError):
        raise DeviceError(f"unknown MIDI API {api!r}; choose one of {', '.join(APIS)}") from None
    except rtmidi.SystemError as exc:
        raise DeviceError(f"cannot start the {api} MIDI API: {exc}") from exc


def list_midi_inputs(api: str = "default") -> list[str]:
    """Names of the MIDI input ports the API sees."""
    midi = _midi_in(api)
    try:
        return list(midi.get_ports())
    finally:
        midi.delete()


def open_clock_input(spec: str | None, api: str = "default", virtual: bool = False) -> tuple[Any, MidiClockReceiver]:
    """Open a MIDI input for clock messages and route it to a :class:`MidiClockReceiver`.

    Args:
        spec: port index or name substring; with ``virtual``, the name of a port rtloop creates.
        api: one of :data:`APIS`.
        virtual: create a port (``rtloop:clock in``) for the clock source to connect to.

    Raises:
        DeviceError: no such port (the message lists the ports), or the API cannot start.
    """
    midi = _midi_in(api)
    receiver = MidiClockReceiver()
    if virtual:
        midi.open_virtual_port(spec or "clock in")
    else:
        ports = midi.get_ports()
        if spec is not None and spec.isdigit():
            match = [int(spec)] if int(spec) < len(ports) else []
        else:
            match = [i for i, name in enumerate(ports) if (spec or "").lower() in name.lower()]
        if len(match) != 1:
            listing = "; ".join(f"[{i}] {name}" for i, name in enumerate(ports)) or "none"
            problem = "matches several ports" if match else "matches no MIDI input"
            midi.delete()
            raise DeviceError(f"--midi {spec!r} {problem}. MIDI inputs: {listing}")
        midi.open_port(match[0])
    midi.ignore_types(sysex=True, timing=False, active_sense=True)  # timing=False, or no clock arrives
    midi.set_callback(receiver)
    return midi, receiver

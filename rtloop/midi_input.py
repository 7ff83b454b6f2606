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


def midi_inputs_by_api(api: str = "default") -> list[tuple[str, list[str] | str]]:
    """For ``rtmidi devices``: (API, port names or why the API is unavailable), for the API asked
    for or, with ``"default"``, for the default API and then every other one compiled in (a Linux
    machine without an ALSA sequencer can still have JACK MIDI)."""
    import rtmidi

    names = {getattr(rtmidi, value, None): name for name, value in APIS.items() if name != "default"}
    wanted = [api] if api != "default" else ["default"]
    if api == "default":
        wanted += [names[a] for a in rtmidi.get_compiled_api() if a in names]
    listing: list[tuple[str, list[str] | str]] = []
    for name in wanted:
        try:
            listing.append((name, list_midi_inputs(name)))
        except DeviceError as exc:
            listing.append((name, str(exc)))
    if api == "default" and isinstance(listing[0][1], list):
        listing = listing[:1]  # the default API works: it is what --midi uses
    return listing


def list_midi_inputs(api: str = "default") -> list[str]:
    """Names of the MIDI input ports the API sees."""
    midi = _midi_in(api)
    try:
        return list(midi.get_ports())
    finally:
        midi.delete()


class ClockInput:
    """A MIDI input for clock messages, routed to a :class:`MidiClockReceiver`; reopenable by name.

    Args:
        spec: port index or name substring; with ``virtual``, the name of a port rtloop creates.
        api: one of :data:`APIS`.
        virtual: create a port (``rtloop:clock in``) for the clock source to connect to.

    Raises:
        DeviceError: no such port (the message lists the ports), or the API cannot start.
    """

    def __init__(self, spec: str | None, api: str = "default", virtual: bool = False) -> None:
        self.spec, self.api, self.virtual = spec, api, virtual
        self.receiver = MidiClockReceiver()
        self._midi = self._open()

    @property
    def reopenable(self) -> bool:
        """A port of someone else's can vanish and come back; rtloop's own virtual port cannot."""
        return not self.virtual

    def _open(self) -> Any:
        midi = _midi_in(self.api)
        if self.virtual:
            midi.open_virtual_port(self.spec or "clock in")
        else:
            ports = midi.get_ports()
            if self.spec is not None and self.spec.isdigit():
                match = [int(self.spec)] if int(self.spec) < len(ports) else []
            else:
                match = [i for i, name in enumerate(ports) if (self.spec or "").lower() in name.lower()]
            if len(match) != 1:
                listing = "; ".join(f"[{i}] {name}" for i, name in enumerate(ports)) or "none"
                problem = "matches several ports" if match else "matches no MIDI input"
                midi.delete()
                raise DeviceError(f"--midi {self.spec!r} {problem}. MIDI inputs: {listing}")
            midi.open_port(match[0])
        # Receive everything: rtmidi's JACK backend measures each delta from the message before, even one
        # it then ignores, so ignoring Active Sensing or SysEx would drop their share of the timeline
        # (tests/test_midi_fuzz.py shows it on a real JACK server). ClockFollower skips what is not clock.
        midi.ignore_types(sysex=False, timing=False, active_sense=False)
        midi.set_callback(self.receiver)
        return midi

    def reopen(self) -> None:
        """Close the port and open it again by name (the source's port may have been re-created).

        Raises:
            DeviceError: the port is not there (yet).
        """
        self.close()
        self._midi = self._open()

    def close(self) -> None:
        self._midi.close_port()
        self._midi.delete()

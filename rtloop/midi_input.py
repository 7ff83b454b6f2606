"""MIDI clock input through python-rtmidi (ALSA, JACK, CoreMIDI, WinMM): ports by index or name."""

from __future__ import annotations

from typing import Any

from rtloop.clock import MidiClockReceiver
from rtloop.errors import DeviceError
from rtloop.midi_ports import open_client, open_port, release


class ClockInput:
    """A MIDI input for clock messages, routed to a :class:`MidiClockReceiver`; a reopen takes the port
    first opened again, by its name (never whatever port now has the index ``--midi 1`` first named).

    Args:
        spec: port index or name substring; with ``virtual``, the name of a port rtloop creates.
        api: one of :data:`rtloop.midi_ports.APIS`.
        virtual: create a port (``rtloop:clock in``) for the clock source to connect to.

    Raises:
        DeviceError: no such port (the message lists the ports), or the API cannot start.
    """

    def __init__(self, spec: str | None, api: str = "default", virtual: bool = False) -> None:
        self.spec, self.api, self.virtual = spec, api, virtual
        self.receiver = MidiClockReceiver()
        self._port: str | None = None  # the name of the port opened first: the one a reopen looks for
        self._midi: Any | None = self._open()  # None while closed, or after a reopen found no port

    @property
    def reopenable(self) -> bool:
        """A port of someone else's can vanish and come back; rtloop's own virtual port cannot."""
        return not self.virtual

    def _open(self) -> Any:
        import rtmidi

        midi = open_client(self.api)
        try:
            if self.virtual:
                midi.open_virtual_port(self.spec or "clock in")
            else:
                self._port = open_port(midi, self.spec, self._port, "MIDI input")
        except DeviceError as exc:
            release(midi)
            raise DeviceError(f"--midi {exc}") from None
        except (rtmidi.RtMidiError, ValueError, OSError) as exc:  # the port vanished as it was opened
            release(midi)
            raise DeviceError(f"--midi {self._port or self.spec!r}: cannot open it: {exc}") from exc
        # Receive everything: rtmidi's JACK backend measures each delta from the message before, even one
        # it then ignores, so ignoring Active Sensing or SysEx would drop their share of the timeline
        # (tests/test_midi_fuzz.py shows it on a real JACK server). ClockFollower skips what is not clock.
        midi.ignore_types(sysex=False, timing=False, active_sense=False)
        midi.set_callback(self.receiver)
        return midi

    def reopen(self) -> None:
        """Close the port and open the same one again (the source's port may have been re-created); may
        be called again after it failed.

        Raises:
            DeviceError: the port is not there (yet).
        """
        self.close()
        self._midi = self._open()

    def close(self) -> None:
        """Close the port and free the client; closing again does nothing."""
        midi, self._midi = self._midi, None
        if midi is not None:
            release(midi)

"""Variation as MIDI control changes, for hosts and hardware without OSC: map them with MIDI learn.

Each scored loop sends, on one channel, 7-bit CCs (0..127 for 0..1) with these default numbers, chosen
from the controllers MIDI leaves undefined (20..31), so they clash with no synth's usual mapping:

=====  =========================================
CC     value
=====  =========================================
20     overall variation
21     rhythm variation
22     harmony variation
23     timbre variation
24     integrity variation
25     sound variation
26     flag: 127 over the threshold, 0 under it
=====  =========================================

Only controllers whose 7-bit value changed are sent (a host that records them gets one event per
change, not one per loop). 7 bits resolve 1/127 of the range, finer than the meter can be read.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rtloop.errors import DeviceError
from rtloop.midi_ports import find_again, open_client, open_port, release
from rtloop.resources import Closing

log = logging.getLogger(__name__)
CONTROL_CHANGE = 0xB0
DEFAULT_ASPECT_CCS = {"rhythm": 21, "harmony": 22, "timbre": 23, "integrity": 24, "sound": 25}


@dataclass(frozen=True)
class CcMap:
    """Which controller carries what, on which channel.

    Args:
        channel: MIDI channel 1..16.
        overall: controller of the overall variation.
        aspects: controller of each aspect's variation.
        flag: controller of the flag (0 or 127).

    Raises:
        ValueError: a channel or controller number out of range, or one controller used twice.
    """

    channel: int = 1
    overall: int = 20
    aspects: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_ASPECT_CCS))
    flag: int = 26

    def __post_init__(self) -> None:
        if not 1 <= self.channel <= 16:
            raise ValueError(f"MIDI channel {self.channel} is out of range (1..16)")
        numbers = [self.overall, *self.aspects.values(), self.flag]
        if any(not 0 <= n <= 119 for n in numbers):  # 120..127 are channel mode messages
            raise ValueError(f"controller numbers must be 0..119, not {numbers}")
        if len(set(numbers)) != len(numbers):
            raise ValueError(f"each value needs its own controller: {numbers}")


def to_7bit(value: float) -> int:
    """0..1 -> 0..127, rounded; values outside 0..1 are clipped."""
    return round(min(max(value, 0.0), 1.0) * 127)


class MidiCcOut(Closing):
    """A MIDI output port that carries rtloop's values as control changes (see the module's table).

    Args:
        spec: port index or name substring; with ``virtual``, the name of a port rtloop creates.
        api: one of :data:`rtloop.midi_ports.APIS`.
        virtual: create a port (``rtloop:<spec or "cc out">``) for hosts to connect to.
        ccs: channel and controller numbers.

    Raises:
        DeviceError: no such port (the message lists the ports), or the API cannot start.
    """

    def __init__(self, spec: str | None, api: str = "default", virtual: bool = False, ccs: CcMap | None = None) -> None:
        import rtmidi

        self.ccs = ccs or CcMap()
        self._errors = (rtmidi.RtMidiError, ValueError, OSError)
        self._last: dict[int, int] = {}
        self._reported: set[str] = set()
        self._spec = spec
        self._port: str | None = None  # the port sent to (None: rtloop's own virtual port, which cannot vanish)
        self._gone = False  # the port was missing at the last send: reconnect once it is back
        midi = open_client(api, output=True)
        try:
            if virtual:
                midi.open_virtual_port(spec or "cc out")
            else:
                self._port = open_port(midi, spec, None, "MIDI output")
        except DeviceError:
            release(midi)
            raise
        except self._errors as exc:
            release(midi)
            raise DeviceError(f"cannot open MIDI output {spec!r}: {exc}") from exc
        self._midi: Any | None = midi  # None once closed

    def send(self, variation: float, aspects: Mapping[str, float], flagged: bool) -> None:
        """Send the controllers whose values changed since the last call; never raises.

        Args:
            variation: overall variation 0..1.
            aspects: variation 0..1 of each aspect; aspects without a controller are not sent.
            flagged: whether the loop is over the bundle's threshold.
        """
        self._follow_port()
        values = [(self.ccs.overall, variation)]
        values += [(self.ccs.aspects[name], value) for name, value in aspects.items() if name in self.ccs.aspects]
        for number, value in values:
            if math.isfinite(value):
                self._send(number, to_7bit(value))
            else:
                self._report("nan", f"MIDI CC {number} not sent: the value is not a number ({value})")
        self._send(self.ccs.flag, 127 if flagged else 0)

    def _follow_port(self) -> None:
        """Reconnect to the port once it is back after it vanished (its program restarted, a cable replugged):
        the connection went with it, and nothing reached the port again before."""
        if self._port is None or self._midi is None:
            return
        try:
            ports = self._midi.get_ports()
            index = find_again(ports, self._port, self._spec, "MIDI output")
        except DeviceError:
            if not self._gone:
                log.warning("MIDI output %r is gone; its values go out again once it is back", self._port)
            self._gone = True
            return
        except self._errors:
            return
        if not self._gone and ports[index] == self._port:
            return
        try:
            self._midi.close_port()
            self._midi.open_port(index)
        except self._errors as exc:
            self._report("reopen", f"MIDI output {self._port!r} is back but cannot be opened ({exc}); still trying")
            return
        log.info("MIDI output %r is back", self._port)
        self._port, self._gone = ports[index], False
        self._last.clear()  # whoever listens now has none of the values yet

    def _send(self, number: int, value: int) -> None:
        if self._last.get(number) == value or self._midi is None:
            return
        try:
            self._midi.send_message([CONTROL_CHANGE | (self.ccs.channel - 1), number, value])
        except self._errors as exc:
            self._report("send", f"MIDI CC output failing ({exc}); still trying")
            return
        self._last[number] = value

    def _report(self, kind: str, message: str) -> None:
        if kind not in self._reported:
            self._reported.add(kind)
            log.warning(message)

    def close(self) -> None:
        """Close the port; never raises, and closing again does nothing."""
        midi, self._midi = self._midi, None
        if midi is not None:
            release(midi)

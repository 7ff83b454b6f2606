"""python-rtmidi clients and ports, shared by the clock input and the CC output: APIs, port lists, and
choosing a port by index or name."""

from __future__ import annotations

import re
from typing import Any

from rtloop.errors import DeviceError

APIS = {
    "default": "API_UNSPECIFIED",
    "alsa": "API_LINUX_ALSA",
    "jack": "API_UNIX_JACK",
    "coremidi": "API_MACOSX_CORE",
    "winmm": "API_WINDOWS_MM",
}


def open_client(api: str, output: bool = False) -> Any:
    """An rtmidi ``MidiIn`` (or ``MidiOut``) client named ``rtloop`` on ``api``.

    Raises:
        DeviceError: an unknown API, or one that cannot start (no ALSA sequencer, no JACK server).
    """
    import rtmidi

    kind = rtmidi.MidiOut if output else rtmidi.MidiIn
    try:
        return kind(getattr(rtmidi, APIS[api]), name="rtloop")
    except (KeyError, AttributeError):
        raise DeviceError(f"unknown MIDI API {api!r}; choose one of {', '.join(APIS)}") from None
    except rtmidi.SystemError as exc:
        raise DeviceError(f"cannot start the {api} MIDI API: {exc}") from exc


def release(midi: Any) -> None:
    """Close a client's port and free the client. Once per client: python-rtmidi crashes the process
    (SIGSEGV) on any use of a freed one, so callers drop their reference first."""
    try:
        midi.close_port()
    finally:
        midi.delete()


def list_ports(api: str = "default", output: bool = False) -> list[str]:
    """Names of the MIDI input (or output) ports the API sees.

    Raises:
        DeviceError: an unknown API, or one that cannot start.
    """
    midi = open_client(api, output)
    try:
        return list(midi.get_ports())
    finally:
        release(midi)


def select_port(ports: list[str], spec: str | None, what: str) -> int:
    """Index of the one port that ``spec`` (an index, or a case-insensitive name substring) names.

    Raises:
        DeviceError: no port or several ports match; the message lists the ports.
    """
    if spec is not None and spec.isdigit():
        match = [int(spec)] if int(spec) < len(ports) else []
    else:
        match = [i for i, name in enumerate(ports) if (spec or "").lower() in name.lower()]
    if len(match) != 1:
        problem = "matches several ports" if match else f"matches no {what}"
        raise DeviceError(f"{spec!r} {problem}. {what}s: {_listing(ports)}")
    return match[0]


_ALSA_ADDRESS = re.compile(r" \d+:\d+$")  # rtmidi's ALSA port names end with the client:port address


def find_again(ports: list[str], name: str, spec: str | None, what: str) -> int:
    """Index of the port that was listed as ``name`` when it was opened, now that it may be back (a cable
    plugged in again, a source restarted): that name, or else the one port whose name differs only in its
    ALSA address (a device plugged in again may get another client number), or else, where the user named
    the port (``spec`` not an index), the one port that name matches (Windows numbers its port names; this
    may be another device the name also fits, as at start). Never another port only because it now sits at
    the index the first one had.

    Raises:
        DeviceError: the port is not there (yet); the message lists the ports.
    """
    if name in ports:
        return ports.index(name)
    bare = _ALSA_ADDRESS.sub("", name)
    match = [i for i, port in enumerate(ports) if _ALSA_ADDRESS.sub("", port) == bare]
    if len(match) != 1 and spec and not spec.isdigit():
        match = [i for i, port in enumerate(ports) if spec.lower() in port.lower()]
    if len(match) != 1:
        raise DeviceError(f"{name!r} is not back. {what}s: {_listing(ports)}")
    return match[0]


def open_port(midi: Any, spec: str | None, opened: str | None, what: str) -> str:
    """Open on ``midi`` the port ``spec`` names (:func:`select_port`) or, given the name of the port opened
    before, that port again (:func:`find_again`); returns the name of the port now open.

    Raises:
        DeviceError: no such port (the message lists the ports).
    """
    ports = midi.get_ports()
    index = select_port(ports, spec, what) if opened is None else find_again(ports, opened, spec, what)
    midi.open_port(index)
    return ports[index]


def _listing(ports: list[str]) -> str:
    return "; ".join(f"[{i}] {name}" for i, name in enumerate(ports)) or "none"


def ports_by_api(api: str = "default", output: bool = False) -> list[tuple[str, list[str] | str]]:
    """For ``rtloop devices``: (API, port names or why the API is unavailable), for the API asked for
    or, with ``"default"``, for the default API and then every other one compiled in (a Linux machine
    without an ALSA sequencer can still have JACK MIDI)."""
    import rtmidi

    names = {getattr(rtmidi, value, None): name for name, value in APIS.items() if name != "default"}
    wanted = [api] if api != "default" else ["default"]
    if api == "default":
        wanted += [names[a] for a in rtmidi.get_compiled_api() if a in names]
    listing: list[tuple[str, list[str] | str]] = []
    for name in wanted:
        try:
            listing.append((name, list_ports(name, output)))
        except DeviceError as exc:
            listing.append((name, str(exc)))
    if api == "default" and isinstance(listing[0][1], list):
        listing = listing[:1]  # the default API works: it is what --midi uses
    return listing

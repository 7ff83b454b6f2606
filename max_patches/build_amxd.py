"""Build the Max for Live devices (.amxd) from their patcher sources, so the two never drift apart.

    python max_patches/build_amxd.py            # rewrite every device next to this script
    python max_patches/build_amxd.py --check    # exit 1 if a committed device differs from its source

An unfrozen .amxd is a series of chunks, each a 4-byte ASCII tag, a little-endian u32 payload length and the
payload: ``ampf`` (the device type: ``aaaa`` audio effect, ``mmmm`` MIDI effect, ``iiii`` instrument),
``meta`` (4 bytes, zero) and ``ptch`` (the patcher JSON and a NUL byte). The patcher repeats the type as
``patcher.project.amxdtype``, the four type bytes read as a big-endian integer. Standard library only: this
script runs on any Python 3.10+, without rtloop installed.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
AUDIO_EFFECT, MIDI_EFFECT, INSTRUMENT = b"aaaa", b"mmmm", b"iiii"
DEVICE_TYPES = (AUDIO_EFFECT, MIDI_EFFECT, INSTRUMENT)
DEVICE_HEIGHT = 169  # pixels: the fixed height of a device in Live's device view


@dataclass(frozen=True)
class Device:
    """One device: its patcher source, the .amxd written from it, and its Live device type."""

    source: str
    target: str
    device_type: bytes


DEVICES = (Device("rtloop-device.maxpat", "rtloop.amxd", AUDIO_EFFECT),)


def amxdtype(device_type: bytes) -> int:
    """The type as ``patcher.project.amxdtype`` holds it: the four bytes as a big-endian integer."""
    return int.from_bytes(device_type, "big")


def device_patcher(source: dict, device_type: bytes) -> dict:
    """The source patcher with the project section Max for Live expects of a device.

    Args:
        source: a parsed .maxpat (``{"patcher": {...}}``).
        device_type: one of :data:`DEVICE_TYPES`.

    Returns:
        A new dict; ``source`` is not modified.
    """
    patcher = dict(source["patcher"])
    patcher["openinpresentation"] = 1
    patcher["parameters"] = parameter_index(patcher["boxes"])
    patcher["dependency_cache"] = []
    patcher["project"] = {
        "version": 1,
        "amxdtype": amxdtype(device_type),
        "readonly": 0,
        "devpathtype": 0,
        "devpath": ".",
        "sortmode": 0,
        "viewmode": 0,
        "contents": {"patchers": {}},
        "layout": {},
        "searchpath": {},
        "detailsvisible": 0,
    }
    return {"patcher": patcher}


def parameter_index(boxes: list[dict]) -> dict:
    """The patcher's ``parameters`` section: each Live parameter's box id -> [long name, short name, 0]."""
    index: dict = {}
    for entry in boxes:
        box = entry["box"]
        if box.get("parameter_enable"):
            names = box["saved_attribute_attributes"]["valueof"]
            index[box["id"]] = [names["parameter_longname"], names["parameter_shortname"], 0]
    index["inherited_shortname"] = 1
    return index


def chunk(tag: bytes, payload: bytes) -> bytes:
    """One chunk: 4-byte tag, little-endian u32 payload length, payload."""
    if len(tag) != 4:
        raise ValueError(f"chunk tags have 4 bytes, not {tag!r}")
    return tag + struct.pack("<I", len(payload)) + payload


def encode_amxd(patcher: dict, device_type: bytes) -> bytes:
    """The bytes of an unfrozen .amxd holding ``patcher``.

    Raises:
        ValueError: an unknown device type.
    """
    if device_type not in DEVICE_TYPES:
        raise ValueError(f"device type {device_type!r} is not one of {DEVICE_TYPES}")
    text = json.dumps(device_patcher(patcher, device_type), indent=1, ensure_ascii=False) + "\n"
    return chunk(b"ampf", device_type) + chunk(b"meta", bytes(4)) + chunk(b"ptch", text.encode("utf-8") + b"\0")


def read_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """Split an .amxd into ``(tag, payload)`` pairs.

    Raises:
        ValueError: a truncated chunk or trailing bytes.
    """
    chunks, offset = [], 0
    while offset < len(data):
        if offset + 8 > len(data):
            raise ValueError(f"truncated chunk header at byte {offset}")
        tag, size = data[offset : offset + 4], struct.unpack("<I", data[offset + 4 : offset + 8])[0]
        if offset + 8 + size > len(data):
            raise ValueError(f"chunk {tag!r} at byte {offset} claims {size} bytes, {len(data) - offset - 8} left")
        chunks.append((tag, data[offset + 8 : offset + 8 + size]))
        offset += 8 + size
    return chunks


def build(device: Device) -> bytes:
    """The .amxd bytes of ``device`` from its source next to this script."""
    source = json.loads((HERE / device.source).read_text(encoding="utf-8"))
    return encode_amxd(source, device.device_type)


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` compare) every device; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 on a difference")
    args = parser.parse_args(argv)
    stale = []
    for device in DEVICES:
        data, target = build(device), HERE / device.target
        if args.check:
            if not target.exists() or target.read_bytes() != data:
                stale.append(device.target)
        else:
            target.write_bytes(data)
            print(f"wrote {target.name} ({len(data)} bytes) from {device.source}")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python max_patches/build_amxd.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

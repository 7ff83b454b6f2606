"""The committed Max for Live devices: rebuilt byte for byte from their sources, laid out as Live reads them,
self-contained, and routing every address rtloop documents."""

from __future__ import annotations

import importlib.util
import json
import re
import struct
import sys
from pathlib import Path
from types import ModuleType

import pytest

from rtloop.osc_spec import CONTROL, DEFAULT_CONTROL_PORT, DEFAULT_OSC_PORT, DEFAULT_PREFIX, OUTPUT

PATCHES = Path(__file__).resolve().parents[1] / "max_patches"
DEVICES = sorted(PATCHES.glob("*.amxd"))
ASPECTS = ("rhythm", "harmony", "timbre", "integrity", "sound")
# rtloop.osc_spec lists these once the per-aspect scores land; until then the union adds them
SENT = {DEFAULT_PREFIX + a.name for a in OUTPUT} | {f"{DEFAULT_PREFIX}/variation/{a}" for a in ASPECTS}
SENT |= {f"{DEFAULT_PREFIX}/aspect"}
ACCEPTED = {DEFAULT_PREFIX + a.name for a in CONTROL}
DEVICE_HEIGHT = 169
# every object class the device may use: anything else would be an abstraction or an external
BUILTIN_OBJECTS = {
    "udpreceive", "udpsend", "route", "prepend", "t", "delay", "pack", "line", ">", "!=", "gate", "sel", "i",
    "scale", "plugin~", "plugout~", "live.thisdevice", "live.path", "live.observer", "live.object", "live.remote~",
}  # fmt: skip
ABSOLUTE_PATH = re.compile(
    r"^(~|[A-Za-z]:[\\/]|/(Users|home|Applications|Library|Volumes|tmp|private)\b)|\.(js|maxpat)$"
)


def load_builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_amxd", PATCHES / "build_amxd.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_amxd"] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def read_amxd(data: bytes) -> tuple[list[bytes], dict[bytes, bytes]]:
    """This test's own reader: chunk tags in order and their payloads."""
    tags, payloads, offset = [], {}, 0
    while offset < len(data):
        assert offset + 8 <= len(data), f"truncated chunk header at byte {offset}"
        tag, size = data[offset : offset + 4], struct.unpack("<I", data[offset + 4 : offset + 8])[0]
        assert offset + 8 + size <= len(data), f"chunk {tag!r} runs past the end of the file"
        tags.append(tag)
        payloads[tag] = data[offset + 8 : offset + 8 + size]
        offset += 8 + size
    return tags, payloads


def device_patcher(path: Path) -> tuple[bytes, dict]:
    tags, payloads = read_amxd(path.read_bytes())
    assert tags == [b"ampf", b"meta", b"ptch"], f"{path.name}: chunks {tags}"
    assert payloads[b"meta"] == bytes(4), f"{path.name}: meta is not 4 zero bytes"
    assert payloads[b"ptch"].endswith(b"\0"), f"{path.name}: the patcher does not end in a NUL byte"
    return payloads[b"ampf"], json.loads(payloads[b"ptch"][:-1].decode("utf-8"))["patcher"]


def strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


class Graph:
    """Boxes by id and the lines between them, checked for dangling ends."""

    def __init__(self, patcher: dict) -> None:
        self.boxes = {b["box"]["id"]: b["box"] for b in patcher["boxes"]}
        self.lines = [
            (tuple(ln["patchline"]["source"]), tuple(ln["patchline"]["destination"])) for ln in patcher["lines"]
        ]
        for (src, outlet), (dst, inlet) in self.lines:
            assert src in self.boxes and dst in self.boxes, f"line {src} -> {dst} ends in no box"
            assert outlet < self.boxes[src]["numoutlets"], f"{src} has no outlet {outlet}"
            assert inlet < self.boxes[dst]["numinlets"], f"{dst} has no inlet {inlet}"

    def objects(self, prefix: str) -> list[dict]:
        return [b for b in self.boxes.values() if b["maxclass"] == "newobj" and b["text"].split()[0] == prefix]

    def one(self, text: str) -> dict:
        found = [b for b in self.boxes.values() if b.get("text") == text]
        assert len(found) == 1, f"{len(found)} boxes read {text!r}"
        return found[0]

    def targets(self, box: dict, outlet: int | None = None) -> list[dict]:
        return [self.boxes[d] for (s, o), (d, _) in self.lines if s == box["id"] and outlet in (None, o)]

    def reaches(self, box: dict, outlet: int, goal: dict) -> bool:
        """Whether messages from ``box``'s ``outlet`` can get to ``goal`` along the lines."""
        seen, todo = set(), [b["id"] for b in self.targets(box, outlet)]
        while todo:
            current = todo.pop()
            if current == goal["id"]:
                return True
            if current not in seen:
                seen.add(current)
                todo += [b["id"] for b in self.targets(self.boxes[current])]
        return False

    def param(self, name: str) -> dict:
        found = [b for b in self.boxes.values() if b.get("varname") == name and b.get("parameter_enable")]
        assert len(found) == 1, f"no single Live parameter named {name!r}"
        return found[0]


def test_there_is_a_device_and_the_builder_knows_every_one() -> None:
    builder = load_builder()
    assert [PATCHES / d.target for d in builder.DEVICES] == DEVICES
    assert (PATCHES / "rtloop.amxd") in DEVICES


def test_committed_devices_are_exactly_what_the_builder_makes_of_their_sources() -> None:
    builder = load_builder()
    for device in builder.DEVICES:
        assert builder.build(device) == (PATCHES / device.target).read_bytes(), (
            f"{device.target} differs from {device.source}: run python max_patches/build_amxd.py"
        )
    assert builder.main(["--check"]) == 0


def test_check_reports_a_device_that_drifted_from_its_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    builder = load_builder()
    for device in builder.DEVICES:
        (tmp_path / device.source).write_bytes((PATCHES / device.source).read_bytes())
        (tmp_path / device.target).write_bytes((PATCHES / device.target).read_bytes().replace(b" 7474", b" 7400"))
    monkeypatch.setattr(builder, "HERE", tmp_path)
    assert builder.main(["--check"]) == 1
    assert builder.main([]) == 0 and builder.main(["--check"]) == 0


@pytest.mark.parametrize("path", DEVICES, ids=lambda p: p.name)
def test_device_layout_type_and_project(path: Path) -> None:
    device_type, patcher = device_patcher(path)
    assert device_type in (b"aaaa", b"mmmm", b"iiii")
    assert patcher["project"]["amxdtype"] == int.from_bytes(device_type, "big")
    if path.name == "rtloop.amxd":
        assert device_type == b"aaaa" and patcher["project"]["amxdtype"] == 1633771873
    assert patcher["openinpresentation"] == 1
    parameters = {b["box"]["id"]: b["box"] for b in patcher["boxes"] if b["box"].get("parameter_enable")}
    listed = {k: v for k, v in patcher["parameters"].items() if k.startswith("obj-")}
    assert set(listed) == set(parameters)
    for box_id, (longname, shortname, _) in listed.items():
        names = parameters[box_id]["saved_attribute_attributes"]["valueof"]
        assert (longname, shortname) == (names["parameter_longname"], names["parameter_shortname"])


def test_reader_of_the_builder_refuses_truncated_files() -> None:
    builder = load_builder()
    data = builder.encode_amxd({"patcher": {"boxes": [], "lines": []}}, b"aaaa")
    assert [tag for tag, _ in builder.read_chunks(data)] == [b"ampf", b"meta", b"ptch"]
    with pytest.raises(ValueError, match="claims"):
        builder.read_chunks(data[:-1])
    with pytest.raises(ValueError, match="device type"):
        builder.encode_amxd({"patcher": {}}, b"abcd")


@pytest.mark.parametrize("path", DEVICES, ids=lambda p: p.name)
def test_device_is_self_contained(path: Path) -> None:
    _, patcher = device_patcher(path)
    graph = Graph(patcher)
    classes = {b["text"].split()[0] for b in graph.boxes.values() if b["maxclass"] == "newobj"}
    assert classes <= BUILTIN_OBJECTS, f"abstractions or externals: {classes - BUILTIN_OBJECTS}"
    assert not [b for b in graph.boxes.values() if b["maxclass"] in ("bpatcher", "js", "jsui", "v8", "v8ui")]
    assert not patcher.get("dependency_cache"), "the device depends on files"
    assert not [s for s in strings(patcher) if ABSOLUTE_PATH.search(s)], "absolute paths or file references"


@pytest.mark.parametrize("path", DEVICES, ids=lambda p: p.name)
def test_device_routes_every_documented_address_to_a_display(path: Path) -> None:
    graph = Graph(device_patcher(path)[1])
    addressed = [b for b in graph.objects("route") if b["text"].split()[1].startswith("/")]
    assert len(addressed) == 1, "one route splits rtloop's stream"
    route = addressed[0]
    names = route["text"].split()[1:]
    assert set(names) == SENT and len(names) == len(SENT)
    for outlet, name in enumerate(names):
        assert graph.targets(route, outlet), f"nothing listens to {name}"
    assert [graph.param(a.capitalize()) for a in ASPECTS]
    for aspect in ASPECTS:
        assert graph.param(aspect.capitalize()) in graph.targets(route, names.index(f"/rtloop/variation/{aspect}"))
    shown = {b["id"]: b for b in graph.boxes.values() if b.get("presentation")}
    for name in ("/rtloop/variation", "/rtloop/aspect", "/rtloop/status", "/rtloop/flag", "/rtloop/pong"):
        reached = [b for b in shown.values() if graph.reaches(route, names.index(name), b)]
        assert reached, f"{name} reaches nothing the device shows"
    variation = names.index("/rtloop/variation")
    assert graph.reaches(route, variation, graph.param("Variation"))
    assert graph.reaches(route, variation, graph.param("Over"))
    (receive,) = graph.objects("udpreceive")
    assert receive["text"] == f"udpreceive {DEFAULT_OSC_PORT}" and route in graph.targets(receive)


@pytest.mark.parametrize("path", DEVICES, ids=lambda p: p.name)
def test_device_controls_heartbeat_and_ports(path: Path) -> None:
    graph = Graph(device_patcher(path)[1])
    for name in ("Variation", "Smoothing", "Threshold", "Over", "Bars", "Arm", "Listen Port", "Control Port"):
        assert graph.param(name)
    (send,) = graph.objects("udpsend")
    assert send["text"] == f"udpsend 127.0.0.1 {DEFAULT_CONTROL_PORT}"
    sent = {b["text"].split()[0] for b in graph.boxes.values() if b["maxclass"] == "message" and b["text"][:1] == "/"}
    assert sent <= ACCEPTED and {"/rtloop/bars", "/rtloop/arm"} <= sent
    for name in ("Bars", "Arm"):
        (message,) = graph.targets(graph.param(name))
        assert message["text"].startswith(f"/rtloop/{name.lower()} ") and send in graph.targets(message)
    (receive,) = graph.objects("udpreceive")
    for name, socket in (("Listen Port", receive), ("Control Port", send)):
        (prepend,) = graph.targets(graph.param(name))
        assert prepend["text"] == "prepend port" and graph.targets(prepend) == [socket]
    # heartbeat: every message restarts a 3 s delay whose end turns the light off
    (delay,) = graph.objects("delay")
    assert delay["text"] == "delay 3000"
    (beat,) = [b for b in graph.targets(receive) if b["text"].split()[0] == "t"]
    assert delay in graph.targets(beat)
    (off,) = graph.targets(delay)
    (led,) = graph.targets(off)
    assert off["text"] == "0" and led["maxclass"] == "led" and "presentation_rect" in led
    # Over compares the smoothed variation with Threshold
    (compare,) = graph.objects(">")
    assert graph.targets(graph.param("Threshold")) == [compare] and graph.targets(compare) == [graph.param("Over")]
    # Map drives the selected parameter through live.remote~
    (remote,) = graph.objects("live.remote~")
    assert graph.reaches(graph.param("Variation"), 0, remote)
    (observer,) = graph.objects("live.observer")
    assert observer["text"] == "live.observer selected_parameter"
    assert {"plugin~", "plugout~"} <= {b.get("text") for b in graph.boxes.values()}


@pytest.mark.parametrize("path", DEVICES, ids=lambda p: p.name)
def test_device_shows_its_controls_within_the_device_height(path: Path) -> None:
    graph = Graph(device_patcher(path)[1])
    shown = [b for b in graph.boxes.values() if b.get("presentation")]
    for box in graph.boxes.values():
        if box["maxclass"].startswith("live.") and box["maxclass"] != "newobj" and box.get("parameter_enable"):
            assert box in shown, f"{box.get('varname')} is not in the presentation"
    for box in shown:
        x, y, w, h = box["presentation_rect"]
        assert x >= 0 and y >= 0 and y + h <= DEVICE_HEIGHT, f"{box['id']} sticks out of the device"
    for i, a in enumerate(shown):
        ax, ay, aw, ah = a["presentation_rect"]
        for b in shown[i + 1 :]:
            bx, by, bw, bh = b["presentation_rect"]
            assert not (ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah), (
                f"{a['id']} overlaps {b['id']}"
            )
    parameters = [b for b in graph.boxes.values() if b.get("parameter_enable")]
    names = [b["saved_attribute_attributes"]["valueof"]["parameter_longname"] for b in parameters]
    assert len(names) == len(set(names)), "Live parameter names must be unique"

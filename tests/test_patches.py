"""Host patches: well-formed, routing exactly rtloop's addresses on its default ports; a real Pd prints
what a real rtloop sends."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import BlockingOSCUDPServer
from pythonosc.udp_client import SimpleUDPClient

from rtloop.cli import main
from rtloop.osc_spec import CONTROL, DEFAULT_CONTROL_PORT, DEFAULT_OSC_PORT, DEFAULT_PREFIX, OUTPUT
from rtloop.synth import bass_loop

PATCHES = Path(__file__).resolve().parents[1] / "max_patches"
ASPECTS = ("rhythm", "harmony", "timbre", "integrity", "sound")
# rtloop.osc_spec lists these once the per-aspect scores land; until then the union adds them
SENT = {DEFAULT_PREFIX + a.name for a in OUTPUT} | {f"{DEFAULT_PREFIX}/variation/{a}" for a in ASPECTS}
SENT |= {f"{DEFAULT_PREFIX}/aspect"}
ACCEPTED = {DEFAULT_PREFIX + a.name for a in CONTROL}


def max_patch(name: str) -> dict:
    patcher = json.loads((PATCHES / name).read_text())["patcher"]
    boxes = {b["box"]["id"]: b["box"] for b in patcher["boxes"]}
    for line in patcher["lines"]:
        (src, outlet), (dst, inlet) = line["patchline"]["source"], line["patchline"]["destination"]
        assert src in boxes and dst in boxes, line
        assert outlet < boxes[src]["numoutlets"] and inlet < boxes[dst]["numinlets"], line
    for box in boxes.values():
        assert len(box.get("outlettype", [])) in (0, box["numoutlets"]), box
    return {"boxes": boxes, "lines": patcher["lines"], "texts": [b.get("text", "") for b in boxes.values()]}


@pytest.mark.parametrize("name", ["rtloop-meter.maxpat", "rtloop-device.maxpat"])
def test_max_patch_routes_every_address_rtloop_sends_and_nothing_else(name: str) -> None:
    patch = max_patch(name)
    objects = [t for b, t in zip(patch["boxes"].values(), patch["texts"], strict=True) if b["maxclass"] == "newobj"]
    assert f"udpreceive {DEFAULT_OSC_PORT}" in objects
    routed = {arg for t in objects if t.startswith("route /") for arg in t.split()[1:]}
    assert routed == SENT
    comments = [t for b, t in zip(patch["boxes"].values(), patch["texts"], strict=True) if b["maxclass"] == "comment"]
    assert len(comments) >= 5  # each part explained


def test_max_for_live_device_has_parameters_and_sends_control() -> None:
    patch = max_patch("rtloop-device.maxpat")
    names = {b.get("varname") for b in patch["boxes"].values()}
    assert {"Variation", "Smoothing", "Threshold", "Over", "Bars", "Arm", "Listen Port", "Control Port"} <= names
    assert {a.capitalize() for a in ASPECTS} <= names
    assert f"udpsend 127.0.0.1 {DEFAULT_CONTROL_PORT}" in patch["texts"]
    sent = {
        t.split()[0]
        for b, t in zip(patch["boxes"].values(), patch["texts"], strict=True)
        if b["maxclass"] == "message" and t.startswith("/")
    }
    assert sent and sent <= ACCEPTED
    assert {"plugin~", "plugout~"} <= set(patch["texts"])


def pd_objects() -> tuple[list[list[str]], list[tuple[int, int, int, int]]]:
    objects, connects = [], []
    for record in (PATCHES / "rtloop-meter.pd").read_text().split(";\n"):
        words = record.split()
        if words[:2] == ["#X", "connect"]:
            connects.append(tuple(int(w) for w in words[2:6]))
        elif words and words[0] == "#X" and words[1] in ("obj", "msg", "floatatom", "text", "symbolatom"):
            objects.append(words[1:])
    return objects, connects  # type: ignore[return-value]


def test_pd_patch_routes_every_address_on_the_default_port() -> None:
    objects, connects = pd_objects()
    texts = [" ".join(o[3:]) if o[0] == "obj" else o[0] for o in objects]
    assert f"netreceive -u -b {DEFAULT_OSC_PORT}" in texts and "oscparse" in texts
    assert "route " + DEFAULT_PREFIX.strip("/") in texts
    names = next(t for t in texts if t.startswith("route variation")).split()[1:]
    aspects = next(t for t in texts if t.startswith("route rhythm")).split()[1:]
    routed = {f"{DEFAULT_PREFIX}/{n}" for n in names} | {f"{DEFAULT_PREFIX}/variation/{a}" for a in aspects}
    assert routed == SENT
    assert all(0 <= a < len(objects) and 0 <= b < len(objects) for a, _, b, _ in connects)


@contextlib.contextmanager
def headless_pd() -> Iterator[list[str]]:
    """Pure Data without a GUI running rtloop-meter.pd (listening on rtloop's OSC port); yields the lines
    it prints, complete once the block ends."""
    pd = subprocess.Popen(
        ["pd", "-nogui", "-stderr", "-noaudio", "-nomidi", "-open", str(PATCHES / "rtloop-meter.pd")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(pd.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    try:
        time.sleep(1.5)
        yield lines
    finally:
        pd.terminate()
        pd.wait(timeout=10)
        reader.join(timeout=5)


@pytest.mark.skipif(shutil.which("pd") is None, reason="Pure Data (puredata-core) not installed")
def test_headless_pd_separates_overall_and_aspect_variation() -> None:
    with headless_pd() as lines:
        client = SimpleUDPClient("127.0.0.1", DEFAULT_OSC_PORT)
        client.send_message(f"{DEFAULT_PREFIX}/variation", 0.25)
        for i, aspect in enumerate(ASPECTS):
            client.send_message(f"{DEFAULT_PREFIX}/variation/{aspect}", 0.125 * i)
        client.send_message(f"{DEFAULT_PREFIX}/aspect", "harmony")
        time.sleep(1.0)
    printed = [line.strip() for line in lines]
    assert [p for p in printed if p.startswith("variation:")] == ["variation: 0.25"], lines
    assert [p for p in printed if p.startswith("aspects:")] == [
        f"aspects: {a} {0.125 * i:g}" for i, a in enumerate(ASPECTS)
    ], lines
    assert "aspect: harmony" in printed, lines


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pd") is None, reason="Pure Data (puredata-core) not installed")
def test_headless_pd_prints_the_variation_values_rtloop_sends(trained_bundle: Path, tmp_path: Path) -> None:
    with headless_pd() as lines:
        rng = np.random.default_rng(8)
        take = tmp_path / "take.wav"
        sf.write(take, np.concatenate([bass_loop(120.0, 1, 48000, rng) for _ in range(4)]), 48000, subtype="FLOAT")
        sent: list[float] = []
        dispatcher = Dispatcher()
        dispatcher.map("/rtloop/variation", lambda _address, value: sent.append(value))
        witness = BlockingOSCUDPServer(("127.0.0.1", 0), dispatcher)
        threading.Thread(target=witness.serve_forever, daemon=True).start()
        argv = ["run", str(trained_bundle), "--file", str(take), "--bpm", "120", "--bars", "1", "--speed", "8"]
        argv += [
            "--control",
            "off",
            "--osc",
            f"127.0.0.1:{DEFAULT_OSC_PORT}",
            "--osc",
            f"127.0.0.1:{witness.server_address[1]}",
        ]
        assert main(argv) == 0
        time.sleep(1.0)
        witness.shutdown()
        witness.server_close()
    printed = [float(m.group(1)) for line in lines if (m := re.match(r"variation: ([0-9.e-]+)", line))]
    assert len(sent) == 4
    for value in sent:  # Pd prints six significant digits
        assert any(abs(p - value) <= 1e-5 * max(1.0, abs(value)) for p in printed), (value, lines)
    assert any(line.startswith("status: stopped") for line in lines), lines

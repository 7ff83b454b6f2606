"""Every OSC address rtloop sends or accepts, with types and ranges: the one source docs/osc.md is made from.

Regenerate the document with ``python -m rtloop.osc_spec > docs/osc.md`` (a test checks it is current).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from rtloop.aspects import ASPECTS, SOUND
from rtloop.segmenter import KEPT_BARS

DEFAULT_PREFIX = "/rtloop"
DEFAULT_OSC_HOST = "127.0.0.1"
DEFAULT_OSC_PORT = 7474
DEFAULT_CONTROL_HOST = "127.0.0.1"
DEFAULT_CONTROL_PORT = 7475


class Status(str, Enum):
    """What the daemon is doing, sent on ``/status``."""

    RUNNING = "running"
    STOPPED = "stopped"
    WAITING_FOR_CLOCK = "waiting_for_clock"
    CLOCK_LOST = "clock_lost"
    AUDIO_LOST = "audio_lost"
    DISARMED = "disarmed"
    SCORER_RESTARTING = "scorer_restarting"
    TAKES_FAILING = "takes_failing"


STATUSES = tuple(s.value for s in Status)
BARS_RANGE = (1, KEPT_BARS)  # the longest window also has to fit the audio ring at the current tempo


@dataclass(frozen=True)
class OscAddress:
    """One address below the prefix: its OSC type tag ('' for none), value range and when it is used."""

    name: str
    types: str
    values: str
    when: str
    meaning: str


OUTPUT = (
    OscAddress(
        "/variation",
        "f",
        "0.0 .. 1.0",
        "every scored loop, when the network has answered: first of its messages",
        "calibrated variation: ~0.05 typical, 0.5 at the threshold, towards 1 far beyond",
    ),
    *(
        OscAddress(
            f"/variation/{aspect}",
            "f",
            "0.0 .. 1.0",
            (
                "every scored loop, after /variation (bundles with aspects)"
                if aspect == SOUND
                else "every scored loop, once its descriptors are scored: before /variation (bundles with aspects)"
            ),
            f"calibrated variation of the loop's {aspect} alone",
        )
        for aspect in ASPECTS
    ),
    OscAddress(
        "/aspect",
        "s",
        ", ".join(ASPECTS),
        "every scored loop (bundles with aspects)",
        "the aspect that varied most in this loop",
    ),
    OscAddress(
        "/score",
        "f",
        "any real (detector units)",
        "every scored loop",
        "raw anomaly score, higher is more unusual: the detector's own (>= 0 for one detector), or the "
        "log-sum-exp of the aspects' calibrated logits, which is negative for typical loops",
    ),
    OscAddress("/flag", "i", "0 or 1", "every scored loop", "1 when the score is over the bundle's threshold"),
    OscAddress("/bar", "i", ">= 1", "every scored loop", "number of the last bar in the scored window"),
    OscAddress("/tempo", "f", "bpm", "every scored loop", "tempo of the clock at that bar"),
    OscAddress(
        "/latency",
        "f",
        "milliseconds",
        "every scored loop",
        "from the bar boundary in the audio to this loop's messages leaving",
    ),
    OscAddress(
        "/skipped",
        "i",
        ">= 0",
        "every bar that gets no score",
        "number of the bar skipped (warming up, overrun, xrun, NaN input, silent input, disarmed, scorer restarting)",
    ),
    OscAddress(
        "/status",
        "s",
        ", ".join(STATUSES),
        "on every change, and once a second (the heartbeat)",
        "what the daemon is doing; takes_failing: scoring goes on, the takes folder cannot be written",
    ),
    OscAddress("/pong", "i", "1", "in answer to /ping", "rtloop is alive"),
)

CONTROL = (
    OscAddress(
        "/bars",
        "i",
        f"{BARS_RANGE[0]} .. {BARS_RANGE[1]}",
        "any time",
        "window length in bars, from the next bar on; refused if the window would not fit the audio buffer",
    ),
    OscAddress("/arm", "i", "0 or 1", "any time", "1 scores loops, 0 pauses scoring (bars are reported as skipped)"),
    OscAddress("/ping", "", "", "any time", "answered with /pong on every destination"),
    OscAddress("/mark", "", "", "any time", "keep the last scored loop as a take and log the mark (needs --takes)"),
)

OUTPUT_TYPES = {a.name: a.types for a in OUTPUT}
CONTROL_TYPES = {a.name: a.types for a in CONTROL}


def render_markdown() -> str:
    """docs/osc.md: the OSC reference."""
    lines = [
        "# rtloop OSC reference",
        "",
        "Generated from `rtloop/osc_spec.py` (`python -m rtloop.osc_spec > docs/osc.md`). Do not edit by hand.",
        "",
        f"rtloop sends UDP OSC to every `--osc HOST:PORT` (default `{DEFAULT_OSC_HOST}:{DEFAULT_OSC_PORT}`; a host",
        "name is resolved once, at start, IPv4 first, and one that does not resolve yet is tried again every",
        "5 s, never on the send path; `[::1]:PORT` for an IPv6 address) and",
        f"listens for control messages on `{DEFAULT_CONTROL_HOST}:{DEFAULT_CONTROL_PORT}` (`--control HOST:PORT`;",
        "loopback only unless told otherwise). Every address starts with the prefix (`--prefix`, default",
        f"`{DEFAULT_PREFIX}`), carries exactly one value (32-bit float `f`, 32-bit int `i` or string `s`) and is",
        "sent as a plain message the moment it is known: no bundles, no timetags.",
        "",
        "## Sent by rtloop",
        "",
        "| address | type | values | when | meaning |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| `{DEFAULT_PREFIX}{a.name}` | `{a.types}` | {a.values} | {a.when} | {a.meaning} |" for a in OUTPUT]
    lines += [
        "",
        "## Accepted by rtloop (control)",
        "",
        "| address | type | values | when | meaning |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| `{DEFAULT_PREFIX}{a.name}` | `{a.types or '-'}` | {a.values or '-'} | {a.when} | {a.meaning} |"
        for a in CONTROL
    ]
    lines += [
        "",
        "Malformed packets, unknown addresses, wrong argument types and values out of range are logged",
        "(rate-limited) and ignored; see docs/reliability.md.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_markdown(), end="")

"""The bundle manifest's schema: one table of keys and their checks, and the checks that relate keys.

Every problem is reported as one :class:`~rtloop.errors.BundleError` that names the key (dotted, e.g.
``calibration.threshold``) and says what is wrong with its value. To support a new key, add a
:class:`Field` to :data:`FIELDS` (with ``since`` set to the first ``format_version`` that has it);
to relate two keys, add a function to :data:`RELATIONS`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rtloop.aspects import SOUND
from rtloop.errors import BundleError
from rtloop.segmenter import KEPT_BARS
from rtloop.train_config import ENCODER_PRECISIONS, FEATURES

FORMAT = "rtloop-bundle"
FORMAT_VERSION = 2
ENCODER_FILE = "encoder.onnx"
DETECTOR_FILE = "detector.onnx"
DESCRIPTOR_ASPECTS = ("rhythm", "harmony", "timbre", "integrity")  # rtloop.descriptors.ASPECTS
ASPECT_KEYS = ("file", "dim", "detector", "calibration")
CALIBRATION_METHOD = "logistic-quantile"
OVERALL_METHOD = "logsumexp-of-logits"  # rtloop.calibration.OVERALL_METHOD
MIN_SAMPLE_RATE = 8_000
MAX_SAMPLE_RATE = 384_000
MAX_BARS = KEPT_BARS  # bars_hint becomes the live window length
MIN_GRID_BPM, MAX_GRID_BPM = 20.0, 400.0  # of --bpm, and of a bundle's training grid
MAX_BEATS_PER_BAR = 32
SELFTEST_SIGNALS = 2  # rtloop.bundle.selftest_waves: 3 s and 12 s
FILE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}")
SHA256 = re.compile(r"[0-9a-f]{64}")


class Invalid(ValueError):
    """Raised by a value check with what is wrong; the caller adds which key it is."""


Check = Callable[[Any], None]


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def integer(low: int, high: int) -> Check:
    """An int (not a bool, not a float) in ``low..high``."""

    def check(value: Any) -> None:
        if not isinstance(value, int) or isinstance(value, bool):
            raise Invalid(f"is {_describe(value)}, not a whole number")
        if not low <= value <= high:
            raise Invalid(f"is {value}, outside {low}..{high}")

    return check


def number(low: float = -math.inf, high: float = math.inf, *, above: float | None = None) -> Check:
    """A finite int or float in ``low..high`` (and strictly greater than ``above`` if given)."""

    def check(value: Any) -> None:
        if not _is_number(value):
            raise Invalid(f"is {_describe(value)}, not a number")
        if not math.isfinite(value):
            raise Invalid(f"is {value}, not a finite number")
        if above is not None and not value > above:
            raise Invalid(f"is {value}, must be greater than {above}")
        if not low <= value <= high:
            raise Invalid(f"is {value}, outside {low}..{high}")

    return check


def one_of(*choices: Any) -> Check:
    """Exactly one of ``choices`` (compared by type and value, so ``true`` is not ``1``)."""

    def check(value: Any) -> None:
        if not any(type(value) is type(c) and value == c for c in choices):
            raise Invalid(f"is {_describe(value)}, not one of {', '.join(repr(c) for c in choices)}")

    return check


def boolean(value: Any) -> None:
    """``true`` or ``false``."""
    if not isinstance(value, bool):
        raise Invalid(f"is {_describe(value)}, not true or false")


def text(value: Any) -> None:
    """A non-empty string."""
    if not isinstance(value, str) or not value:
        raise Invalid(f"is {_describe(value)}, not a non-empty string")


def mapping(value: Any) -> None:
    """A JSON object."""
    if not isinstance(value, dict):
        raise Invalid(f"is {_describe(value)}, not an object")


def mapping_of(allowed: tuple[str, ...]) -> Check:
    """A JSON object whose keys are all in ``allowed`` (keys whose meaning this reader must know)."""

    def check(value: Any) -> None:
        mapping(value)
        unknown = sorted(set(value) - set(allowed))
        if unknown:
            raise Invalid(f"has {', '.join(map(repr, unknown))}, which this rtloop does not know (newer bundle?)")

    return check


def optional(inner: Check) -> Check:
    """``null`` or a value ``inner`` accepts."""

    def check(value: Any) -> None:
        if value is not None:
            inner(value)

    return check


def numbers(count: int) -> Check:
    """A list of exactly ``count`` finite numbers."""

    def check(value: Any) -> None:
        if not isinstance(value, list) or len(value) != count:
            raise Invalid(f"is {_describe(value)}, not a list of {count} numbers")
        for item in value:
            number()(item)

    return check


def file_table(value: Any) -> None:
    """``{file name: sha256}``: plain names inside the bundle, 64 lower-case hex digits each."""
    if not isinstance(value, dict) or not value:
        raise Invalid(f"is {_describe(value)}, not an object of file name -> sha256")
    for name, digest in value.items():
        if not FILE_NAME.fullmatch(name) or name in (".", ".."):
            raise Invalid(f"names {name!r}, not a plain file name inside the bundle")
        if not isinstance(digest, str) or not SHA256.fullmatch(digest):
            raise Invalid(f"gives {name} the hash {_describe(digest)}, not 64 lower-case hex digits")
    for name in (ENCODER_FILE, DETECTOR_FILE):
        if name not in value:
            raise Invalid(f"lists no {name}")


FRONTEND_KEYS = (
    "sample_rate",
    "clip_samples",
    "n_fft",
    "hop",
    "n_mels",
    "fmin",
    "fmax",
    "mel_scale",
    "amin",
    "fusion",
    "pad",
)  # rtloop.frontend.FrontEndConfig's fields (a test keeps the two in step)
CALIBRATION_KEYS = ("median", "threshold", "width", "quantile", "method")


@dataclass(frozen=True)
class Field:
    """One manifest key and the check of its value.

    Attributes:
        key: dotted path, e.g. ``"calibration.threshold"``; a parent precedes its children in FIELDS.
        check: raises :class:`Invalid` saying what is wrong with a value.
        required: a bundle without the key is refused whenever the key's parent object is present (a
            top-level key's parent, the manifest, always is); else the key may be absent.
        since: the first ``format_version`` that has this key; an older manifest that has it is refused.
    """

    key: str
    check: Check
    required: bool = True
    since: int = 1


def _calibration_fields(key: str, since: int = 1, required: bool = True) -> tuple[Field, ...]:
    """The fields of one calibration (the network detector's, an aspect's or the overall's)."""
    return (
        Field(key, mapping_of(CALIBRATION_KEYS), required, since),
        Field(f"{key}.method", one_of(CALIBRATION_METHOD), since=since),
        Field(f"{key}.median", number(), since=since),
        Field(f"{key}.threshold", number(), since=since),
        Field(f"{key}.width", number(above=0.0), since=since),
        Field(f"{key}.quantile", number(above=0.0, high=1.0), False, since),
    )


def aspect_list(value: Any) -> None:
    """A non-empty list of distinct aspect names."""
    known = (*DESCRIPTOR_ASPECTS, SOUND)
    if not isinstance(value, list) or not value or len(set(map(str, value))) != len(value):
        raise Invalid(f"is {_describe(value)}, not a non-empty list of distinct aspects")
    for item in value:
        if item not in known:
            raise Invalid(f"names {_describe(item)}, not one of {', '.join(known)}")


FIELDS: tuple[Field, ...] = (
    Field("rtloop_version", text, required=False),
    Field("files", file_table),
    Field("frontend", mapping_of(FRONTEND_KEYS)),
    Field("frontend.sample_rate", integer(MIN_SAMPLE_RATE, MAX_SAMPLE_RATE), required=False),
    Field("frontend.clip_samples", integer(1, 60 * MAX_SAMPLE_RATE), required=False),
    Field("frontend.n_fft", integer(16, 65_536), required=False),
    Field("frontend.hop", integer(1, 65_536), required=False),
    Field("frontend.n_mels", integer(1, 1024), required=False),
    Field("frontend.fmin", number(0.0), required=False),
    Field("frontend.fmax", number(above=0.0), required=False),
    Field("frontend.mel_scale", one_of("htk", "slaney"), required=False),
    Field("frontend.amin", number(above=0.0), required=False),
    Field("frontend.fusion", boolean, required=False),
    Field("frontend.pad", one_of("loop", "repeatpad"), required=False),
    Field("encoder", mapping),
    Field("encoder.pretrained", boolean),
    Field("encoder.config", mapping),
    Field("encoder.config.name", text),
    Field("encoder.config.fusion", boolean),
    Field("encoder.precision", one_of(*ENCODER_PRECISIONS), required=False),  # absent: fp32
    Field("features", one_of(*FEATURES)),
    Field("detector", mapping),
    Field("detector.name", text),
    *_calibration_fields("calibration"),
    Field("bars_hint", optional(integer(1, MAX_BARS)), required=False),
    Field("grid", mapping, required=False, since=2),
    Field("grid.bpm", optional(number(MIN_GRID_BPM, MAX_GRID_BPM)), since=2),
    Field("grid.beats_per_bar", integer(1, MAX_BEATS_PER_BAR), since=2),
    Field("selftest", mapping),
    Field("selftest.scores", numbers(SELFTEST_SIGNALS)),
    # format 2: present together or not at all (checked in _aspects_agree)
    Field("aspects", mapping_of(DESCRIPTOR_ASPECTS), required=False, since=2),
    Field("selftest.aspects", mapping_of(DESCRIPTOR_ASPECTS), required=False, since=2),
    *(
        field
        for aspect in DESCRIPTOR_ASPECTS
        for field in (
            Field(f"aspects.{aspect}", mapping_of(ASPECT_KEYS), required=False, since=2),
            Field(f"aspects.{aspect}.file", one_of(f"{aspect}.onnx"), since=2),
            Field(f"aspects.{aspect}.dim", integer(1, 4096), since=2),
            Field(f"aspects.{aspect}.detector", mapping, since=2),
            Field(f"aspects.{aspect}.detector.name", text, since=2),
            *_calibration_fields(f"aspects.{aspect}.calibration", since=2),
            Field(f"selftest.aspects.{aspect}", numbers(SELFTEST_SIGNALS), required=False, since=2),
        )
    ),
    Field("overall", mapping, required=False, since=2),
    Field("overall.method", one_of(OVERALL_METHOD), since=2),
    Field("overall.aspects", aspect_list, since=2),
    *_calibration_fields("overall.calibration", since=2),
    Field("selftest.overall", numbers(SELFTEST_SIGNALS), required=False, since=2),
    Field("descriptors", mapping, required=False, since=2),
    Field("descriptors.names", mapping, required=False, since=2),
    Field("descriptors.version", integer(1, 1_000_000), required=False, since=2),
)


def _frontend_relations(m: dict[str, Any]) -> str | None:
    fe = m["frontend"]
    rate = fe.get("sample_rate", 48000)
    fmin, fmax = fe.get("fmin", 50.0), fe.get("fmax", 14000.0)
    if not fmin < fmax <= rate / 2:
        return f"frontend: fmin {fmin} and fmax {fmax} must satisfy fmin < fmax <= sample_rate / 2 ({rate / 2})"
    if fe.get("hop", 480) > fe.get("n_fft", 1024):
        return f"frontend: hop {fe.get('hop', 480)} is longer than n_fft {fe.get('n_fft', 1024)}"
    return None


def _fusion_agrees(m: dict[str, Any]) -> str | None:
    graph, frontend = m["encoder"]["config"]["fusion"], m["frontend"].get("fusion", True)
    if graph != frontend:
        return f"encoder.config.fusion is {graph} but frontend.fusion is {frontend}"
    return None


def _aspects_agree(m: dict[str, Any]) -> str | None:
    """Format 2: each aspect's graph is listed in files, with its self-test scores; the overall names only
    aspects the bundle has."""
    aspects = m.get("aspects", {})
    for name, spec in aspects.items():
        if spec["file"] not in m["files"]:
            return f"aspects.{name}.file {spec['file']!r} is not listed in files"
        if name not in m["selftest"].get("aspects", {}):
            return f"selftest.aspects lacks {name}"
    overall = m.get("overall", {})
    if overall and "overall" not in m["selftest"]:
        return "selftest lacks overall"
    have = {*aspects, SOUND}
    missing = [a for a in m.get("overall", {}).get("aspects", []) if a not in have]
    if missing:
        return f"overall.aspects names {', '.join(missing)}, which the bundle has no graph for"
    if ("overall" in m) != bool(aspects):
        return "aspects and overall come together (format 2)"
    return None


RELATIONS: tuple[Callable[[dict[str, Any]], str | None], ...] = (_frontend_relations, _fusion_agrees, _aspects_agree)


_MISSING = object()


def _lookup(manifest: dict[str, Any], key: str) -> Any:
    node: Any = manifest
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def check_format(manifest: Any, reader_version: str) -> int:
    """Check ``format`` and ``format_version``; returns the version.

    Raises:
        BundleError: not an rtloop manifest, or a version this reader does not know.
    """
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f'not an rtloop manifest (no "format": "{FORMAT}")')
    version = manifest.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise BundleError(f"format_version is {_describe(version)}, not a whole number from 1")
    if version > FORMAT_VERSION:
        made_by = manifest.get("rtloop_version")
        made_by = made_by if isinstance(made_by, str) and len(made_by) <= 40 else "?"
        raise BundleError(
            f"bundle format {version} (made by rtloop {made_by}); "
            f"this rtloop {reader_version} reads format {FORMAT_VERSION}: upgrade rtloop"
        )
    return version


def check_manifest(manifest: Any, reader_version: str) -> None:
    """Check a parsed manifest against :data:`FIELDS` and :data:`RELATIONS`.

    Raises:
        BundleError: the first problem found, naming the key and what is wrong with it.
    """
    version = check_format(manifest, reader_version)
    for field in FIELDS:
        value = _lookup(manifest, field.key)
        if field.since > version:
            if value is not _MISSING:
                raise BundleError(f"{field.key} is a key of format {field.since}, but format_version is {version}")
            continue
        if value is _MISSING:
            parent = field.key.rpartition(".")[0]
            if field.required and (not parent or _lookup(manifest, parent) is not _MISSING):
                raise BundleError(f"manifest lacks {field.key}")
            continue
        try:
            field.check(value)
        except Invalid as exc:
            raise BundleError(f"{field.key} {exc}") from None
    for relation in RELATIONS:
        problem = relation(manifest)
        if problem:
            raise BundleError(problem)

"""The model bundle: a versioned directory with ``manifest.json`` and ONNX graphs (see docs/bundle.md)."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from rtloop import __version__
from rtloop.calibration import Calibration
from rtloop.descriptors import VERSION as DESCRIPTORS_VERSION
from rtloop.descriptors import feature_names
from rtloop.errors import BundleError
from rtloop.frontend import FrontEndConfig
from rtloop.grid import Grid, grid_for_file
from rtloop.manifest_schema import DETECTOR_FILE, ENCODER_FILE, FORMAT, FORMAT_VERSION, check_manifest
from rtloop.onnx_wire import external_tensors
from rtloop.train_config import EncoderPrecision

MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 16 << 20  # ours are ~10 kB, plus ~80 bytes per training loop (training.grids)
MAX_MANIFEST_NESTING = 32  # ours nest 4 deep
MAX_GRAPH_BYTES = 2 << 30  # protobuf's own limit for one message


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    with path.open("rb") as fh:
        return sha256_stream(fh)


def sha256_stream(fh: BinaryIO) -> str:
    """Hex sha256 of an open file's bytes from where it stands, read 1 MiB at a time (memory stays flat)."""
    digest = hashlib.sha256()
    for block in iter(lambda: fh.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()


def selftest_waves(sample_rate: int) -> list[np.ndarray]:
    """Two fixed test signals (3 s and 12 s: the repeat-padded and the fused path) for parity checks."""
    waves = []
    for seconds in (3.0, 12.0):
        t = np.arange(int(seconds * sample_rate)) / sample_rate
        beat = np.exp(-6.0 * (t % 0.5))
        tone = np.sin(2 * np.pi * 110.0 * t) + 0.5 * np.sin(2 * np.pi * 220.0 * (1 + 0.1 * (t % 2)) * t)
        waves.append((0.3 * beat * tone).astype(np.float32))
    return waves


def read_bundle_file(folder: Path, name: str, max_bytes: int) -> bytes:
    """The bytes of one file of a bundle, read through a single open file (what is checked is what is used).

    Raises:
        BundleError: missing, a symbolic link, not a regular file (a FIFO would block), larger than
            ``max_bytes``, or unreadable.
    """
    path = folder / name
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise BundleError(f"{folder}: {name} is missing") from None
        if exc.errno == errno.ELOOP:
            raise BundleError(f"{folder}: {name} is a symbolic link; a bundle holds its files themselves") from None
        raise BundleError(f"{folder}: cannot open {name}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise BundleError(f"{folder}: {name} is not a regular file")
        if info.st_size > max_bytes:
            raise BundleError(f"{folder}: {name} holds {info.st_size} bytes, more than the {max_bytes} allowed")
        try:
            data = fh.read(info.st_size + 1)
        except OSError as exc:
            raise BundleError(f"{folder}: cannot read {name}: {exc.strerror}") from None
    if len(data) != info.st_size:
        raise BundleError(f"{folder}: {name} changed size while being read")
    return data


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise BundleError(f"{MANIFEST} repeats the key {next(k for k in keys if keys.count(k) > 1)!r}")
    return dict(pairs)


def _nesting(value: Any) -> int:
    """How deeply JSON containers nest (iterative: a hostile file cannot exhaust the stack here)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def parse_manifest(data: bytes) -> dict[str, Any]:
    """Parse and check manifest bytes against the schema (rtloop/manifest_schema.py).

    Raises:
        BundleError: not UTF-8 JSON, a repeated key, nested deeper than 32, or a value the schema refuses.
    """
    try:
        manifest = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{MANIFEST} is not valid JSON: {exc}") from None
    except RecursionError:
        raise BundleError(f"{MANIFEST} nests deeper than {MAX_MANIFEST_NESTING} levels") from None
    if _nesting(manifest) > MAX_MANIFEST_NESTING:
        raise BundleError(f"{MANIFEST} nests deeper than {MAX_MANIFEST_NESTING} levels")
    try:
        check_manifest(manifest, __version__)
    except BundleError as exc:
        raise BundleError(f"{MANIFEST}: {exc}") from None
    return manifest  # type: ignore[no-any-return]


@dataclass(frozen=True)
class GridOptions:
    """How loops without a tempo of their own are gridded: a tempo, bars per loop, beats per bar."""

    bpm: float | None = None
    bars_hint: int | None = None
    beats_per_bar: int = 4

    def grid(self, path: Path, wave: np.ndarray, sample_rate: int) -> Grid:
        """The grid of a loop file with these options (see :func:`rtloop.grid.grid_for_file`)."""
        return grid_for_file(path, wave, sample_rate, self.bpm, self.bars_hint, self.beats_per_bar)


@dataclass(frozen=True)
class AspectModel:
    """One aspect's detector graph (``features [B, dim] -> score [B]``) and its calibration."""

    name: str
    file: str
    dim: int
    calibration: Calibration


@dataclass(frozen=True)
class Overall:
    """How the overall variation is made from the aspects (format 2): which aspects, and its calibration."""

    aspects: tuple[str, ...]
    calibration: Calibration


@dataclass(frozen=True)
class Bundle:
    """A loaded, schema-checked and hash-verified bundle.

    ``calibration`` and ``features`` are those of the network's detector (``detector.onnx``), the
    ``sound`` aspect; ``aspects`` holds the descriptor aspects of a format-2 bundle (empty in format 1,
    whose overall variation is the network's alone), ``overall`` how they combine.
    """

    path: Path
    manifest: dict[str, Any]
    frontend: FrontEndConfig
    calibration: Calibration
    features: str
    aspects: tuple[AspectModel, ...] = ()
    overall: Overall | None = None

    @property
    def encoder_path(self) -> Path:
        return self.path / ENCODER_FILE

    @property
    def detector_path(self) -> Path:
        return self.path / DETECTOR_FILE

    @property
    def pretrained(self) -> bool:
        return bool(self.manifest["encoder"]["pretrained"])

    @property
    def grid_options(self) -> GridOptions:
        """The grid options the bundle was trained with (``--bpm``, ``--bars-hint``, ``--beats-per-bar``): what
        scoring a file uses where its own options leave them out, so its loops are cut as the training loops were
        (a bundle without them: none, 4 beats per bar)."""
        grid = self.manifest.get("grid", {})
        return GridOptions(grid.get("bpm"), self.manifest.get("bars_hint"), grid.get("beats_per_bar", 4))

    @property
    def encoder_precision(self) -> EncoderPrecision:
        """fp32, or int8 for a dynamically quantised encoder (absent from older manifests: fp32)."""
        return EncoderPrecision(self.manifest.get("encoder", {}).get("precision", EncoderPrecision.FP32.value))

    def read_file(self, name: str) -> bytes:
        """The bytes of a file of this bundle, checked against the manifest's sha256 as they are read.

        Raises:
            BundleError: no hash in the manifest, a missing, symbolic-link or non-regular file, or a
                sha256 that differs (tampered or truncated).
        """
        expected = self.manifest.get("files", {}).get(name)
        if expected is None:
            raise BundleError(f"{self.path}: the manifest lists no sha256 for {name}")
        data = read_bundle_file(self.path, name, MAX_GRAPH_BYTES)
        if hashlib.sha256(data).hexdigest() != expected:
            raise BundleError(f"{self.path}: {name} does not match its sha256 in the manifest (tampered or truncated)")
        return data

    def read_graph(self, name: str) -> bytes:
        """The bytes of an ONNX graph, hash-checked, with every weight inside them.

        Give these bytes to onnxruntime, never the path: the bytes hashed are then the bytes loaded.

        Raises:
            BundleError: as :meth:`read_file`, or not a well-formed ONNX model, or weights kept in
                external data files (onnxruntime would read those from outside the bundle, unhashed).
        """
        data = self.read_file(name)
        try:
            external = external_tensors(data)
        except BundleError as exc:
            raise BundleError(f"{self.path}: {name} {exc}") from None
        if external:
            raise BundleError(
                f"{self.path}: {name} keeps weights outside the graph ({external[0]}), where the hashes do not "
                "reach: re-export it with every weight inside"
            )
        return data


def load_bundle(path: Path) -> Bundle:
    """Read a bundle, check its manifest against the schema and every file against its sha256.

    Raises:
        BundleError: one problem, named: a missing or non-regular file or a symbolic link, a manifest
            that is not JSON or has a malformed value (the key is named), a newer format than this
            rtloop reads, a file whose sha256 differs from the manifest's, or a graph with external data.
    """
    path = Path(path)
    manifest_path = path / MANIFEST
    if not manifest_path.exists() and not manifest_path.is_symlink():
        raise BundleError(f"{path} is not an rtloop bundle: no {MANIFEST}")
    data = read_bundle_file(path, MANIFEST, MAX_MANIFEST_BYTES)
    try:
        manifest = parse_manifest(data)
    except BundleError as exc:
        raise BundleError(f"{path}: {exc}") from None
    aspects = tuple(
        AspectModel(name, spec["file"], spec["dim"], Calibration.from_dict(spec["calibration"]))
        for name, spec in manifest.get("aspects", {}).items()
    )
    overall = None
    if "overall" in manifest:
        overall = Overall(
            tuple(manifest["overall"]["aspects"]), Calibration.from_dict(manifest["overall"]["calibration"])
        )
    bundle = Bundle(
        path,
        manifest,
        FrontEndConfig.from_dict(manifest["frontend"]),
        Calibration.from_dict(manifest["calibration"]),
        manifest["features"],
        aspects,
        overall,
    )
    _check_descriptors(bundle)
    for name in manifest["files"]:
        (bundle.read_graph if name.endswith(".onnx") else bundle.read_file)(name)
    return bundle


def _check_descriptors(bundle: Bundle) -> None:
    """Refuse aspect detectors trained on descriptors other than this rtloop's (names or values)."""
    described = bundle.manifest.get("descriptors", {})
    names = {a.name: feature_names()[a.name] for a in bundle.aspects}
    if bundle.aspects and (described.get("names") != names or described.get("version", 1) != DESCRIPTORS_VERSION):
        raise BundleError(
            f"{bundle.path}: its loop descriptors are not this rtloop's (made by rtloop "
            f"{bundle.manifest.get('rtloop_version', '?')}): train the bundle again"
        )


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """Write ``manifest.json`` with the sha256 of every ONNX file in ``path``."""
    files = {p.name: sha256_file(p) for p in sorted(path.glob("*.onnx"))}
    full = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "rtloop_version": __version__,
        **manifest,
        "files": files,
    }
    (path / MANIFEST).write_text(json.dumps(full, indent=2) + "\n", encoding="utf-8")

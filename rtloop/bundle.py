"""The model bundle: a versioned directory with ``manifest.json`` and ONNX graphs (see docs/bundle.md)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rtloop import __version__
from rtloop.calibration import Calibration
from rtloop.errors import BundleError
from rtloop.frontend import FrontEndConfig
from rtloop.train_config import FEATURES

FORMAT = "rtloop-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
ENCODER_FILE = "encoder.onnx"
DETECTOR_FILE = "detector.onnx"


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
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


@dataclass(frozen=True)
class Bundle:
    """A loaded, hash-verified bundle."""

    path: Path
    manifest: dict[str, Any]
    frontend: FrontEndConfig
    calibration: Calibration
    features: str

    @property
    def encoder_path(self) -> Path:
        return self.path / ENCODER_FILE

    @property
    def detector_path(self) -> Path:
        return self.path / DETECTOR_FILE

    @property
    def pretrained(self) -> bool:
        return bool(self.manifest["encoder"]["pretrained"])


def _require(manifest: dict[str, Any], *keys: str) -> None:
    missing = [k for k in keys if k not in manifest]
    if missing:
        raise BundleError(f"manifest lacks {', '.join(missing)}")


def load_bundle(path: Path) -> Bundle:
    """Read a bundle and check it against its manifest.

    Raises:
        BundleError: missing directory or file, unreadable manifest, a newer format than this rtloop
            reads, or a file whose sha256 differs from the manifest's (tampered or truncated).
    """
    path = Path(path)
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise BundleError(f"{path} is not an rtloop bundle: no {MANIFEST}")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{manifest_path} is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"{manifest_path} is not an rtloop manifest")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise BundleError(
            f"{path} has bundle format {version} (made by rtloop {manifest.get('rtloop_version', '?')}); "
            f"this rtloop {__version__} reads format {FORMAT_VERSION}: upgrade rtloop"
        )
    _require(manifest, "files", "frontend", "encoder", "detector", "calibration", "features")
    files = manifest["files"]
    for name in (ENCODER_FILE, DETECTOR_FILE):
        if name not in files:
            raise BundleError(f"manifest lists no {name}")
    for name, expected in files.items():
        file = path / name
        if Path(name).name != name or not file.is_file():
            raise BundleError(f"{path}: {name} is missing")
        if sha256_file(file) != expected:
            raise BundleError(f"{path}: {name} does not match its sha256 in the manifest (tampered or truncated)")
    try:
        frontend = FrontEndConfig.from_dict(manifest["frontend"])
        calibration = Calibration.from_dict(manifest["calibration"])
    except (TypeError, ValueError) as exc:
        raise BundleError(f"{manifest_path}: bad front-end or calibration: {exc}") from exc
    if manifest["features"] not in FEATURES:
        raise BundleError(f"{manifest_path}: unknown features {manifest['features']!r}")
    return Bundle(path, manifest, frontend, calibration, manifest["features"])


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

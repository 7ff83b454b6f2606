"""Bundles: hash verification, clear refusal of tampered, truncated, foreign or newer bundles."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rtloop.bundle import FORMAT_VERSION, load_bundle
from rtloop.cli import main
from rtloop.errors import BundleError


@pytest.fixture
def bundle_copy(trained_bundle: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(trained_bundle, tmp_path / "copy.rtloop"))


def _edit_manifest(path: Path, **changes: object) -> None:
    manifest = json.loads((path / "manifest.json").read_text())
    manifest.update(changes)
    (path / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.slow
def test_tampered_graph_is_refused(bundle_copy: Path) -> None:
    data = bytearray((bundle_copy / "detector.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (bundle_copy / "detector.onnx").write_bytes(bytes(data))
    with pytest.raises(BundleError, match="detector.onnx does not match its sha256"):
        load_bundle(bundle_copy)


@pytest.mark.slow
def test_truncated_graph_is_refused_by_the_cli_with_exit_2(bundle_copy: Path, capsys: pytest.CaptureFixture) -> None:
    path = bundle_copy / "encoder.onnx"
    path.write_bytes(path.read_bytes()[:1000])
    assert main(["verify", str(bundle_copy)]) == 2
    assert "encoder.onnx does not match its sha256" in capsys.readouterr().err


@pytest.mark.slow
def test_missing_file_and_missing_manifest(bundle_copy: Path, tmp_path: Path) -> None:
    (bundle_copy / "encoder.onnx").unlink()
    with pytest.raises(BundleError, match="encoder.onnx is missing"):
        load_bundle(bundle_copy)
    with pytest.raises(BundleError, match="no manifest.json"):
        load_bundle(tmp_path)


@pytest.mark.slow
def test_newer_format_asks_for_an_upgrade(bundle_copy: Path) -> None:
    _edit_manifest(bundle_copy, format_version=FORMAT_VERSION + 1, rtloop_version="9.0")
    with pytest.raises(BundleError, match="made by rtloop 9.0.*upgrade rtloop"):
        load_bundle(bundle_copy)


@pytest.mark.slow
@pytest.mark.parametrize("text", ["{not json", "[]", '{"format": "other"}'])
def test_garbage_manifest_is_refused(bundle_copy: Path, text: str) -> None:
    (bundle_copy / "manifest.json").write_text(text)
    with pytest.raises(BundleError):
        load_bundle(bundle_copy)


@pytest.mark.slow
def test_file_names_cannot_escape_the_bundle(bundle_copy: Path) -> None:
    manifest = json.loads((bundle_copy / "manifest.json").read_text())
    manifest["files"]["../escape.onnx"] = "0" * 64
    (bundle_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="files names '../escape.onnx', not a plain file name"):
        load_bundle(bundle_copy)

"""Shared fixtures: synthesised loop folders, one trained bundle per session, the laion-clap reference."""

from __future__ import annotations

import os
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rtloop.cli import main
from rtloop.synth import write_loop_set

SR = 48000


def write_bad_files(folder: Path) -> dict[str, str]:
    """One file of each kind training must skip; returns file name -> expected reason fragment."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEgarbage" + os.urandom(64))
    (folder / "empty.wav").write_bytes(b"")
    sf.write(folder / "silent.wav", np.zeros(SR, dtype=np.float32), SR)
    nan = np.full(SR, 0.1, dtype=np.float32)
    nan[100] = np.nan
    sf.write(folder / "nan.wav", nan, SR, subtype="FLOAT")
    sf.write(folder / "short.wav", 0.1 * np.ones(SR // 20, dtype=np.float32), SR)
    return {
        "corrupt.wav": "cannot read",
        "empty.wav": "cannot read",
        "silent.wav": "silent",
        "nan.wav": "NaN",
        "short.wav": "too short",
    }


@pytest.fixture
def bad_files(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A folder holding only files training must skip, and the reason expected for each."""
    return tmp_path / "bad", write_bad_files(tmp_path / "bad")


@pytest.fixture(scope="session")
def loop_sets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small synthesised sets: 12 training loops (+ bad files), held-out normal, and anomalous loops."""
    root = tmp_path_factory.mktemp("loops")
    write_loop_set(root / "train" / "bass", 12, seed=1)
    write_bad_files(root / "train" / "bad")
    write_loop_set(root / "normal", 5, seed=2)
    write_loop_set(root / "anomalous", 3, seed=3, deviation="instrument")
    write_loop_set(root / "anomalous", 3, seed=4, deviation="noise")
    return {"train": root / "train", "normal": root / "normal", "anomalous": root / "anomalous", "root": root}


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def trained_bundle(loop_sets: dict[str, Path], cache_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A residual Deep SVDD bundle on a random HTSAT-tiny with fusion, trained through the CLI."""
    out = tmp_path_factory.mktemp("bundles") / "bass.rtloop"
    argv = ["train", str(loop_sets["train"]), "-o", str(out), "--random-encoder", "--cache-dir", str(cache_dir)]
    assert main([*argv, "--bars-hint", "1"]) == 0
    return out


@pytest.fixture(scope="session")
def clap_htsat() -> types.ModuleType:
    """laion-clap's own ``htsat`` module (see export/laion_reference.py)."""
    pytest.importorskip("torchlibrosa")
    pytest.importorskip("h5py")
    from export.laion_reference import load_laion_htsat

    module = load_laion_htsat()
    if module is None:
        pytest.skip("laion-clap (the reference) is not installed: scripts/setup.sh --test installs it")
    return module

"""An int8 encoder (``rtloop train --encoder-precision int8``): recorded in the manifest, fitted on its own
features, self-tested against itself, batch-independent, and refused when its graph is swapped."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("torch")

from export.onnx_export import ParityError, cosine  # noqa: E402
from export.quantise import EMBEDDING_COSINE_MIN, check_quantised, distance_change  # noqa: E402
from rtloop.audio_io import find_audio_files, load_audio  # noqa: E402
from rtloop.bundle import load_bundle  # noqa: E402
from rtloop.cli import main  # noqa: E402
from rtloop.errors import BundleError  # noqa: E402
from rtloop.scorer import Scorer  # noqa: E402


@pytest.fixture(scope="module")
def int8_bundle(
    loop_sets: dict[str, Path], cache_dir: Path, trained_bundle: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str]:
    """An int8 bundle trained through the CLI after ``trained_bundle`` (fp32) cached its embeddings of the
    same loops in the same cache; returns it and what training printed."""
    out = tmp_path_factory.mktemp("int8") / "int8.rtloop"
    argv = ["train", str(loop_sets["train"]), "-o", str(out), "--random-encoder", "--cache-dir", str(cache_dir)]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main([*argv, "--encoder-precision", "int8", "--detector", "pca", "--bars-hint", "1"]) == 0
    return out, printed.getvalue()


@pytest.mark.slow
def test_int8_bundle_is_fitted_on_its_own_features_and_records_its_precision(int8_bundle: tuple[Path, str]) -> None:
    bundle_path, printed = int8_bundle
    assert "12 used (0 from cache)" in printed, "the fp32 encoder's cached embeddings must not stand in for int8's"
    bundle = load_bundle(bundle_path)
    m = bundle.manifest
    assert bundle.encoder_precision.value == m["encoder"]["precision"] == "int8"
    assert m["encoder"]["quantisation"]["op_types"] == ["MatMul", "Gemm"]
    assert m["encoder"]["quantisation"]["reduce_range"] is True
    cosines = m["selftest"]["embedding_cosine_fp32"]
    assert len(cosines) == 2 and min(cosines) >= EMBEDDING_COSINE_MIN and max(cosines) < 1.0
    assert EMBEDDING_COSINE_MIN <= m["parity"]["int8"]["embedding_cosine_min"] < 1.0
    assert m["parity"]["embedding_cosine_min"] >= 0.9999  # the fp32 graph it was made from matches PyTorch
    data = (bundle_path / "encoder.onnx").read_bytes()
    assert m["files"]["encoder.onnx"] == hashlib.sha256(data).hexdigest()
    ops = {node.op_type for node in onnx.load_from_string(data).graph.node}
    assert {"MatMulInteger", "DynamicQuantizeLinear"} <= ops
    assert "int8 encoder: embeddings at cosine" in printed
    assert re.search(r"distances between loops in the detector's (latent|embedding) moved by up to \d+\.\d %", printed)


@pytest.mark.slow
def test_int8_bundle_passes_its_self_test_and_verify_names_the_precision(
    int8_bundle: tuple[Path, str], capsys: pytest.CaptureFixture
) -> None:
    scorer = Scorer(load_bundle(int8_bundle[0]), providers=["CPUExecutionProvider"])
    assert scorer.selftest_difference is not None and scorer.selftest_difference <= 1e-3
    assert main(["verify", str(int8_bundle[0])]) == 0
    out = capsys.readouterr().out
    assert "OK" in out and "int8" in out and "of the int8 graph's in onnxruntime at export" in out


@pytest.mark.slow
def test_an_int8_loop_scores_the_same_alone_and_in_a_batch(
    int8_bundle: tuple[Path, str], loop_sets: dict[str, Path]
) -> None:
    scorer = Scorer(load_bundle(int8_bundle[0]), providers=["CPUExecutionProvider"])
    waves = [load_audio(p, 48000) for p in find_audio_files(loop_sets["anomalous"]).files[:3]]
    together = scorer.embed(waves)[0]
    alone = np.concatenate([scorer.embed([wave])[0] for wave in waves])
    np.testing.assert_array_equal(together, alone)


@pytest.mark.slow
def test_an_int8_manifest_whose_graph_fails_the_self_test_is_refused(
    int8_bundle: tuple[Path, str], trained_bundle: Path, tmp_path: Path
) -> None:
    swapped = tmp_path / "swapped.rtloop"
    shutil.copytree(int8_bundle[0], swapped)
    # the closest impostor: the same weights, unquantised (the fp32 bundle's graph), its hash recorded
    shutil.copyfile(trained_bundle / "encoder.onnx", swapped / "encoder.onnx")
    manifest = json.loads((swapped / "manifest.json").read_text())
    manifest["files"]["encoder.onnx"] = hashlib.sha256((swapped / "encoder.onnx").read_bytes()).hexdigest()
    (swapped / "manifest.json").write_text(json.dumps(manifest))
    bundle = load_bundle(swapped)  # the hashes agree: only running the graphs can tell
    with pytest.raises(BundleError, match="the graphs score the self-test signals"):
        Scorer(bundle, providers=["CPUExecutionProvider"])


def test_quantised_outputs_far_from_fp32_are_refused() -> None:
    rng = np.random.default_rng(0)
    latent, embedding = rng.standard_normal((3, 768)), rng.standard_normal((3, 512))
    report = check_quantised(latent, embedding, latent * 1.01, embedding)
    assert report["latent_cosine_min"] == pytest.approx(1.0) and report["embedding_cosine_mean"] == pytest.approx(1.0)
    assert report["latent_distance_change_max"] == pytest.approx(0.01)  # every distance 1 % longer
    off = embedding + 0.2 * rng.standard_normal(embedding.shape)  # cosine ~0.98
    with pytest.raises(ParityError, match="int8 encoder's outputs are too far from fp32's"):
        check_quantised(latent, embedding, latent, off)


def test_distance_change_sees_what_the_cosine_hides() -> None:
    rng = np.random.default_rng(0)
    centre = rng.standard_normal(512)
    loops = centre + 0.01 * rng.standard_normal((6, 512))  # one kind of loop: every cosine to each other ~1
    shifted = loops + 0.05 * rng.standard_normal(512)  # one shift shared by all: cosine moves, distances do not
    assert distance_change(loops, shifted).max() < 1e-9
    assert cosine(loops, shifted).min() < 0.9999
    moved = loops + 0.01 * rng.standard_normal(loops.shape)  # each loop moved as far as loops lie apart
    assert cosine(loops, moved).min() > 0.9999
    assert np.median(distance_change(loops, moved)) > 0.1

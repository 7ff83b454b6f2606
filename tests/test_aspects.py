"""Bundle format 2: per-aspect scores, the overall made from them, grids, and format-1 bundles."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from rtloop.aspects import ASPECTS
from rtloop.bundle import load_bundle, sha256_file
from rtloop.calibration import combine_logits
from rtloop.cli import main
from rtloop.errors import BundleError
from rtloop.grid import Grid, GridSource
from rtloop.scorer import Scorer
from rtloop.synth import bass_loop

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def loops() -> list[np.ndarray]:
    rng = np.random.default_rng(8)
    return [bass_loop(120.0, 1, 48000, rng) for _ in range(3)]


def test_a_format_2_bundle_scores_every_aspect_and_combines_them(trained_bundle: Path, loops) -> None:  # type: ignore[no-untyped-def]
    bundle = load_bundle(trained_bundle)
    manifest = bundle.manifest
    assert manifest["format_version"] == 2
    assert set(manifest["aspects"]) == set(ASPECTS) - {"sound"}
    assert manifest["overall"]["aspects"] == ["rhythm", "harmony", "timbre", "integrity"]  # random encoder: no sound
    assert manifest["training"]["grids"]["sources"] == {"option": 12}  # --bars-hint, no tempo in the files
    scorer = Scorer(bundle)
    clock = Grid(120.0, 4, 1, GridSource.CLOCK)
    scores = scorer.score(loops, [clock] * len(loops))
    assert list(scores.aspects) == list(ASPECTS) and scores.grids == (clock,) * len(loops)
    for values in scores.aspects.values():
        assert values.shape == (len(loops),) and np.all((values >= 0) & (values <= 1))
    calibrations = {a.name: a.calibration for a in bundle.aspects} | {"sound": bundle.calibration}
    logits = {name: calibrations[name].logit(raw) for name, raw in scores.aspect_raw.items()}
    np.testing.assert_allclose(scores.raw, combine_logits(logits, bundle.overall.aspects))  # type: ignore[union-attr]
    np.testing.assert_array_equal(scores.flagged, scores.raw > bundle.overall.calibration.threshold)  # type: ignore[union-attr]
    for i, top in enumerate(scores.top_aspects):  # the largest logit, so the largest variation, of the overall's
        assert top in bundle.overall.aspects  # type: ignore[union-attr]
        assert scores.aspects[top][i] == max(scores.aspects[a][i] for a in bundle.overall.aspects)  # type: ignore[union-attr]
    estimated = scorer.score(loops[:1]).grids[0]
    assert estimated.source is GridSource.ESTIMATED and estimated.bpm == pytest.approx(120.0, rel=0.02)


def test_score_json_carries_aspects_and_the_grid(trained_bundle: Path, loops, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    import soundfile as sf

    path = tmp_path / "take.wav"
    sf.write(path, loops[0], 48000)
    assert main(["score", str(trained_bundle), str(path), "--json", "--bpm", "120"]) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert list(row["aspects"]) == list(ASPECTS)
    assert row["top_aspect"] in ASPECTS
    assert row["grid"] == {"source": "option", "bpm": 120.0, "bars": 1}


def test_a_format_1_bundle_still_scores_with_the_overall_only(trained_bundle: Path, loops, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    old = tmp_path / "old.rtloop"
    shutil.copytree(trained_bundle, old)
    manifest = json.loads((old / "manifest.json").read_text())
    for aspect in manifest.pop("aspects"):
        (old / f"{aspect}.onnx").unlink()
    for key in ("overall", "descriptors", "grid"):
        manifest.pop(key)
    for key in ("aspects", "overall"):
        manifest["selftest"].pop(key)
    manifest["format_version"] = 1
    manifest["files"] = {name: sha256_file(old / name) for name in ("encoder.onnx", "detector.onnx")}
    (old / "manifest.json").write_text(json.dumps(manifest))
    bundle = load_bundle(old)
    assert bundle.aspects == () and bundle.overall is None
    scores = Scorer(bundle).score(loops)
    assert scores.aspects == {}
    np.testing.assert_allclose(scores.variation, bundle.calibration.variation(scores.raw))


@pytest.mark.parametrize("version", [None, 1])
def test_a_bundle_trained_on_other_descriptors_is_refused_with_what_to_do(
    trained_bundle: Path, tmp_path: Path, version: int | None
) -> None:
    """Descriptors whose values changed (same names) would make every aspect score wrong: refused."""
    old = tmp_path / "old.rtloop"
    shutil.copytree(trained_bundle, old)
    manifest = json.loads((old / "manifest.json").read_text())
    if version is None:
        del manifest["descriptors"]["version"]  # made before descriptors carried a version
    else:
        manifest["descriptors"]["version"] = version
    (old / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="its loop descriptors are not this rtloop's .*train the bundle again"):
        load_bundle(old)

"""Detectors: Ruff's collapse guards, standardisation inside the graph, outliers scoring higher,
reproducibility, and the same scores from PyTorch/numpy and from the exported ONNX graph."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from export.detectors import (  # noqa: E402
    DETECTORS,
    OPSET,
    AutoEncoder,
    DeepSVDD,
    Detector,
    IForest,
    KNNDetector,
    Mahalanobis,
    OneSided,
    center_with_eps,
    make_detector,
    standardisation_stats,
)
from export.detectors.knn import default_k  # noqa: E402
from export.detectors.svdd import MIN_IMPROVEMENT, auto_hidden, auto_weight_decay  # noqa: E402
from export.onnx_export import relative_difference  # noqa: E402


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normal points near a 4-d subspace of R^48, and outliers off it; the dimensions' scales and offsets
    differ by orders of magnitude, as raw descriptors do (a detector that ignores its standardisation fails)."""
    rng = np.random.default_rng(0)
    basis = rng.standard_normal((4, 48))
    normal = rng.standard_normal((80, 4)) @ basis + 0.05 * rng.standard_normal((80, 48))
    outliers = rng.standard_normal((10, 4)) @ basis + 4.0 * rng.standard_normal((10, 48))
    scale, offset = np.logspace(-3, 3, 48), rng.uniform(-100, 100, 48)
    normal, outliers = normal * scale + offset, outliers * scale + offset
    return normal[:60].astype(np.float32), normal[60:].astype(np.float32), outliers.astype(np.float32)


def small_svdd(residual: bool = True, seed: int = 0, n_seeds: int = 1) -> DeepSVDD:
    # a high learning rate and few epochs: these tests check mechanics, not the benchmarked settings
    return DeepSVDD(
        residual=residual,
        hidden=(32, 16, 8),
        pretrain_epochs=30,
        epochs=30,
        lr=1e-3,
        svdd_lr=1e-3,
        n_seeds=n_seeds,
        seed=seed,
    )


def fitted(name: str, data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> Detector:
    """The named detector fitted on the fixture, with fewer epochs / trees than its defaults (speed)."""
    if name.startswith("svdd"):
        det: Detector = small_svdd(residual=name == "svdd-residual")
    elif name == "iforest":
        det = IForest(n_estimators=20)
    else:
        det = make_detector(name, seed=0)
    return det.fit(data[0], data[1])


def test_make_detector_knows_every_name_and_rejects_others() -> None:
    assert set(DETECTORS) == {"svdd-residual", "svdd", "mahalanobis", "knn", "pca", "iforest"}
    assert all(make_detector(name, seed=0).seed == 0 for name in DETECTORS)  # type: ignore[attr-defined]
    assert make_detector("svdd-residual", seed=0).n_seeds == 3  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="unknown detector 'ocsvm'"):
        make_detector("ocsvm", seed=0)


def test_standardisation_guards_constant_dimensions() -> None:
    X = np.array([[1.0, 5.0, 0.0, 1000.0], [3.0, 5.0, 0.0, 1000.0 + 1e-7]])
    mean, scale = standardisation_stats(X)
    np.testing.assert_allclose(mean, [2.0, 5.0, 0.0, 1000.0])
    # a varying dimension: its std; constant or float-noise dimensions: their magnitude max(|mean|, 1)
    np.testing.assert_allclose(scale, [1.0, 5.0, 1.0, 1000.0])


def test_svdd_network_has_no_bias_no_affine_batchnorm_and_an_unbounded_activation(data) -> None:  # type: ignore[no-untyped-def]
    det = small_svdd().fit(data[0], data[1])
    modules = list(det.scorer_.modules())
    assert all(m.bias is None for m in modules if isinstance(m, torch.nn.Linear))
    norms = [m for m in modules if isinstance(m, torch.nn.BatchNorm1d)]
    assert norms and all(not m.affine for m in norms)
    assert any(isinstance(m, torch.nn.LeakyReLU) for m in modules)
    assert not any(isinstance(m, (torch.nn.ELU, torch.nn.Sigmoid, torch.nn.Tanh)) for m in modules)


def test_svdd_center_has_no_coordinate_closer_to_zero_than_eps(data) -> None:  # type: ignore[no-untyped-def]
    det = small_svdd(n_seeds=2).fit(data[0], data[1])
    for member in det.scorer_.core.members:
        assert torch.all(member.c.abs() >= det.eps)


def test_center_eps_fix_pushes_small_coordinates_and_exact_zeros_away_from_zero() -> None:
    c = center_with_eps(torch.tensor([0.0, -1e-4, 1e-4, 0.5, -0.3]), eps=0.1)
    assert c.tolist() == pytest.approx([0.1, -0.1, 0.1, 0.5, -0.3])


def test_svdd_size_follows_the_data() -> None:
    assert auto_hidden(300, 1024) == (256, 128, 64, 32)
    assert auto_hidden(30, 1024) == (64, 32)
    assert auto_hidden(30, 40) == (16, 8)
    assert auto_hidden(5000, 60) == (32, 16, 8)
    assert all(h[-1] <= h[0] <= 256 for h in (auto_hidden(n, d) for n in (4, 30, 5000) for d in (3, 40, 1024)))
    assert auto_weight_decay(30) > auto_weight_decay(300) > 0


def test_svdd_early_stopping_stops_on_patience_and_restores_the_best_validation_epoch(data) -> None:  # type: ignore[no-untyped-def]
    det = DeepSVDD(hidden=(32, 16, 8), pretrain_epochs=300, epochs=300, patience=5, lr=1e-2, svdd_lr=1e-2, seed=0)
    det.fit(data[0], data[1])
    assert det.pretrain_epochs_run_[0] < 300 and det.epochs_run_[0] < 300  # stopped by patience, not the cap
    history = det.history_[0]
    best = history[-1 - 5]  # the last improvement, then 5 epochs without one
    assert min(history[-5:]) >= best * (1 - MIN_IMPROVEMENT)
    member = det.scorer_.core.members[0]
    with torch.no_grad():  # the restored network's SVDD loss on the validation loops is the best epoch's
        restored = float((member(det.scorer_.standardise(torch.as_tensor(data[1]))) * member.scale).mean())
    assert restored == pytest.approx(best, rel=1e-5)


@pytest.mark.parametrize("name", DETECTORS)
def test_scores_are_not_constant_and_outliers_score_higher(name: str, data) -> None:  # type: ignore[no-untyped-def]
    det = fitted(name, data)
    normal_scores, outlier_scores = det.decision_function(data[1]), det.decision_function(data[2])
    assert np.ptp(normal_scores) > 0
    assert np.median(outlier_scores) > np.quantile(normal_scores, 0.9)


def test_svdd_is_reproducible_with_a_seed_and_differs_across_seeds(data) -> None:  # type: ignore[no-untyped-def]
    a = small_svdd(seed=1).fit(data[0], data[1]).decision_function(data[2])
    b = small_svdd(seed=1).fit(data[0], data[1]).decision_function(data[2])
    c = small_svdd(seed=2).fit(data[0], data[1]).decision_function(data[2])
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_svdd_ensemble_averages_members_whose_training_loops_score_one_on_average(data) -> None:  # type: ignore[no-untyped-def]
    det = small_svdd(n_seeds=3).fit(data[0], data[1])
    members = list(det.scorer_.core.members)
    assert len(members) == 3 and len(det.manifest()["centers"]) == 3
    x = torch.as_tensor(data[2])
    with torch.no_grad():
        z = det.scorer_.standardise(x)
        each = [m(z).numpy() for m in members]
        assert all(
            float(m(det.scorer_.standardise(torch.as_tensor(data[0]))).mean()) == pytest.approx(1.0, rel=1e-4)
            for m in members
        )
    np.testing.assert_allclose(det.decision_function(data[2]), np.mean(each, axis=0), rtol=1e-5)


def test_residual_autoencoder_adds_mirrored_skips() -> None:
    torch.manual_seed(0)
    x = torch.randn(5, 12)
    plain, residual = AutoEncoder(12, (8, 4), residual=False).eval(), AutoEncoder(12, (8, 4), residual=True).eval()
    residual.load_state_dict(plain.state_dict())
    with torch.no_grad():
        _, hidden = plain.encoder(x)
        z, _ = plain.encoder(x)
        expected, _ = plain.decoder(z, hidden[::-1])
        torch.testing.assert_close(residual(x), expected)
        assert not torch.allclose(plain(x), residual(x))


def test_mahalanobis_matches_numpy_on_ledoit_wolf_covariance(data) -> None:  # type: ignore[no-untyped-def]
    from sklearn.covariance import LedoitWolf

    det = Mahalanobis().fit(data[0], data[1])
    mean, scale = standardisation_stats(data[0])
    z = (data[0].astype(np.float64) - mean) / scale
    lw = LedoitWolf().fit(z)
    q = (data[2].astype(np.float64) - mean) / scale - lw.location_
    expected = np.einsum("ij,jk,ik->i", q, np.linalg.inv(lw.covariance_), q)
    np.testing.assert_allclose(det.decision_function(data[2]), expected, rtol=1e-3)


def test_mahalanobis_of_copies_of_one_loop_scores_them_zero_and_anything_else_higher() -> None:
    """Six copies of one loop: every variance 0, and the whitening was NaN (then "calibration needs at least
    one finite score")."""
    copies = np.tile(np.linspace(-1.0, 1.0, 8, dtype=np.float32), (6, 1))
    det = Mahalanobis().fit(copies, copies[:1])
    other = copies[:1] + np.float32(0.1)
    scores = det.decision_function(np.concatenate([copies[:2], other]))
    assert np.all(np.isfinite(scores)) and scores[0] == scores[1] == 0.0 and scores[2] > 1.0


def test_parity_is_relative_to_the_largest_score_not_to_one_near_zero() -> None:
    """A training loop's PCA residual is about 1e-10: float32 noise on it was taken for a 63 % disagreement."""
    assert relative_difference(np.array([1e-10, 5.0]), np.array([3e-10, 5.0])) < 1e-4
    assert relative_difference(np.array([2.0, 5.0]), np.array([2.2, 5.0])) == pytest.approx(0.1)


def test_knn_is_the_mean_distance_to_the_k_nearest_standardised_training_loops(data) -> None:  # type: ignore[no-untyped-def]
    assert [default_k(n) for n in (1, 4, 30, 250, 5000)] == [1, 2, 3, 10, 10]
    det = KNNDetector(k=3).fit(data[0], data[1])
    mean, scale = standardisation_stats(data[0])
    train, query = (data[0] - mean) / scale, (data[2] - mean) / scale
    dist = np.linalg.norm(query[:, None, :] - train[None, :, :], axis=2)
    expected = np.sort(dist, axis=1)[:, :3].mean(axis=1)
    np.testing.assert_allclose(det.decision_function(data[2]), expected, rtol=1e-3)
    # a training loop's distance to itself is exactly 0, not float32 cancellation noise
    assert KNNDetector(k=1).fit(data[0], data[1]).decision_function(data[0][:5]) == pytest.approx(0.0, abs=1e-6)


def test_knn_counts_copies_of_a_loop_once(data, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Four copies of a loop with k = 4: the copies are one neighbour, so a copy scores its distance to
    others (as the exported graph does, within float32), not a 0 that the graph's noise would miss."""
    copies = np.concatenate([data[0], np.repeat(data[0][:1], 3, axis=0)])
    det = KNNDetector(k=4).fit(copies, data[1])
    assert det.manifest()["n_reference"] == len(data[0])
    mean, scale = standardisation_stats(copies)
    distinct = (data[0] - mean) / scale
    dist = np.linalg.norm((copies[-4:] - mean) / scale - distinct[:, None, :], axis=2).T
    np.testing.assert_allclose(det.decision_function(copies[-4:]), np.sort(dist, axis=1)[:, :4].mean(axis=1), rtol=1e-4)
    det.to_onnx(tmp_path / "knn.onnx")
    session = ort.InferenceSession(str(tmp_path / "knn.onnx"), providers=["CPUExecutionProvider"])
    (got,) = session.run(["score"], {"features": copies[-4:]})
    assert np.all(got > 0.1)
    np.testing.assert_allclose(got, det.decision_function(copies[-4:]), rtol=1e-4)


@pytest.mark.parametrize("name", DETECTORS)
def test_onnx_detector_takes_raw_features_and_matches_python_at_any_batch(
    name: str,
    data,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    import onnx

    det = fitted(name, data)
    det.to_onnx(tmp_path / "d.onnx")
    model = onnx.load(str(tmp_path / "d.onnx"))
    assert next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) == OPSET
    assert [i.name for i in model.graph.input] == ["features"] and [o.name for o in model.graph.output] == ["score"]
    session = ort.InferenceSession(str(tmp_path / "d.onnx"), providers=["CPUExecutionProvider"])
    X = np.concatenate([data[0][:4], data[1], data[2]])  # training loops too: scores near 0
    for batch in (1, 3, 8, len(X)):
        (got,) = session.run(["score"], {"features": X[:batch]})
        assert got.shape == (batch,)
        np.testing.assert_allclose(got, det.decision_function(X[:batch]), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", DETECTORS)
def test_manifest_names_the_detector_and_its_standardisation(name: str, data) -> None:  # type: ignore[no-untyped-def]
    m = fitted(name, data).manifest()
    assert m["name"] == name and m["n_features"] == 48
    assert m["standardised"] is (name != "iforest")


def test_knn_graph_holds_the_training_matrix_once(data, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import onnx

    KNNDetector().fit(data[0], data[1]).to_onnx(tmp_path / "knn.onnx")
    sizes = [int(np.prod(t.dims)) for t in onnx.load(str(tmp_path / "knn.onnx")).graph.initializer]
    assert sorted(sizes)[-2:] == [60, 60 * 48]  # squared norms and the matrix; no transposed copy


def _fault_data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Twelve correlated fault features (the first six raised by a fault, the last six lowered), loops
    that are cleaner than any training loop on every one, and faulty loops: a shift of 2 stds the fault's
    way on all of them, along the direction the normal loops vary in most."""
    rng = np.random.default_rng(1)
    signs = np.array([1] * 6 + [-1] * 6)
    common = rng.standard_normal((100, 1))
    normal = common * signs + 0.5 * rng.standard_normal((100, 12))
    clean = -2.5 * signs + 0.5 * rng.standard_normal((20, 12))
    faulty = 2.5 * signs + 0.5 * rng.standard_normal((20, 12))
    return normal.astype(np.float32), clean.astype(np.float32), faulty.astype(np.float32)


def test_one_sided_scores_clean_loops_as_normal_and_faults_higher() -> None:
    """Cleaner than usual is no fault: the floored Mahalanobis ranks clean loops with the normal ones, where
    the plain one ranks them as high as faults; and without the clean side's spread it ranks faults higher."""
    normal, clean, faulty = _fault_data()
    signs = [1] * 6 + [-1] * 6
    plain = Mahalanobis().fit(normal[:80], normal[80:])
    floored = OneSided(Mahalanobis(), signs).fit(normal[:80], normal[80:])
    from sklearn.metrics import roc_auc_score

    def auc(det: Detector, odd: np.ndarray) -> float:
        """ROC-AUC of ``odd`` loops against the held-out normal ones."""
        scores = np.concatenate([det.decision_function(normal[80:]), det.decision_function(odd)])
        return float(roc_auc_score(np.r_[np.zeros(20), np.ones(len(odd))], scores))

    assert auc(plain, clean) > 0.8 and auc(floored, clean) < 0.6
    assert auc(floored, faulty) > 0.95 and auc(floored, faulty) > auc(plain, faulty) + 0.05


@pytest.mark.parametrize("name", ["mahalanobis", "iforest"])
def test_one_sided_graph_takes_raw_features_and_matches_python(name: str, tmp_path: Path) -> None:
    normal, clean, faulty = _fault_data()
    inner = IForest(n_estimators=20) if name == "iforest" else make_detector(name, seed=0)
    det = OneSided(inner, [1] * 6 + [-1] * 6).fit(normal[:80], normal[80:])
    det.to_onnx(tmp_path / "d.onnx")
    session = ort.InferenceSession(str(tmp_path / "d.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["features"]
    X = np.concatenate([normal[75:85], clean[:5], faulty[:5]])
    (got,) = session.run(["score"], {"features": X})
    np.testing.assert_allclose(got, det.decision_function(X), rtol=1e-4, atol=1e-5)
    manifest = det.manifest()
    assert manifest["name"] == name and manifest["one_sided"]["signs"] == [1] * 6 + [-1] * 6


def test_one_sided_refuses_signs_that_do_not_fit() -> None:
    with pytest.raises(ValueError, match="signs"):
        OneSided(Mahalanobis(), [1, 0, -1])
    with pytest.raises(ValueError, match="3 signs for 12 features"):
        OneSided(Mahalanobis(), [1, 1, -1]).fit(*_fault_data()[:2])

"""Detectors: Ruff's collapse guards, reproducibility, outliers scoring higher, ONNX equality."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from export.detectors import AutoEncoder, DeepSVDD, IForest, PCADetector, center_with_eps, make_detector  # noqa: E402


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normal points near a 4-d subspace of R^48, and outliers off it."""
    rng = np.random.default_rng(0)
    basis = rng.standard_normal((4, 48))
    normal = (rng.standard_normal((80, 4)) @ basis + 0.05 * rng.standard_normal((80, 48))).astype(np.float32)
    outliers = (rng.standard_normal((10, 4)) @ basis + 4.0 * rng.standard_normal((10, 48))).astype(np.float32)
    return normal[:60], normal[60:], outliers


def small_svdd(residual: bool = True, seed: int = 0) -> DeepSVDD:
    return DeepSVDD(residual=residual, hidden=(32, 16, 8), pretrain_epochs=60, epochs=60, lr=1e-3, seed=seed)


def test_svdd_network_has_no_bias_no_affine_batchnorm_and_an_unbounded_activation(data) -> None:  # type: ignore[no-untyped-def]
    det = small_svdd().fit(data[0], data[1])
    modules = list(det.scorer_.modules())
    assert all(m.bias is None for m in modules if isinstance(m, torch.nn.Linear))
    norms = [m for m in modules if isinstance(m, torch.nn.BatchNorm1d)]
    assert norms and all(not m.affine for m in norms)
    assert any(isinstance(m, torch.nn.LeakyReLU) for m in modules)
    assert not any(isinstance(m, (torch.nn.ELU, torch.nn.Sigmoid, torch.nn.Tanh)) for m in modules)


def test_svdd_center_has_no_coordinate_closer_to_zero_than_eps(data) -> None:  # type: ignore[no-untyped-def]
    det = small_svdd().fit(data[0], data[1])
    assert torch.all(det.c_.abs() >= det.eps)


def test_center_eps_fix_pushes_small_coordinates_and_exact_zeros_away_from_zero() -> None:
    c = center_with_eps(torch.tensor([0.0, -1e-4, 1e-4, 0.5, -0.3]), eps=0.1)
    assert c.tolist() == pytest.approx([0.1, -0.1, 0.1, 0.5, -0.3])


@pytest.mark.parametrize("name", ["svdd-residual", "svdd", "iforest", "pca"])
def test_scores_are_not_constant_and_outliers_score_higher(name: str, data) -> None:  # type: ignore[no-untyped-def]
    train, val, outliers = data
    det = make_detector(name, seed=0)
    if isinstance(det, DeepSVDD):
        det = small_svdd(residual=name == "svdd-residual")
    det.fit(train, val)
    normal_scores, outlier_scores = det.decision_function(val), det.decision_function(outliers)
    assert np.ptp(normal_scores) > 0
    assert np.median(outlier_scores) > np.quantile(normal_scores, 0.9)


def test_svdd_is_reproducible_with_a_seed_and_differs_across_seeds(data) -> None:  # type: ignore[no-untyped-def]
    a = small_svdd(seed=1).fit(data[0], data[1]).decision_function(data[2])
    b = small_svdd(seed=1).fit(data[0], data[1]).decision_function(data[2])
    c = small_svdd(seed=2).fit(data[0], data[1]).decision_function(data[2])
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


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


@pytest.mark.parametrize("det", [small_svdd(), PCADetector(), IForest(n_estimators=50)], ids=["svdd", "pca", "iforest"])
def test_onnx_detector_matches_python_at_any_batch(det, data, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    det.fit(data[0], data[1])
    det.to_onnx(tmp_path / "d.onnx")
    session = ort.InferenceSession(str(tmp_path / "d.onnx"), providers=["CPUExecutionProvider"])
    X = np.concatenate([data[1], data[2]])
    for batch in (1, 3, 8):
        (got,) = session.run(["score"], {"features": X[:batch]})
        np.testing.assert_allclose(got, det.decision_function(X[:batch]), rtol=1e-4, atol=1e-5)

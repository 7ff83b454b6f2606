"""Scoring with ONNX Runtime: waveforms -> embeddings -> raw scores -> calibrated variation."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

from rtloop.bundle import DETECTOR_FILE, ENCODER_FILE, Bundle, selftest_waves
from rtloop.errors import BundleError
from rtloop.frontend import batch_inputs
from rtloop.graph_contract import check_detector, check_encoder

SELFTEST_RTOL = 1e-3


def preferred_providers() -> list[str]:
    """CUDA when this onnxruntime has it, CoreML on macOS, always CPU as the fallback."""
    available = ort.get_available_providers()
    wanted = ["CUDAExecutionProvider"]
    if sys.platform == "darwin":
        wanted.append("CoreMLExecutionProvider")
    return [p for p in wanted if p in available] + ["CPUExecutionProvider"]


@dataclass(frozen=True)
class Scores:
    """Scores of a batch of loops."""

    raw: np.ndarray
    variation: np.ndarray
    flagged: np.ndarray
    embedding: np.ndarray


def _session(bundle: Bundle, name: str, options: ort.SessionOptions, providers: list[str]) -> ort.InferenceSession:
    """An onnxruntime session made from the graph's hash-checked bytes."""
    data = bundle.read_graph(name)
    try:
        return ort.InferenceSession(data, options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own unrelated exception types
        raise BundleError(f"{bundle.path}: onnxruntime cannot load {name}: {exc}") from exc


class Scorer:
    """ONNX Runtime sessions for a bundle's encoder and detector.

    Each graph is loaded from the bytes that were hash-checked (never reopened by path), then checked
    against the manifest's contract (names, types, shapes); then the self-test signals are scored
    and compared with the scores recorded at export, so a graph swapped for another one whose hash
    was rewritten in the manifest is refused before it scores anything. The self-test doubles as the
    warm-up.

    Args:
        bundle: a loaded (hash-checked) bundle.
        providers: execution providers to try in order; default :func:`preferred_providers`.
        threads: intra-op threads (0 = onnxruntime's default).
        self_test: run the self-test now (only export's own probe, which has no recorded scores yet,
            leaves it out).

    Raises:
        BundleError: a graph onnxruntime cannot load, one that does not fit the manifest, or self-test
            scores that differ from the recorded ones.
    """

    def __init__(
        self, bundle: Bundle, providers: list[str] | None = None, threads: int = 0, self_test: bool = True
    ) -> None:
        self.bundle = bundle
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3
        options.add_session_config_entry("session.load_model_format", "ONNX")
        wanted = providers or preferred_providers()
        # onnxruntime-gpu logs an error per session where the CUDA libraries are absent; that fallback
        # to CPU is expected and reported through `providers`, and real failures still raise.
        ort.set_default_logger_severity(4)
        try:
            self.encoder = _session(bundle, ENCODER_FILE, options, wanted)
            self.detector = _session(bundle, DETECTOR_FILE, options, wanted)
        finally:
            ort.set_default_logger_severity(3)
        try:
            widths = check_encoder(self.encoder, bundle.frontend)
            check_detector(self.detector, widths[bundle.features], bundle.features)
        except BundleError as exc:
            raise BundleError(f"{bundle.path}: {exc}") from None
        self._encoder_inputs = {i.name for i in self.encoder.get_inputs()}
        self.selftest_difference = self.self_test() if self_test else None

    @property
    def providers(self) -> list[str]:
        """Execution providers the encoder session actually uses (CUDA may silently fall back to CPU)."""
        return list(self.encoder.get_providers())

    def embed(self, waves: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(latent, embedding) for mono waveforms at the bundle's sample rate."""
        mel, longer = batch_inputs(waves, self.bundle.frontend)
        feeds: dict[str, np.ndarray] = {"mel": mel}
        if "longer" in self._encoder_inputs:
            feeds["longer"] = longer
        latent, embedding = self.encoder.run(["latent", "embedding"], feeds)
        return latent, embedding

    def score_features(self, features: np.ndarray) -> np.ndarray:
        """Raw detector scores (float64) for a batch of features."""
        (score,) = self.detector.run(["score"], {"features": np.ascontiguousarray(features, dtype=np.float32)})
        return score.astype(np.float64)

    def score(self, waves: list[np.ndarray]) -> Scores:
        """Score mono waveforms: raw score, variation 0..1, over-threshold flag, embedding."""
        latent, embedding = self.embed(waves)
        raw = self.score_features(latent if self.bundle.features == "latent" else embedding)
        calibration = self.bundle.calibration
        return Scores(raw, calibration.variation(raw), calibration.flagged(raw), embedding)

    def warm_up(self) -> None:
        """Run the graphs once so the first live bar does not pay for lazy initialisation (the self-test,
        when it ran at construction, already did)."""
        if self.selftest_difference is None:
            self.score(selftest_waves(self.bundle.frontend.sample_rate)[:1])

    def close(self) -> None:
        """Nothing to release: the sessions are freed with this object."""

    def self_test(self) -> float:
        """Score the fixed self-test signals and compare with the PyTorch scores the export recorded.

        Returns:
            the largest relative difference.

        Raises:
            BundleError: a difference above 1e-3, or no recorded reference.
        """
        expected = np.asarray(self.bundle.manifest.get("selftest", {}).get("scores", []), dtype=np.float64)
        waves = selftest_waves(self.bundle.frontend.sample_rate)
        if expected.shape != (len(waves),):
            raise BundleError(f"{self.bundle.path}: manifest has no self-test scores")
        got = self.score(waves).raw
        rel = float(np.max(np.abs(got - expected) / np.maximum(np.abs(expected), 1e-12)))
        if not rel <= SELFTEST_RTOL:
            raise BundleError(
                f"{self.bundle.path}: the graphs score the self-test signals {got.tolist()}, "
                f"the manifest says {expected.tolist()} (relative difference {rel:.2e})"
            )
        return rel

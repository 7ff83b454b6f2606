"""Scoring with ONNX Runtime: waveforms -> embeddings -> raw scores -> calibrated variation."""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np
import onnxruntime as ort

from rtloop.aspects import ASPECTS, SOUND
from rtloop.bundle import DETECTOR_FILE, ENCODER_FILE, Bundle, selftest_waves
from rtloop.calibration import combine_logits
from rtloop.descriptors import describe
from rtloop.errors import BundleError
from rtloop.frontend import FrontEndConfig, batch_inputs
from rtloop.graph_contract import check_detector, check_encoder
from rtloop.grid import Grid, estimate_grid, window_grid
from rtloop.scores import AspectScores, Scores
from rtloop.session_options import session_options
from rtloop.train_config import EncoderPrecision

SELFTEST_RTOL = 1e-3


def preferred_providers() -> list[str]:
    """CUDA when this onnxruntime has it, CoreML on macOS, always CPU as the fallback."""
    available = ort.get_available_providers()
    wanted = ["CUDAExecutionProvider"]
    if sys.platform == "darwin":
        wanted.append("CoreMLExecutionProvider")
    return [p for p in wanted if p in available] + ["CPUExecutionProvider"]


def run_encoder(
    session: ort.InferenceSession, waves: list[np.ndarray], frontend: FrontEndConfig, one_loop_per_run: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(latent, embedding) of mono waveforms through an encoder session.

    Args:
        session: an ``encoder.onnx`` session.
        waves: the loops, at ``frontend.sample_rate``.
        frontend: the bundle's front-end.
        one_loop_per_run: run each loop alone. An int8 encoder quantises its activations with one scale
            per tensor, i.e. per batch, so in a batch a loop's embedding would depend on its batch-mates
            (by up to 0.5 % of the latent, measured); alone, the same audio always embeds the same.
    """
    if one_loop_per_run and len(waves) > 1:
        parts = [run_encoder(session, [wave], frontend, one_loop_per_run) for wave in waves]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    mel, longer = batch_inputs(waves, frontend)
    feeds: dict[str, np.ndarray] = {"mel": mel}
    if "longer" in {i.name for i in session.get_inputs()}:
        feeds["longer"] = longer
    latent, embedding = session.run(["latent", "embedding"], feeds)
    return latent, embedding


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
        options = session_options(threads)
        wanted = providers or preferred_providers()
        # onnxruntime-gpu logs an error per session where the CUDA libraries are absent; that fallback
        # to CPU is expected and reported through `providers`, and real failures still raise.
        ort.set_default_logger_severity(4)
        try:
            self.encoder = _session(bundle, ENCODER_FILE, options, wanted)
            self.detector = _session(bundle, DETECTOR_FILE, options, wanted)
            # descriptor detectors are small: the CPU runs them faster than a transfer to a GPU would take
            self.aspect_detectors = {
                a.name: _session(bundle, a.file, options, ["CPUExecutionProvider"]) for a in bundle.aspects
            }
        finally:
            ort.set_default_logger_severity(3)
        try:
            widths = check_encoder(self.encoder, bundle.frontend)
            check_detector(self.detector, widths[bundle.features], bundle.features)
            for aspect in bundle.aspects:
                check_detector(self.aspect_detectors[aspect.name], aspect.dim, aspect.name, aspect.file)
        except BundleError as exc:
            raise BundleError(f"{bundle.path}: {exc}") from None
        self._one_loop_per_run = bundle.encoder_precision is EncoderPrecision.INT8
        self.selftest_difference = self.self_test() if self_test else None

    @property
    def providers(self) -> list[str]:
        """Execution providers the encoder session actually uses (CUDA may silently fall back to CPU)."""
        return list(self.encoder.get_providers())

    def embed(self, waves: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(latent, embedding) for mono waveforms at the bundle's sample rate (an int8 encoder's one loop
        at a time: see :func:`run_encoder`)."""
        return run_encoder(self.encoder, waves, self.bundle.frontend, self._one_loop_per_run)

    def score_features(self, features: np.ndarray, aspect: str | None = None) -> np.ndarray:
        """Raw detector scores (float64) for a batch of features: the network's detector, or the
        detector of a descriptor ``aspect``."""
        session = self.detector if aspect is None else self.aspect_detectors[aspect]
        (score,) = session.run(["score"], {"features": np.ascontiguousarray(features, dtype=np.float32)})
        return score.astype(np.float64)

    def grids_for(self, waves: list[np.ndarray], grids: list[Grid | None] | None, windows: bool) -> list[Grid]:
        """The grid of each wave: as given, else estimated from its audio (as a clock-free window with
        ``windows``, else as a loop of whole bars)."""
        rate = self.bundle.frontend.sample_rate
        estimate = window_grid if windows else estimate_grid
        given = grids if grids is not None else [None] * len(waves)
        return [grid if grid is not None else estimate(wave, rate) for wave, grid in zip(waves, given, strict=True)]

    def describe(self, waves: list[np.ndarray], grids: list[Grid]) -> dict[str, np.ndarray]:
        """Descriptor vectors of every aspect of the bundle, stacked per aspect: (batch, dim)."""
        rate = self.bundle.frontend.sample_rate
        described = [describe(wave, rate, grid) for wave, grid in zip(waves, grids, strict=True)]
        return {a.name: np.stack([d[a.name] for d in described]) for a in self.bundle.aspects}

    def score_aspects(
        self, waves: list[np.ndarray], grids: list[Grid | None] | None = None, windows: bool = False
    ) -> AspectScores | None:
        """Score the loop-descriptor aspects alone; None for a bundle without aspects (format 1).

        Args: as :meth:`score`.
        """
        if not self.bundle.aspects or self.bundle.overall is None:
            return None
        used = self.grids_for(waves, grids, windows)
        raw = {
            a.name: self.score_features(x, a.name)
            for a, x in zip(self.bundle.aspects, self.describe(waves, used).values(), strict=True)
        }
        variation = {a.name: a.calibration.variation(raw[a.name]) for a in self.bundle.aspects}
        return AspectScores(variation, raw, tuple(used))

    def score(
        self,
        waves: list[np.ndarray],
        grids: list[Grid | None] | None = None,
        windows: bool = False,
        aspects: AspectScores | None = None,
    ) -> Scores:
        """Score mono waveforms at the bundle's rate, overall and per aspect.

        Args:
            waves: the loops.
            grids: each loop's grid (the clock's live, the file's offline); None or a None entry: estimated.
            windows: loops are clock-free windows (``--window``), not whole bars, for the estimate.
            aspects: :meth:`score_aspects` of these loops if already computed (not computed again).
        """
        latent, embedding = self.embed(waves)
        sound_raw = self.score_features(latent if self.bundle.features == "latent" else embedding)
        described = aspects or self.score_aspects(waves, grids, windows)
        overall = self.bundle.overall
        if described is None or overall is None:
            calibration = self.bundle.calibration
            return Scores(sound_raw, calibration.variation(sound_raw), calibration.flagged(sound_raw), embedding)
        raw = described.raw | {SOUND: sound_raw}
        calibrations = {a.name: a.calibration for a in self.bundle.aspects} | {SOUND: self.bundle.calibration}
        logits = {name: calibrations[name].logit(values) for name, values in raw.items()}
        overall_raw = combine_logits(logits, overall.aspects)
        order = [a for a in ASPECTS if a in raw]
        counted = [a for a in order if a in overall.aspects]  # what moved the overall
        top = tuple(counted[i] for i in np.argmax(np.stack([logits[a] for a in counted]), axis=0))
        return Scores(
            overall_raw,
            overall.calibration.variation(overall_raw),
            overall.calibration.flagged(overall_raw),
            embedding,
            {name: calibrations[name].variation(raw[name]) for name in order},
            {name: raw[name] for name in order},
            described.grids,
            top,
        )

    def warm_up(self) -> None:
        """Run the graphs once so the first live bar does not pay for lazy initialisation (the self-test,
        when it ran at construction, already did)."""
        if self.selftest_difference is None:
            self.score(selftest_waves(self.bundle.frontend.sample_rate)[:1])

    def close(self) -> None:
        """Nothing to release: the sessions are freed with this object."""

    def self_test(self) -> float:
        """Score the fixed self-test signals and compare with the PyTorch scores the export recorded:
        the network's detector, and for a format-2 bundle every aspect's and the overall score.

        Returns:
            the largest relative difference.

        Raises:
            BundleError: a difference above 1e-3, or no recorded reference.
        """
        recorded = self.bundle.manifest.get("selftest", {})
        waves = selftest_waves(self.bundle.frontend.sample_rate)
        # one at a time, as live: a batch would grow onnxruntime's memory arena for good
        each = [self.score([wave]) for wave in waves]

        def joined(field: Callable[[Scores], np.ndarray]) -> np.ndarray:
            return np.concatenate([field(scores) for scores in each])

        network = joined(lambda scores: scores.aspect_raw.get(SOUND, scores.raw))
        pairs = {"the network's detector": (network, recorded.get("scores", []))}
        if self.bundle.overall is not None:
            recorded_aspects = recorded.get("aspects", {})
            pairs |= {
                f"aspect {a}": (joined(lambda scores, a=a: scores.aspect_raw[a]), recorded_aspects.get(a, []))
                for a in self.bundle.manifest["aspects"]
            }
            pairs["the overall"] = (joined(lambda scores: scores.raw), recorded.get("overall", []))
        worst = 0.0
        for what, (got, wanted) in pairs.items():
            expected = np.asarray(wanted, dtype=np.float64)
            if expected.shape != (len(waves),):
                raise BundleError(f"{self.bundle.path}: manifest has no self-test scores for {what}")
            rel = float(np.max(np.abs(got - expected) / np.maximum(np.abs(expected), 1e-12)))
            if not rel <= SELFTEST_RTOL:
                raise BundleError(
                    f"{self.bundle.path}: the graphs score the self-test signals {got.tolist()} for {what}, "
                    f"the manifest says {expected.tolist()} (relative difference {rel:.2e})"
                )
            worst = max(worst, rel)
        return worst

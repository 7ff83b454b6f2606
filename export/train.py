"""``rtloop train``: loop folder -> embeddings -> detector -> calibration -> verified ONNX bundle."""

from __future__ import annotations

import json
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime
import torch

from export.aspects import (
    check_aspect_parity,
    describe_loops,
    fit_aspects,
    grid_record,
    manifest_entries,
    overall_aspects,
    overall_calibration,
    selftest,
)
from export.clap_checkpoint import build_encoder, default_checkpoint, fingerprint
from export.detectors import Detector, make_detector
from export.download import fetch_checkpoint
from export.embed import EmbeddedSet, Embedder, torch_embed
from export.embed_workers import EmbedWorkers
from export.encoder_graph import EncoderGraph
from export.htsat import HTSATEncoder, htsat_config
from export.onnx_export import SCORE_RTOL, ParityError, check_parity, cosine, relative_difference
from export.quantise import check_quantised
from rtloop.audio_io import find_audio_files, load_audio
from rtloop.bundle import (
    DETECTOR_FILE,
    ENCODER_FILE,
    MANIFEST,
    Bundle,
    load_bundle,
    selftest_waves,
    sha256_file,
    write_manifest,
)
from rtloop.calibration import fit_calibration
from rtloop.errors import STORAGE_REFUSED, AudioError, CheckpointError, RtloopError
from rtloop.frontend import FrontEndConfig
from rtloop.scorer import Scorer
from rtloop.train_config import EncoderPrecision, TrainConfig

MIN_LOOPS = 4
PARITY_LOOPS = 3


def frontend_for(fusion: bool) -> FrontEndConfig:
    """CLAP's front-end: torchaudio HTK mel for fusion models, torchlibrosa's Slaney mel otherwise."""
    return FrontEndConfig(mel_scale="htk" if fusion else "slaney", fusion=fusion)


def _resolve_checkpoint(cfg: TrainConfig) -> Path | None:
    if cfg.random_encoder:
        print(
            "WARNING: --random-encoder: the encoder is RANDOMLY INITIALISED, not pretrained CLAP: its 'sound'\n"
            "WARNING: aspect catches gross changes only, and is left out of the overall (--overall auto).",
            file=sys.stderr,
        )
        return None
    if cfg.checkpoint is not None:
        return cfg.checkpoint
    if cfg.cache_dir is None:
        raise CheckpointError("no checkpoint given and no cache directory to download one into")
    name = default_checkpoint(cfg.amodel, cfg.fusion)
    kwargs = {"base_url": cfg.download_url} if cfg.download_url else {}
    return fetch_checkpoint(name, cfg.cache_dir, **kwargs)


def _split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    n_val = max(1, round(n * fraction))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _summary(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values, dtype=np.float64)
    return {"min": float(arr.min()), "median": float(np.median(arr)), "max": float(arr.max())}


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Train and export a bundle to ``cfg.output``; returns its manifest.

    Raises:
        AudioError: fewer than 4 usable loops.
        RtloopError: ``cfg.output`` exists and is not a bundle (only a bundle is ever replaced), or the bundle
            could not be written (a full disk, a folder not writable); nothing of it is left.
        CheckpointError: no usable checkpoint (and no ``--random-encoder``).
        ParityError: ONNX Runtime disagrees with PyTorch on the exported graphs, or an int8 encoder's
            embeddings are too far from the fp32 graph's.
    """
    if _not_a_bundle(cfg.output):  # the output is replaced at the end: never anything but a bundle
        raise RtloopError(f"{cfg.output} exists and is not a bundle: give a new path, or remove it first")
    if others := _not_the_bundles(cfg.output):
        raise RtloopError(
            f"{cfg.output} holds files that are not the bundle's ({', '.join(others[:3])}"
            f"{', ...' if len(others) > 3 else ''}), which replacing it would delete: move them, or give a new path"
        )
    try:
        cfg.output.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".rtloop-", dir=cfg.output.parent))
    except OSError as exc:
        raise _cannot_write(cfg.output, exc) from exc
    try:
        staging = work / "bundle"
        staging.mkdir()
        _build(cfg, staging, work)
        Scorer(load_bundle(staging))  # checks the graphs' contract and runs the self-test
        if _not_a_bundle(cfg.output) or _not_the_bundles(cfg.output):  # it changed while training ran
            raise RtloopError(f"{cfg.output} is no longer only a bundle: the new one is left unwritten")
        if cfg.output.exists():
            shutil.rmtree(cfg.output)
        staging.rename(cfg.output)
    except OSError as exc:
        if exc.errno not in STORAGE_REFUSED:
            raise
        raise _cannot_write(cfg.output, exc) from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return load_bundle(cfg.output).manifest


def _cannot_write(output: Path, exc: OSError) -> RtloopError:
    return RtloopError(f"cannot write the bundle {output}: {exc.strerror}")


def _not_a_bundle(path: Path) -> bool:
    """Whether ``path`` holds something that is not a bundle: a link, a file, or a folder with files but
    not a bundle's manifest and graphs."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        return True
    if not path.exists() or not any(not _clutter(entry.name) for entry in path.iterdir()):
        return False
    return not all((path / name).is_file() for name in (MANIFEST, ENCODER_FILE, DETECTOR_FILE))


DESKTOP_CLUTTER = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})  # a file browser's, not the user's


def _not_the_bundles(path: Path) -> list[str]:
    """The names in a bundle folder that its manifest does not list (loops kept there, notes), sorted."""
    if not path.is_dir():
        return []
    try:
        listed = set(json.loads((path / MANIFEST).read_text()).get("files", {}))
    except (OSError, ValueError, AttributeError):  # a manifest past reading: its graphs are the bundle's
        listed = {entry.name for entry in path.glob("*.onnx")}
    return sorted(e.name for e in path.iterdir() if e.name not in listed | {MANIFEST} and not _clutter(e.name))


def _clutter(name: str) -> bool:
    """A file a file browser leaves (``.DS_Store``, ``._*``, ``Thumbs.db``), not one of the user's."""
    return name in DESKTOP_CLUTTER or name.startswith("._")


def _build(cfg: TrainConfig, staging: Path, work: Path) -> None:
    """Embed, fit, export and check everything a bundle holds into ``staging``; ``work`` for the rest."""
    started = time.monotonic()
    scan = find_audio_files(cfg.loops)
    for left_out in scan.skipped:
        print(f"skipped {left_out.path}: {left_out.reason}")
    paths = list(scan.files)
    checkpoint = _resolve_checkpoint(cfg)
    encoder_cfg = htsat_config(cfg.amodel, cfg.fusion)
    frontend = frontend_for(cfg.fusion)
    model = build_encoder(encoder_cfg, checkpoint, cfg.seed, cfg.trust_checkpoint)
    encoder_fp = fingerprint(model)
    graph = EncoderGraph(model, frontend, EncoderPrecision(cfg.encoder_precision), work)
    with EmbedWorkers(graph, cfg.jobs) as workers:
        embedder = Embedder(workers.embed, frontend, graph.cache_key(), cfg.cache_dir, workers.batch_size)
        loops = embedder.embed_files(paths)
    print(
        f"{len(paths)} files: {len(loops.paths)} used ({loops.cached} from cache), {len(loops.skipped)} skipped"
        + (f"; {len(scan.skipped)} other paths left out" if scan.skipped else "")
        + (f"; embeddings not cached: {loops.cache_error}" if loops.cache_error else "")
    )
    if len(loops.paths) < MIN_LOOPS:
        raise AudioError(f"{cfg.loops}: {len(loops.paths)} usable loops; at least {MIN_LOOPS} are needed")

    X = loops.features(cfg.features)
    fit_idx, val_idx = _split(len(X), cfg.val_fraction, cfg.seed)
    detector = make_detector(cfg.detector, cfg.seed).fit(X[fit_idx], X[val_idx])
    val_scores = detector.decision_function(X[val_idx])
    calibration = fit_calibration(val_scores, cfg.quantile)
    described = describe_loops(loops.paths, frontend.sample_rate, cfg.bpm, cfg.bars_hint, cfg.beats_per_bar)
    fits = fit_aspects(described, val_idx, cfg.aspect_detector, cfg.seed, cfg.quantile)
    in_overall = overall_aspects(checkpoint is not None, cfg.overall)
    overall = overall_calibration(fits, calibration, val_scores, val_idx, in_overall, cfg.quantile)

    graph.install(staging)
    detector.to_onnx(staging / DETECTOR_FILE)
    for fit in fits.values():
        fit.detector.to_onnx(staging / fit.file)
    parity, selftest_record = _parity(model, detector, loops, graph, staging, frontend, cfg.features)
    parity["aspect_score_rel_max"] = check_aspect_parity(fits, described, staging)
    write_manifest(
        staging,
        {
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "frontend": frontend.to_dict(),
            "encoder": {
                "config": encoder_cfg.to_dict(),
                "pretrained": checkpoint is not None,
                "checkpoint": None
                if checkpoint is None
                else {"name": checkpoint.name, "sha256": sha256_file(checkpoint)},
                "fingerprint": encoder_fp,
                "seed": cfg.seed,
                **graph.manifest(),
            },
            "features": cfg.features,
            "detector": detector.manifest(),
            "calibration": calibration.to_dict(),
            **manifest_entries(fits, overall, in_overall, described),
            "bars_hint": cfg.bars_hint,
            "grid": {"bpm": cfg.bpm, "beats_per_bar": cfg.beats_per_bar},
            "training": {
                "n_files": len(paths),
                "n_fit": len(fit_idx),
                "n_val": len(val_idx),
                "skipped": [{"file": str(s.path), "reason": s.reason} for s in scan.skipped]
                + [{"file": str(p), "reason": r} for p, r in loops.skipped],
                "seconds": _summary(loops.durations),
                "val_scores": _summary(list(val_scores)),
                "grids": grid_record(loops.paths, described.grids),
                "train_seconds": round(time.monotonic() - started, 1),
            },
            "parity": parity,
            "selftest": {
                **selftest_record,
                **selftest(fits, calibration, selftest_record["scores"], in_overall, frontend.sample_rate),
            },
            "versions": {
                "python": platform.python_version(),
                "torch": torch.__version__,
                "onnx": onnx.__version__,
                "onnxruntime": onnxruntime.__version__,
                "numpy": np.__version__,
            },
        },
    )


def _onnx_outputs(
    folder: Path, precision: EncoderPrecision, frontend: FrontEndConfig, features: str, waves: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(latent, embedding, detector score) of waveforms, computed by rtloop's scorer from the encoder and
    detector graphs in ``folder``."""
    hashes = {name: sha256_file(folder / name) for name in (ENCODER_FILE, DETECTOR_FILE)}
    manifest = {"files": hashes, "encoder": {"precision": precision.value}}
    unused = fit_calibration(np.array([0.0, 1.0]))  # scores are compared raw
    probe = Bundle(folder, manifest, frontend, unused, features)
    scorer = Scorer(probe, providers=["CPUExecutionProvider"], self_test=False)
    latent, embedding = scorer.embed(waves)
    return latent, embedding, scorer.score_features(latent if features == "latent" else embedding)


def _parity(
    model: HTSATEncoder,
    detector: Detector,
    loops: EmbeddedSet,
    graph: EncoderGraph,
    staging: Path,
    frontend: FrontEndConfig,
    features: str,
) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """Run real loops and the self-test signals through PyTorch and ONNX Runtime; raise on disagreement.

    The fp32 graph is compared with PyTorch; an int8 graph with the fp32 graph (cosine), and the detector
    graph with the detector on the int8 graph's features.

    Returns:
        the manifest's ``parity``, and its ``selftest`` record of the network's detector: ``scores`` of the
        self-test signals (PyTorch's for fp32; for int8, those of the int8 graph run in onnxruntime as the
        scorer runs it, then the detector) and, for int8, ``embedding_cosine_fp32``, the cosine of their
        int8 embeddings to the fp32 graph's.
    """
    waves = [load_audio(p, frontend.sample_rate) for p in loops.paths[:PARITY_LOOPS]] + selftest_waves(
        frontend.sample_rate
    )
    pick = 0 if features == "latent" else 1
    torch_out = torch_embed(model, waves, frontend)
    t_scores = detector.decision_function(torch_out[pick])
    reference = graph.fp32.parent
    shutil.copyfile(staging / DETECTOR_FILE, reference / DETECTOR_FILE)
    o_latent, o_embedding, o_scores = _onnx_outputs(reference, EncoderPrecision.FP32, frontend, features, waves)
    report: dict[str, Any] = check_parity(*torch_out, t_scores, o_latent, o_embedding, o_scores)
    report["loops"] = float(len(waves))
    if graph.precision is EncoderPrecision.FP32:
        return report, {"scores": [float(s) for s in t_scores[-2:]]}
    q_latent, q_embedding, q_scores = _onnx_outputs(staging, graph.precision, frontend, features, waves)
    expected = detector.decision_function((q_latent, q_embedding)[pick])
    detector_rel = relative_difference(expected, q_scores)
    if not detector_rel <= SCORE_RTOL:
        raise ParityError(f"the detector graph scores the int8 features {detector_rel:.2e} off the detector's")
    report["int8"] = {
        **check_quantised(o_latent, o_embedding, q_latent, q_embedding),
        "score_rel_max_to_fp32": relative_difference(o_scores, q_scores),
    }
    selftest_cosine = cosine(o_embedding[-2:], q_embedding[-2:])
    return report, {"scores": [float(s) for s in expected[-2:]], "embedding_cosine_fp32": selftest_cosine.tolist()}

"""ONNX export of the encoder and the check that ONNX Runtime agrees with PyTorch."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from export.detectors import OPSET
from export.htsat import HTSATEncoder
from rtloop.errors import RtloopError

EMBED_COSINE_MIN = 0.9999
SCORE_RTOL = 1e-3


class ParityError(RtloopError, RuntimeError):
    """ONNX Runtime and PyTorch disagree on the same input: the exported graph is wrong."""


def export_encoder(model: HTSATEncoder, path: Path, channels: int, frames: int) -> None:
    """Export ``(mel, longer) -> (latent, embedding)`` with a dynamic batch axis.

    Non-fusion encoders ignore ``longer``, and the exporter drops the unused input from their graph.
    """
    mel = torch.zeros(2, channels, frames, model.cfg.mel_bins)
    longer = torch.tensor([True, False])
    batch = {0: "batch"}
    with warnings.catch_warnings():
        # the shape tests it warns about compare fixed sizes (1001 frames, 256 bins), constant by design
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        torch.onnx.export(
            model.eval(),
            (mel, longer),
            str(path),
            input_names=["mel", "longer"],
            output_names=["latent", "embedding"],
            dynamic_axes={"mel": batch, "longer": batch, "latent": batch, "embedding": batch},
            opset_version=OPSET,
            dynamo=False,
        )


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    return (a64 * b64).sum(1) / np.maximum(np.linalg.norm(a64, axis=1) * np.linalg.norm(b64, axis=1), 1e-12)


def relative_difference(expected: np.ndarray, got: np.ndarray) -> float:
    """The largest relative difference of two score vectors (against ``expected``, each floored at a millionth
    of the largest: a training loop's PCA residual of 1e-10 is float32 noise, not a score to match to 1e-3)."""
    scale = np.maximum(np.abs(expected), 1e-6 * max(1.0, float(np.max(np.abs(expected)))))
    return float(np.max(np.abs(expected - got) / scale))


def check_parity(
    torch_latent: np.ndarray,
    torch_embedding: np.ndarray,
    torch_scores: np.ndarray,
    onnx_latent: np.ndarray,
    onnx_embedding: np.ndarray,
    onnx_scores: np.ndarray,
) -> dict[str, float]:
    """Compare both runtimes on the same loops.

    Returns:
        the worst cosine of latents and embeddings, and the worst relative score difference.

    Raises:
        ParityError: a cosine below 0.9999 or a score off by more than 1e-3 relative.
    """
    report = {
        "latent_cosine_min": float(cosine(torch_latent, onnx_latent).min()),
        "embedding_cosine_min": float(cosine(torch_embedding, onnx_embedding).min()),
        "score_rel_max": relative_difference(torch_scores, onnx_scores),
    }
    ok = (
        report["latent_cosine_min"] >= EMBED_COSINE_MIN
        and report["embedding_cosine_min"] >= EMBED_COSINE_MIN
        and report["score_rel_max"] <= SCORE_RTOL
    )
    if not ok:
        raise ParityError(
            f"ONNX Runtime disagrees with PyTorch: {report} (need cosine >= {EMBED_COSINE_MIN}, "
            f"score difference <= {SCORE_RTOL})"
        )
    return report

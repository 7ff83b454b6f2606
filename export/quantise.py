"""Dynamic int8 quantisation of the encoder graph with onnxruntime, and the check of what it costs."""

from __future__ import annotations

import errno
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from onnxruntime.quantization import QuantType, quantize_dynamic

from export.onnx_export import ParityError, cosine

# Measured on HTS-AT-tiny+fusion (bench/int8.py; README, Numbers): quantising the Conv nodes as well
# (ConvInteger; 6 then, 4 now) made the graph slower on the CPU and the embeddings no closer;
# onnxruntime's pre-processing (shape inference + optimisation) changed neither.
QUANTISED_OPS = ("MatMul", "Gemm")
# 7-bit weights: x86 CPUs without VNNI multiply u8 x s8 pairs into saturating int16 sums (VPMADDUBSW),
# which with full 8-bit weights put the embeddings at cosine 0.93 to fp32's; with 7 bits no sum can
# saturate (2 * 255 * 64 < 32768), the integer products are exact on every CPU, and the cosine is 0.9996.
REDUCE_RANGE = True
EMBEDDING_COSINE_MIN = 0.99  # below this, int8 is no longer the same model: refuse it, use fp32


class _QuantiserChatter(logging.Filter):
    """Drops quantize_dynamic's progress notes (it logs them on the root logger, one per tensor) and its
    advice to pre-process the graph first (measured: that does not pay here); its other warnings pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        quantiser = "onnxruntime" in record.pathname and "quantization" in record.pathname
        advice = "pre-processing before quantization" in record.getMessage()
        return not (quantiser and (record.levelno < logging.WARNING or advice))


def quantise_encoder(fp32: Path, int8: Path) -> dict[str, Any]:
    """Write ``int8``: the graph at ``fp32`` with the weights of its MatMul and Gemm nodes in int8.

    The activations are quantised as they arrive (one scale and zero point per tensor, computed from its
    range at run time), so no calibration data is needed and the graph keeps its inputs and outputs.

    Returns:
        the manifest's ``encoder.quantisation``: how the graph was made.
    """
    chatter = _QuantiserChatter()
    root = logging.getLogger()
    root.addFilter(chatter)
    try:
        quantize_dynamic(
            fp32,
            int8,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=list(QUANTISED_OPS),
            per_channel=False,
            reduce_range=REDUCE_RANGE,
        )
    except Exception as exc:
        # The quantiser writes a copy of the graph beside it; on a full disk that copy is cut short and
        # fails to parse, which says nothing of the disk.
        if shutil.disk_usage(int8.parent).free < fp32.stat().st_size:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(int8.parent)) from exc
        raise
    finally:
        root.removeFilter(chatter)
    return {
        "method": "onnxruntime.quantization.quantize_dynamic",
        "weight_type": "QInt8",
        "activations": "QUInt8, per tensor, at run time",
        "op_types": list(QUANTISED_OPS),
        "per_channel": False,
        "reduce_range": REDUCE_RANGE,
    }


def distance_change(fp32: np.ndarray, int8: np.ndarray) -> np.ndarray:
    """How much the distance between every two loops (rows) moves from the fp32 to the int8 outputs,
    relative to the fp32 distance: what a distance-based detector sees of the quantisation. Loops of one
    kind embed close together, so a cosine near 1 to fp32 can hide a change as large as those distances;
    a shift shared by every loop changes the cosine and no distance."""
    pairs = np.triu_indices(len(fp32), 1)

    def distances(x: np.ndarray) -> np.ndarray:
        x64 = x.astype(np.float64)
        return np.linalg.norm(x64[:, None] - x64[None], axis=2)[pairs]

    before = distances(fp32)
    return np.abs(distances(int8) - before) / np.maximum(before, 1e-12)


def check_quantised(
    fp32_latent: np.ndarray, fp32_embedding: np.ndarray, int8_latent: np.ndarray, int8_embedding: np.ndarray
) -> dict[str, float]:
    """Compare the int8 graph's outputs with the fp32 graph's on the same loops.

    Returns:
        the mean and worst cosine of latents and embeddings, and the largest :func:`distance_change` of
        each (informative: no bound on it is known to hold for every checkpoint).

    Raises:
        ParityError: an embedding or latent cosine below 0.99: quantisation changed what the model says.
    """
    latent, embedding = cosine(fp32_latent, int8_latent), cosine(fp32_embedding, int8_embedding)
    report = {
        "latent_cosine_mean": float(latent.mean()),
        "latent_cosine_min": float(latent.min()),
        "embedding_cosine_mean": float(embedding.mean()),
        "embedding_cosine_min": float(embedding.min()),
        "latent_distance_change_max": float(distance_change(fp32_latent, int8_latent).max(initial=0.0)),
        "embedding_distance_change_max": float(distance_change(fp32_embedding, int8_embedding).max(initial=0.0)),
    }
    if not min(report["latent_cosine_min"], report["embedding_cosine_min"]) >= EMBEDDING_COSINE_MIN:
        raise ParityError(
            f"the int8 encoder's outputs are too far from fp32's: {report} (need cosine >= {EMBEDDING_COSINE_MIN}); "
            "train with --encoder-precision fp32"
        )
    return report

"""What ``rtloop train`` can be asked for: its options, their defaults and choices, in one place.

The command line (rtloop/cli.py) and the training pipeline (export/train.py) both read them from
here, so a default or a choice is written once; this module needs nothing heavier than the stdlib.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path

AMODELS = ("HTSAT-tiny", "HTSAT-base")


class DetectorName(str, Enum):
    """The ``--detector`` choices (export/detectors implements each)."""

    SVDD_RESIDUAL = "svdd-residual"
    SVDD = "svdd"
    MAHALANOBIS = "mahalanobis"
    KNN = "knn"
    PCA = "pca"
    IFOREST = "iforest"


class EncoderPrecision(str, Enum):
    """The ``--encoder-precision`` choices: the encoder graph as exported, or its weights quantised to int8
    with onnxruntime's dynamic quantisation (export/quantise.py; docs/bundle.md)."""

    FP32 = "fp32"
    INT8 = "int8"


DETECTORS = tuple(d.value for d in DetectorName)
ENCODER_PRECISIONS = tuple(p.value for p in EncoderPrecision)
OVERALL_CHOICES = ("auto", "with-sound", "without-sound")
FEATURES = ("latent", "embedding")


@dataclass(frozen=True)
class TrainConfig:
    """Everything ``rtloop train`` takes from its command line; the defaults here are the CLI's."""

    loops: Path
    output: Path
    amodel: str = AMODELS[0]
    fusion: bool = True
    detector: str = DETECTORS[0]  # the network's detector (the sound aspect), the paper's method
    aspect_detector: str = DetectorName.MAHALANOBIS.value  # each descriptor aspect's detector
    overall: str = OVERALL_CHOICES[0]  # whether the overall includes sound (auto: with a pretrained encoder)
    features: str = FEATURES[0]
    encoder_precision: str = EncoderPrecision.FP32.value  # int8 is smaller and faster, not free: bench/int8.py
    checkpoint: Path | None = None
    random_encoder: bool = False
    trust_checkpoint: bool = False
    seed: int = 0
    val_fraction: float = 0.2
    quantile: float = 0.95
    bars_hint: int | None = None
    bpm: float | None = None  # tempo of loops whose files say none (acid chunk, name)
    beats_per_bar: int = 4
    cache_dir: Path | None = None
    download_url: str | None = None
    jobs: int = 0  # processes that embed the loops (0: one per core)

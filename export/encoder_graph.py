"""The encoder graph a bundle ships, at its precision, and the embedding function training uses with it."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from export.htsat import HTSATEncoder
from export.onnx_export import export_encoder
from export.quantise import quantise_encoder
from rtloop.bundle import ENCODER_FILE, sha256_file
from rtloop.frontend import FrontEndConfig
from rtloop.scorer import run_encoder
from rtloop.session_options import session_options
from rtloop.train_config import EncoderPrecision


class EncoderGraph:
    """The fp32 graph exported from the model and, for int8, its quantised copy, both under ``workdir``.

    Training embeds its loops with :meth:`embed` (on every core: :class:`export.embed_workers.EmbedWorkers`):
    the shipped graph itself in onnxruntime, one loop per run, as the live scorer runs it. So the detector
    is fitted and calibrated on the very features the live scorer will compute, bit for bit (one-loop runs
    are the same at any thread count; in a batch, an fp32 loop's features would move by up to 1e-6 and an
    int8 loop's by its batch-mates' activation scales), faster than PyTorch on the CPU
    (bench/embed_speed.py times both). The fp32 graph agrees with PyTorch to a cosine of 0.9999, checked
    at export.

    Args:
        model: the eval-mode encoder.
        frontend: the front-end that feeds it.
        precision: what the bundle ships.
        workdir: an empty folder that outlives this object's use (the caller removes it).
    """

    def __init__(
        self, model: HTSATEncoder, frontend: FrontEndConfig, precision: EncoderPrecision, workdir: Path
    ) -> None:
        self.frontend = frontend
        self.precision = precision
        self.fp32 = workdir / "fp32" / ENCODER_FILE
        self.fp32.parent.mkdir()
        export_encoder(model, self.fp32, frontend.channels, frontend.chunk_frames)
        self.quantisation: dict[str, Any] | None = None
        self.shipped = self.fp32
        if precision is EncoderPrecision.INT8:
            self.shipped = workdir / "int8" / ENCODER_FILE
            self.shipped.parent.mkdir()
            self.quantisation = quantise_encoder(self.fp32, self.shipped)

    @functools.cached_property
    def _session(self) -> ort.InferenceSession:
        """This process's session of the shipped graph, made on first use: training's workers make their
        own, and with them this one is never needed."""
        return ort.InferenceSession(self.shipped.read_bytes(), session_options(), providers=["CPUExecutionProvider"])

    def cache_key(self) -> str:
        """Names the embeddings :meth:`embed` makes: the shipped graph's precision and sha256 (the export
        is deterministic: the same weights give the same graph), one loop per run."""
        return f"{self.precision.value}:{sha256_file(self.shipped)}:one loop per run"

    def embed(self, waves: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(latent, embedding) of waveforms as the shipped graph computes them, one loop per run."""
        return run_encoder(self._session, waves, self.frontend, one_loop_per_run=True)

    def install(self, folder: Path) -> None:
        """Copy the shipped graph into a bundle folder as ``encoder.onnx``."""
        shutil.copyfile(self.shipped, folder / ENCODER_FILE)

    def manifest(self) -> dict[str, Any]:
        """The manifest's ``encoder`` keys this graph decides: ``precision`` and, for int8, ``quantisation``."""
        entries: dict[str, Any] = {"precision": self.precision.value}
        if self.quantisation is not None:
            entries["quantisation"] = self.quantisation
        return entries

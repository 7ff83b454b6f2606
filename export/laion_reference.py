"""laion-clap's own HTS-AT module, the reference of the parity test and the speed benchmark.

laion-clap is installed apart from the environment (``scripts/setup.sh --test`` puts it, without its
dependencies, into ``<venv>/reference``), because its pinned requirements (numpy<2, wandb,
transformers...) are not needed for the audio branch and would make pip report conflicts. Only its
``clap_module.htsat`` is imported, without the package ``__init__`` that fetches text models.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import types
from pathlib import Path

import torch

REFERENCE_DIR = Path(sys.prefix) / "reference"


def laion_clap_root() -> Path | None:
    """The folder of the ``laion_clap`` package: the reference install, else an ordinary one, else None."""
    if (REFERENCE_DIR / "laion_clap" / "clap_module" / "htsat.py").is_file():
        return REFERENCE_DIR / "laion_clap"
    spec = importlib.util.find_spec("laion_clap")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def load_laion_htsat() -> types.ModuleType | None:
    """laion-clap's ``htsat`` module, or None where laion-clap is not installed.

    Its utils import torchvision (whose PyPI build does not import beside the CPU torch here) for one
    symbol, ``FrozenBatchNorm2d``; a stand-in module provides it where torchvision is absent.
    """
    root = laion_clap_root()
    if root is None:
        return None
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if "torchvision" not in sys.modules:
        stand_in = {name: types.ModuleType(name) for name in ("torchvision", "torchvision.ops", "torchvision.ops.misc")}
        stand_in["torchvision.ops.misc"].FrozenBatchNorm2d = torch.nn.BatchNorm2d  # type: ignore[attr-defined]
        sys.modules.update(stand_in)
    for name, path in (("laion_clap", root), ("laion_clap.clap_module", root / "clap_module")):
        if name not in sys.modules:
            package = types.ModuleType(name)
            package.__path__ = [str(path)]
            sys.modules[name] = package
    return importlib.import_module("laion_clap.clap_module.htsat")


class LaionAudioConfig:
    """The ``audio_cfg`` laion-clap's ``create_htsat_model`` reads: HTSAT-tiny on CLAP's 48 kHz front-end."""

    mel_bins, sample_rate, window_size, hop_size, fmin, fmax = 64, 48000, 1024, 480, 50, 14000
    class_num, model_name = 527, "tiny"


class LaionAudioEncoder(torch.nn.Module):
    """laion-clap's HTS-AT (fusion, ``aff_2d``) and a projection: the network that
    ``CLAP_Module.get_audio_embedding_from_data`` runs once its data preparation has made the mel.

    ``CLAP_Module`` itself cannot be built offline (it downloads RoBERTa), so the projection comes from
    the caller (our encoder's ``audio_projection``, the same two layers as laion-clap's).
    """

    def __init__(self, branch: torch.nn.Module, projection: torch.nn.Module) -> None:
        super().__init__()
        self.branch = branch
        self.projection = projection

    def forward(self, mel: torch.Tensor, longer: torch.Tensor) -> torch.Tensor:
        """Unit-norm embeddings of a batch.

        Args:
            mel: ``(batch, 4, frames, mel_bins)`` fused mel, as rtloop's ``batch_inputs`` makes it.
            longer: ``(batch,)`` bool, True for loops longer than 10 s.

        Returns:
            ``(batch, 512)`` embeddings.
        """
        latent = self.branch({"mel_fusion": mel, "longer": longer}, device=mel.device)["embedding"]
        return torch.nn.functional.normalize(self.projection(latent), dim=-1)


def laion_audio_encoder(projection: torch.nn.Module) -> LaionAudioEncoder | None:
    """laion-clap's HTSAT-tiny with fusion (random weights) and ``projection``, in eval mode.

    Args:
        projection: the audio projection to put after laion-clap's branch (768 -> 512).

    Returns:
        The encoder, or None where laion-clap is not installed.
    """
    htsat = load_laion_htsat()
    if htsat is None:
        return None
    branch = htsat.create_htsat_model(LaionAudioConfig, enable_fusion=True, fusion_type="aff_2d")
    return LaionAudioEncoder(branch, projection).eval()

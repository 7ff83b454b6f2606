"""LAION-CLAP checkpoints: read them safely, check them against the requested encoder, load the weights."""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Mapping
from pathlib import Path

import torch

from export.htsat import AMODELS, HTSATConfig, HTSATEncoder
from rtloop.errors import CheckpointError

# Published LAION-CLAP audio checkpoints (Hugging Face hub, repo lukewys/laion_clap): (amodel, fusion).
PUBLISHED: dict[str, tuple[str, bool]] = {
    "630k-best.pt": ("HTSAT-tiny", False),
    "630k-audioset-best.pt": ("HTSAT-tiny", False),
    "630k-fusion-best.pt": ("HTSAT-tiny", True),
    "630k-audioset-fusion-best.pt": ("HTSAT-tiny", True),
    "music_audioset_epoch_15_esc_90.14.pt": ("HTSAT-base", False),
    "music_speech_audioset_epoch_15_esc_89.98.pt": ("HTSAT-base", False),
}

# Parts of CLAP's audio branch we do not run: the torchlibrosa front-end (ours is rtloop.frontend)
# and the AudioSet classification head, which CLAP's embeddings never pass through.
UNUSED_PREFIXES = ("spectrogram_extractor.", "logmel_extractor.", "tscam_conv.", "head.")


def default_checkpoint(amodel: str, fusion: bool) -> str:
    """Name of the official checkpoint for an audio model and fusion setting."""
    preferred = {
        ("HTSAT-tiny", True): "630k-audioset-fusion-best.pt",
        ("HTSAT-tiny", False): "630k-audioset-best.pt",
        ("HTSAT-base", False): "music_audioset_epoch_15_esc_90.14.pt",
    }
    if (amodel, fusion) not in preferred:
        raise CheckpointError(f"LAION-CLAP publishes no {amodel} checkpoint with fusion; use --no-fusion")
    return preferred[(amodel, fusion)]


_UNREADABLE = (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError, ImportError, IndexError)


def _first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type where it has none (an empty file's EOFError)."""
    lines = str(exc).splitlines()
    return lines[0] if lines else type(exc).__name__


def read_checkpoint(path: Path, allow_pickle: bool = False) -> dict[str, torch.Tensor]:
    """Read a CLAP checkpoint file and return its flat state dict (``module.`` prefixes removed).

    Args:
        path: a ``.pt`` file as LAION-CLAP publishes it (a dict with ``state_dict``) or a bare state dict.
        allow_pickle: fall back to full unpickling when ``weights_only`` loading fails. Only for files
            you trust: unpickling runs arbitrary code.

    Raises:
        CheckpointError: missing or unreadable file, or no tensors in it.
    """
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if path.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {path} is empty (an interrupted download?)")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except _UNREADABLE as exc:
        if not allow_pickle:
            raise CheckpointError(
                f"{path} cannot be read with weights_only=True ({_first_line(exc)}); if you trust "
                "this file, pass --trust-checkpoint to unpickle it fully"
            ) from exc
        try:
            raw = torch.load(path, map_location="cpu", weights_only=False)
        except _UNREADABLE as full:  # empty, truncated, or not a PyTorch file at all
            raise CheckpointError(f"{path} is not a readable PyTorch checkpoint ({_first_line(full)})") from full
    state = raw.get("state_dict", raw) if isinstance(raw, Mapping) else None
    if not isinstance(state, Mapping) or not state:
        raise CheckpointError(f"{path} holds no state dict")
    return {k.removeprefix("module."): v for k, v in state.items() if isinstance(v, torch.Tensor)}


def audio_state(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The part of a full CLAP state dict our encoder holds, under our key names."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.startswith("audio_branch."):
            inner = key.removeprefix("audio_branch.")
            if not inner.startswith(UNUSED_PREFIXES):
                out[inner] = value
        elif key.startswith("audio_projection."):
            out[key] = value
    return out


def detect_architecture(state: Mapping[str, torch.Tensor]) -> tuple[str, bool]:
    """(amodel, fusion) of a CLAP audio state dict, from its patch width, depth and fusion layers."""
    proj = state.get("patch_embed.proj.weight")
    if proj is None:
        raise CheckpointError("not an HTS-AT CLAP checkpoint: no audio_branch.patch_embed.proj.weight")
    width = proj.shape[0]
    depth3 = len({k.split(".")[3] for k in state if k.startswith("layers.2.blocks.")})
    for name, shape in AMODELS.items():
        if shape["embed_dim"] == width and shape["depths"][2] == depth3:
            return name, any(k.startswith("patch_embed.fusion_model.") for k in state)
    raise CheckpointError(f"unknown HTS-AT shape: width {width}, {depth3} blocks in stage 3")


def load_encoder_weights(model: HTSATEncoder, state: Mapping[str, torch.Tensor]) -> None:
    """Load a full CLAP state dict into ``model``, refusing any mismatch.

    Raises:
        CheckpointError: the checkpoint is another audio model, lacks fusion layers the model needs
            (untrained fusion would be silently random), or has missing/unexpected/misshapen weights.
    """
    audio = audio_state(state)
    amodel, fusion = detect_architecture(audio)
    cfg = model.cfg
    if amodel != cfg.name:
        raise CheckpointError(f"the checkpoint is {amodel}, but --amodel {cfg.name} was asked for")
    if cfg.fusion and not fusion:
        raise CheckpointError(
            "fusion was asked for, but this checkpoint has no trained fusion layers; pass --no-fusion"
        )
    if fusion and not cfg.fusion:
        audio = {
            k: v for k, v in audio.items() if not k.startswith(("patch_embed.mel_conv2d.", "patch_embed.fusion_model."))
        }
    expected = model.state_dict()
    missing = sorted(set(expected) - set(audio))
    unexpected = sorted(set(audio) - set(expected))
    misshapen = sorted(k for k in set(expected) & set(audio) if expected[k].shape != audio[k].shape)
    if missing or unexpected or misshapen:
        raise CheckpointError(
            f"checkpoint does not fit {cfg.name}: missing {missing[:3]}, unexpected {unexpected[:3]}, "
            f"wrong shape {misshapen[:3]}"
        )
    model.load_state_dict(audio, strict=True)


def fingerprint(model: HTSATEncoder) -> str:
    """sha256 over the encoder's config and every weight: names the embeddings it produces."""
    digest = hashlib.sha256(repr(sorted(model.cfg.to_dict().items())).encode())
    for key, value in sorted(model.state_dict().items()):
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def build_encoder(cfg: HTSATConfig, checkpoint: Path | None, seed: int, allow_pickle: bool = False) -> HTSATEncoder:
    """An eval-mode encoder: weights from ``checkpoint``, or random from ``seed`` when it is None."""
    torch.manual_seed(seed)
    model = HTSATEncoder(cfg)
    if checkpoint is not None:
        load_encoder_weights(model, read_checkpoint(checkpoint, allow_pickle))
    return model.eval()

"""Our HTS-AT+FFM encoder: parity with laion-clap, batch independence, checkpoint loading."""

from __future__ import annotations

import pickle
import types
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from export.clap_checkpoint import (  # noqa: E402
    audio_state,
    detect_architecture,
    load_encoder_weights,
    read_checkpoint,
)
from export.htsat import HTSATEncoder, htsat_config, stretch_time, window_order, window_partition  # noqa: E402
from export.laion_reference import LaionAudioConfig  # noqa: E402
from rtloop.errors import CheckpointError  # noqa: E402
from rtloop.frontend import FrontEndConfig, log_mel  # noqa: E402


def clap_state_dict(htsat: types.ModuleType, fusion: bool, seed: int = 0) -> dict[str, torch.Tensor]:
    """A full CLAP-format state dict (audio branch + projection) with random weights and BN statistics."""
    torch.manual_seed(seed)
    branch = htsat.create_htsat_model(LaionAudioConfig, enable_fusion=fusion, fusion_type="aff_2d")
    projection = torch.nn.Sequential(torch.nn.Linear(768, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512))
    state = {f"audio_branch.{k}": v for k, v in branch.state_dict().items()}
    state |= {f"audio_projection.{k}": v for k, v in projection.state_dict().items()}
    gen = torch.Generator().manual_seed(seed + 1)
    for key, value in state.items():  # untrained BN statistics are 0/1: make them matter
        if key.endswith("running_mean"):
            value.copy_(0.1 * torch.randn(value.shape, generator=gen))
        elif key.endswith("running_var"):
            value.copy_(0.5 + torch.rand(value.shape, generator=gen))
    return state


def reference_embeddings(htsat: types.ModuleType, state: dict, fusion: bool, batch: dict) -> torch.Tensor:
    branch = htsat.create_htsat_model(LaionAudioConfig, enable_fusion=fusion, fusion_type="aff_2d").eval()
    branch.load_state_dict(
        {k.removeprefix("audio_branch."): v for k, v in state.items() if k.startswith("audio_branch.")}
    )
    projection = torch.nn.Sequential(torch.nn.Linear(768, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512)).eval()
    projection.load_state_dict({k.removeprefix("audio_projection."): v for k, v in state.items() if "projection" in k})
    with torch.no_grad():
        latent = branch(batch, device="cpu")["embedding"]
        return torch.nn.functional.normalize(projection(latent), dim=-1)


@pytest.mark.reference
def test_fusion_encoder_matches_laion_clap(clap_htsat: types.ModuleType) -> None:
    state = clap_state_dict(clap_htsat, fusion=True)
    ours = HTSATEncoder(htsat_config("HTSAT-tiny", fusion=True)).eval()
    load_encoder_weights(ours, state)
    mel = 10 * torch.randn(3, 4, 1001, 64) - 40
    longer = torch.tensor([True, False, True])
    expected = reference_embeddings(clap_htsat, state, True, {"mel_fusion": mel, "longer": longer.clone()})
    with torch.no_grad():
        _, got = ours(mel, longer)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


@pytest.mark.reference
def test_non_fusion_encoder_with_our_front_end_matches_laion_clap(clap_htsat: types.ModuleType) -> None:
    state = clap_state_dict(clap_htsat, fusion=False)
    ours = HTSATEncoder(htsat_config("HTSAT-tiny", fusion=False)).eval()
    load_encoder_weights(ours, state)
    wave = 0.1 * torch.randn(2, 480000, generator=torch.Generator().manual_seed(5))
    expected = reference_embeddings(clap_htsat, state, False, {"waveform": wave})
    cfg = FrontEndConfig(mel_scale="slaney", fusion=False)
    mel = torch.from_numpy(np.stack([log_mel(w.numpy(), cfg) for w in wave]))[:, None]
    with torch.no_grad():
        _, got = ours(mel, torch.zeros(2, dtype=torch.bool))
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


@pytest.mark.reference
def test_clap_checkpoint_keys_fit_ours_except_the_unused_front_end_and_head(clap_htsat: types.ModuleType) -> None:
    state = clap_state_dict(clap_htsat, fusion=True)
    ours = HTSATEncoder(htsat_config("HTSAT-tiny", fusion=True))
    branch = {k.removeprefix("audio_branch."): v for k, v in state.items() if k.startswith("audio_branch.")}
    result = ours.load_state_dict(branch, strict=False)
    assert all(k.startswith("audio_projection.") for k in result.missing_keys)
    leftover = {k.split(".")[0] for k in result.unexpected_keys}
    assert leftover == {"spectrogram_extractor", "logmel_extractor", "tscam_conv", "head"}


@pytest.mark.parametrize("n_in", [1001, 700, 1023])
def test_time_stretch_is_torchs_bicubic_interpolation(n_in: int) -> None:
    """The gathers that replace ``F.interpolate`` (ONNX Runtime's cubic Resize is slow) give its values."""
    mel = torch.from_numpy(np.random.default_rng(n_in).uniform(-100.0, 20.0, (2, 4, n_in, 64)).astype(np.float32))
    expected = torch.nn.functional.interpolate(mel, (1024, 64), mode="bicubic", align_corners=True)
    np.testing.assert_allclose(stretch_time(mel, 1024).numpy(), expected.numpy(), atol=2e-4)


@pytest.mark.parametrize(("resolution", "window", "shift"), [(64, 8, 4), (16, 8, 0), (8, 8, 0)])
def test_window_order_gathers_what_roll_and_partition_give(resolution: int, window: int, shift: int) -> None:
    h = torch.randn(2, resolution, resolution, 5)
    rolled = torch.roll(h, shifts=(-shift, -shift), dims=(1, 2)) if shift else h
    expected = window_partition(rolled, window, resolution, resolution, 5)
    order = window_order(resolution, window, shift)
    if resolution == window:
        assert order is None  # one window, no shift: the map's own order, no gather
        return
    assert order is not None
    gathered = h.reshape(2, -1, 5).index_select(1, order).reshape(-1, window * window, 5)
    assert torch.equal(gathered, expected)
    back = gathered.reshape(2, -1, 5).index_select(1, torch.argsort(order))
    assert torch.equal(back, h.reshape(2, -1, 5))


def test_embedding_does_not_depend_on_the_rest_of_the_batch() -> None:
    torch.manual_seed(0)
    model = HTSATEncoder(htsat_config("HTSAT-tiny", fusion=True)).eval()
    mel = torch.randn(3, 4, 1001, 64)
    longer = torch.tensor([False, True, False])
    with torch.no_grad():
        _, together = model(mel, longer)
        alone = torch.cat([model(mel[i : i + 1], longer[i : i + 1])[1] for i in range(3)])
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=0)
    assert not torch.allclose(together[0], together[1])


@pytest.mark.parametrize("longer", [[False], [True], [False, False, False], [True, False, True]])
def test_exported_graph_runs_batches_with_and_without_longer_loops(tmp_path: Path, longer: list[bool]) -> None:
    """Only the longer loops compute the fusion branch, so a batch without one hands it an empty batch:
    the graph must run that in ONNX Runtime (whose reshapes refuse an empty batch) and agree with PyTorch."""
    import onnxruntime as ort

    from export.onnx_export import export_encoder
    from rtloop.session_options import session_options

    torch.manual_seed(0)
    model = HTSATEncoder(htsat_config("HTSAT-tiny", fusion=True)).eval()
    export_encoder(model, tmp_path / "encoder.onnx", 4, 1001)
    path = str(tmp_path / "encoder.onnx")
    session = ort.InferenceSession(path, session_options(), providers=["CPUExecutionProvider"])
    mel = torch.randn(len(longer), 4, 1001, 64)
    flags = torch.tensor(longer)
    with torch.no_grad():
        _, expected = model(mel, flags)
    (got,) = session.run(["embedding"], {"mel": mel.numpy(), "longer": flags.numpy()})
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-5)


def _tiny_state(fusion: bool) -> dict[str, torch.Tensor]:
    model = HTSATEncoder(htsat_config("HTSAT-tiny", fusion=fusion))
    state = {f"audio_branch.{k}": v for k, v in model.state_dict().items() if not k.startswith("audio_projection.")}
    return state | {k: v for k, v in model.state_dict().items() if k.startswith("audio_projection.")}


def test_architecture_is_read_from_the_weights() -> None:
    assert detect_architecture(audio_state(_tiny_state(True))) == ("HTSAT-tiny", True)
    assert detect_architecture(audio_state(_tiny_state(False))) == ("HTSAT-tiny", False)


def test_fusion_with_a_non_fusion_checkpoint_is_refused() -> None:
    model = HTSATEncoder(htsat_config("HTSAT-tiny", fusion=True))
    with pytest.raises(CheckpointError, match="no trained fusion layers"):
        load_encoder_weights(model, _tiny_state(fusion=False))


def test_wrong_amodel_is_refused() -> None:
    model = HTSATEncoder(htsat_config("HTSAT-base", fusion=False))
    with pytest.raises(CheckpointError, match="the checkpoint is HTSAT-tiny"):
        load_encoder_weights(model, _tiny_state(fusion=False))


def test_checkpoint_in_clap_format_is_read_with_module_prefix_removed(tmp_path: Path) -> None:
    path = tmp_path / "clap.pt"
    torch.save({"epoch": 3, "state_dict": {f"module.{k}": v for k, v in _tiny_state(True).items()}}, path)
    state = read_checkpoint(path)
    model = HTSATEncoder(htsat_config("HTSAT-tiny", fusion=True))
    load_encoder_weights(model, state)
    assert torch.equal(model.bn0.running_var, state["audio_branch.bn0.running_var"])


class _Payload:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (print, ("unpickled!",))


def test_checkpoint_needing_full_unpickling_is_refused_without_trust(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    with path.open("wb") as fh:
        pickle.dump({"state_dict": {}, "payload": _Payload()}, fh)
    with pytest.raises(CheckpointError, match="--trust-checkpoint"):
        read_checkpoint(path)


def test_an_empty_truncated_or_foreign_checkpoint_is_one_error_trusted_or_not(tmp_path: Path) -> None:
    """An IndexError (empty file), or with --trust-checkpoint a raw UnpicklingError / EOFError, before."""
    whole = tmp_path / "whole.pt"
    torch.save({"state_dict": {"x": torch.zeros(3)}}, whole)
    files = {"empty.pt": b"", "random.pt": bytes(range(256)) * 20, "cut.pt": whole.read_bytes()[:200]}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        for trust in (False, True):
            with pytest.raises(CheckpointError, match="empty|cannot be read|not a readable PyTorch checkpoint"):
                read_checkpoint(tmp_path / name, allow_pickle=trust)


def test_missing_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        read_checkpoint(tmp_path / "nope.pt")

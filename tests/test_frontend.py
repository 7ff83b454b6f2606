"""The numpy front-end against independent references (librosa, torch) and CLAP's input rules."""

from __future__ import annotations

import numpy as np
import pytest

from rtloop.errors import AudioError
from rtloop.frontend import (
    FrontEndConfig,
    antialiased_resize_matrix,
    chunk_starts,
    encoder_input,
    log_mel,
    looped_log_mel,
    repeat_pad,
)

HTK = FrontEndConfig(mel_scale="htk", fusion=True)
SLANEY = FrontEndConfig(mel_scale="slaney", fusion=False)


@pytest.fixture(scope="module")
def noise() -> np.ndarray:
    return (0.1 * np.random.default_rng(0).standard_normal(48000 * 2)).astype(np.float32)


@pytest.mark.parametrize("samples", [96000, 513, 1500], ids=["2s", "half-window-plus-one", "short"])
@pytest.mark.parametrize("cfg", [HTK, SLANEY], ids=["htk", "slaney"])
def test_log_mel_matches_librosa(cfg: FrontEndConfig, noise: np.ndarray, samples: int) -> None:
    librosa = pytest.importorskip("librosa")
    noise = noise[:samples]
    power = librosa.feature.melspectrogram(
        y=noise,
        sr=48000,
        n_fft=1024,
        hop_length=480,
        window="hann",
        center=True,
        pad_mode="reflect",
        power=2.0,
        n_mels=64,
        fmin=50,
        fmax=14000,
        htk=cfg.mel_scale == "htk",
        norm=None if cfg.mel_scale == "htk" else "slaney",
    )
    expected = 10 * np.log10(np.maximum(power, 1e-10)).T
    got = log_mel(noise, cfg)
    assert got.shape == (1 + len(noise) // 480, 64)
    np.testing.assert_allclose(got, expected, atol=2e-3)


def test_slaney_mel_matches_torchlibrosa_front_end_of_htsat(noise: np.ndarray) -> None:
    torch = pytest.importorskip("torch")
    stft = pytest.importorskip("torchlibrosa.stft")
    spec = stft.Spectrogram(n_fft=1024, hop_length=480, win_length=1024, window="hann", center=True, pad_mode="reflect")
    mel = stft.LogmelFilterBank(sr=48000, n_fft=1024, n_mels=64, fmin=50, fmax=14000, ref=1.0, amin=1e-10, top_db=None)
    expected = mel(spec(torch.from_numpy(noise)[None]))[0, 0].numpy()
    np.testing.assert_allclose(log_mel(noise, SLANEY), expected, atol=1e-3)


@pytest.mark.parametrize("n_in", [1001, 1300, 2501, 4000])
def test_resize_matches_torch_antialiased_bilinear(n_in: int) -> None:
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(n_in).standard_normal((n_in, 64)).astype(np.float32)
    expected = torch.nn.functional.interpolate(
        torch.from_numpy(x)[None, None], size=(1001, 64), mode="bilinear", align_corners=False, antialias=True
    )[0, 0].numpy()
    np.testing.assert_allclose(antialiased_resize_matrix(n_in, 1001) @ x, expected, atol=1e-5)


def test_repeat_pad_modes() -> None:
    wave = np.arange(1, 4, dtype=np.float32)
    np.testing.assert_array_equal(repeat_pad(wave, 8, "repeatpad"), [1, 2, 3, 1, 2, 3, 0, 0])  # CLAP
    np.testing.assert_array_equal(repeat_pad(wave, 8, "loop"), [1, 2, 3, 1, 2, 3, 1, 2])
    with pytest.raises(ValueError):
        repeat_pad(wave, 8, "mirror")


def test_loop_padding_keeps_input_continuous_when_a_bar_is_one_frame_longer() -> None:
    bar = (0.3 * np.sin(2 * np.pi * 55 * np.arange(96000) / 48000)).astype(np.float32)
    longer = np.r_[bar, bar[:1]]
    exact = encoder_input(bar, HTK)[0]
    assert np.abs(encoder_input(longer, HTK)[0] - exact).mean() < 0.5  # dB
    clap = FrontEndConfig(mel_scale="htk", fusion=True, pad="repeatpad")
    assert np.abs(encoder_input(longer, clap)[0] - encoder_input(bar, clap)[0]).mean() > 5  # 2 s of silence


def test_chunk_starts_are_deterministic_and_one_per_third() -> None:
    starts = chunk_starts(3001, 1001)
    assert starts == chunk_starts(3001, 1001)
    thirds = np.array_split(np.arange(3001 - 1001 + 1), 3)
    assert all(t[0] <= s <= t[-1] for s, t in zip(starts, thirds, strict=True))
    assert chunk_starts(1002, 1001) == (0, 1, 0)  # empty thirds fall back to 0, as in CLAP


def test_short_loop_is_repeat_padded_and_not_longer(noise: np.ndarray) -> None:
    mel, longer = encoder_input(noise, HTK)
    assert mel.shape == (4, 1001, 64) and not longer
    np.testing.assert_array_equal(mel[0], log_mel(repeat_pad(noise, 480000, "loop"), HTK))
    assert all(np.array_equal(mel[0], m) for m in mel[1:])


@pytest.mark.parametrize(
    "samples",
    [48000, 96000, 90000, 44100, 384000, 479999, 47999, 1025, 37523, 250001],
    ids=["1s-bar", "2s-bar", "128bpm-bar", "cd-second", "8s-bar", "clip-minus-one", "no-period", "tiny", "odd", "long"],
)
def test_a_loops_repeated_frames_are_computed_once_bit_for_bit(samples: int) -> None:
    wave = (0.1 * np.random.default_rng(samples).standard_normal(samples)).astype(np.float32)
    for cfg in (HTK, SLANEY):
        np.testing.assert_array_equal(looped_log_mel(wave, cfg), log_mel(repeat_pad(wave, 480000, "loop"), cfg))
    odd = FrontEndConfig(n_fft=1025, hop=256)  # a window reaching one sample further after its centre
    if samples < odd.clip_samples:
        np.testing.assert_array_equal(looped_log_mel(wave, odd), log_mel(repeat_pad(wave, 480000, "loop"), odd))


@pytest.mark.parametrize("samples", [0, 480000, 480001])
def test_only_a_loop_shorter_than_the_clip_is_looped(samples: int) -> None:
    with pytest.raises(ValueError, match="does not loop"):
        looped_log_mel(np.zeros(samples, dtype=np.float32), HTK)


def test_long_loop_is_fused_with_global_and_three_local_chunks() -> None:
    wave = (0.1 * np.random.default_rng(1).standard_normal(48000 * 25)).astype(np.float32)
    mel, longer = encoder_input(wave, HTK)
    full = log_mel(wave, HTK)
    assert longer and mel.shape == (4, 1001, 64)
    for chunk, start in zip(mel[1:], chunk_starts(len(full), 1001), strict=True):
        np.testing.assert_array_equal(chunk, full[start : start + 1001])
    np.testing.assert_array_equal(mel, encoder_input(wave, HTK)[0])  # same audio, same input


def test_long_loop_without_fusion_uses_first_ten_seconds() -> None:
    wave = (0.1 * np.random.default_rng(2).standard_normal(48000 * 12)).astype(np.float32)
    mel, longer = encoder_input(wave, SLANEY)
    assert mel.shape == (1, 1001, 64) and not longer
    np.testing.assert_array_equal(mel[0], log_mel(wave[:480000], SLANEY))


def test_just_over_ten_seconds_is_not_longer_as_in_clap() -> None:
    wave = (0.1 * np.random.default_rng(3).standard_normal(480000 + 100)).astype(np.float32)
    _, longer = encoder_input(wave, HTK)
    assert not longer


@pytest.mark.parametrize(
    "wave, reason",
    [(np.array([], dtype=np.float32), "non-empty"), (np.array([0.1, np.nan] * 600, dtype=np.float32), "NaN")],
)
def test_bad_audio_is_refused_clearly(wave: np.ndarray, reason: str) -> None:
    with pytest.raises(AudioError, match=reason):
        encoder_input(wave, HTK)

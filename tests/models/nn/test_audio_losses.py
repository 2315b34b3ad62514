"""Mel filterbank / spectrogram (models/nn/mel.py) and spectral reconstruction losses (models/nn/audio_losses.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from models.nn.audio_losses import MultiResolutionSTFTLoss, MultiScaleMelLoss
from models.nn.mel import MelSpectrogram, hz_to_mel, mel_filterbank, mel_to_hz


def test_mel_scale_and_filterbank_match_librosa() -> None:
    import librosa

    assert float(hz_to_mel(torch.tensor(1000.0))) == pytest.approx(15.0)  # Slaney break: 1 kHz = 15 mel
    assert float(hz_to_mel(torch.tensor(500.0))) == pytest.approx(7.5)
    assert float(mel_to_hz(hz_to_mel(torch.tensor(3000.0)))) == pytest.approx(3000.0)
    for sr, n_fft, n_mels, f_min, f_max in [(16000, 1024, 64, 0.0, None), (24000, 512, 80, 50.0, 8000.0)]:
        ours = mel_filterbank(sr, n_fft, n_mels, f_min, f_max).numpy()
        reference = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=f_min, fmax=f_max)
        assert np.abs(ours - reference).max() < 1e-6


def test_mel_spectrogram_equals_naive_dft() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=1000).astype(np.float32)
    n_fft, hop = 128, 32
    padded = np.pad(x, n_fft // 2, mode="reflect")
    window = np.hanning(n_fft + 1)[:-1]  # periodic Hann
    frames = np.stack([padded[i : i + n_fft] * window for i in range(0, len(padded) - n_fft + 1, hop)])
    magnitude = np.abs(np.fft.rfft(frames, axis=1)).T  # [F, T]
    filters = mel_filterbank(16000, n_fft, 16).numpy()
    ours = MelSpectrogram(16000, n_fft, hop, n_mels=16)(torch.from_numpy(x)[None])[0].numpy()
    assert ours.shape == (16, 1000 // hop + 1)
    assert np.allclose(ours, filters @ magnitude, atol=1e-4)
    log = MelSpectrogram(16000, n_fft, hop, n_mels=16, log=True, log_offset=1e-3)(torch.from_numpy(x)[None, None])
    assert np.allclose(log[0].numpy(), np.log(filters @ magnitude + 1e-3), atol=1e-4)


def test_stft_loss_of_a_doubled_signal_by_hand() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 4000)
    loss = MultiResolutionSTFTLoss()
    assert loss(x, x).item() == pytest.approx(0.0, abs=1e-6)
    # |2X| - |X| = |X|: spectral convergence 1; |log|2X| - log|X|| = ln 2 (where |X| is above the floor)
    assert loss(x, 2 * x).item() == pytest.approx(1.0 + math.log(2.0), rel=1e-3)
    with pytest.raises(ValueError, match="differ"):
        loss(x, x[:, :100])


def test_mel_loss_of_a_doubled_signal_by_hand() -> None:
    torch.manual_seed(0)
    x = torch.randn(1, 1, 8000)
    scales = (256, 1024)
    loss = MultiScaleMelLoss(16000, scales=scales, n_mels=32, eps=1e-9)
    assert loss(x, x).item() == pytest.approx(0.0, abs=1e-6)
    expected = 0.0
    for s in scales:
        mel = MelSpectrogram(16000, s, s // 4, n_mels=32)(x)
        used = int((mel_filterbank(16000, s, 32).sum(1) > 0).sum())
        # L1 of 2S - S is mean S; the log term is ln 2 in every used bin: ‖·‖₂ = ln 2 · sqrt(used)
        expected += mel.mean().item() + math.sqrt(s / 2) * math.log(2.0) * math.sqrt(used)
    assert loss(x, 2 * x).item() == pytest.approx(expected, rel=1e-4)
    # closer estimates score lower, and the loss has a gradient
    estimate = (x + 0.5 * torch.randn_like(x)).requires_grad_(True)
    near = loss(x, x + 0.05 * torch.randn_like(x))
    far = loss(x, estimate)
    assert near < far
    far.backward()
    assert estimate.grad is not None and torch.isfinite(estimate.grad).all()


def test_mel_loss_gradient_at_a_perfect_reconstruction_is_finite() -> None:
    x = torch.randn(1, 2000)
    estimate = x.clone().requires_grad_(True)
    MultiScaleMelLoss(scales=(128, 256)).forward(x, estimate).backward()
    assert torch.isfinite(estimate.grad).all()

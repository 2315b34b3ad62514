"""Log-magnitude spectrograms and their inversion (Griffin & Lim, 1984) in torch.

``log_spectrogram`` gives log(1 + |STFT|) of the lowest bins; ``griffin_lim`` turns such a spectrogram back into a
waveform (bins above the given ones are silent).
"""

from __future__ import annotations

import math

import numpy as np
import torch


def log_spectrogram(audio: torch.Tensor, n_fft: int = 2048, hop: int = 256, n_bins: int = 576) -> torch.Tensor:
    """log(1 + |STFT|) of [B, N] audio, Hann window, centred frames, the lowest ``n_bins`` bins: [B, n_bins, T]
    (2 s at 16 kHz -> 126 frames; with the defaults bin 576 is 4.5 kHz, above the top piano key)."""
    window = torch.hann_window(n_fft, device=audio.device, dtype=audio.dtype)
    spec = torch.stft(audio, n_fft, hop, window=window, center=True, return_complex=True).abs()
    return torch.log1p(spec[:, :n_bins])


def griffin_lim(log_spec: np.ndarray, n_fft: int = 2048, hop: int = 256, n_iter: int = 32, length: int | None = None):
    """Waveform from a [F, T] log(1 + magnitude) spectrogram (bins above F are silent): Griffin & Lim (1984) with
    the fast momentum of Perraudin et al. (2013), in torch (librosa's version spends ~1 min JIT-compiling on first use
    on a small CPU; torchaudio does not install here)."""
    spec = torch.as_tensor(np.asarray(log_spec, dtype=np.float32))
    magnitude = torch.zeros(n_fft // 2 + 1, spec.shape[1])
    magnitude[: spec.shape[0]] = torch.expm1(spec.clamp_min(0.0))
    window = torch.hann_window(n_fft)
    generator = torch.Generator().manual_seed(0)
    angles = torch.exp(2j * math.pi * torch.rand(magnitude.shape, generator=generator))
    previous = torch.zeros_like(angles)
    length = length or hop * (spec.shape[1] - 1)
    for _ in range(max(1, n_iter)):
        audio = torch.istft(magnitude * angles, n_fft, hop, window=window, length=length)
        rebuilt = torch.stft(audio, n_fft, hop, window=window, return_complex=True)
        accelerated = rebuilt - 0.99 * previous
        previous = rebuilt
        angles = accelerated / accelerated.abs().clamp_min(1e-8)
    audio = torch.istft(magnitude * angles, n_fft, hop, window=window, length=length)
    return audio.numpy().astype(np.float32)


__all__ = ["griffin_lim", "log_spectrogram"]

"""Mel filterbank and (log-)mel spectrograms in torch.

:func:`mel_filterbank` builds the triangular filters of the Slaney mel scale (linear below 1 kHz, logarithmic above)
with area ("slaney") normalisation, the defaults of ``librosa.filters.mel``; ``htk=True`` uses the HTK scale
``2595 log10(1 + f / 700)``. :class:`MelSpectrogram` applies it to an STFT magnitude (Hann window, centred frames,
reflect padding) and optionally takes ``log(mel + log_offset)``.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor, nn

_F_SP = 200.0 / 3  # Slaney: Hz per mel below the break
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOG_STEP = math.log(6.4) / 27.0


def hz_to_mel(hz: Tensor, htk: bool = False) -> Tensor:
    """Frequencies (Hz) -> mel (Slaney scale by default, HTK scale with ``htk``)."""
    hz = torch.as_tensor(hz, dtype=torch.float64)
    if htk:
        return 2595.0 * torch.log10(1.0 + hz / 700.0)
    linear = hz / _F_SP
    log = _MIN_LOG_MEL + torch.log(hz.clamp_min(1e-10) / _MIN_LOG_HZ) / _LOG_STEP
    return torch.where(hz >= _MIN_LOG_HZ, log, linear)


def mel_to_hz(mel: Tensor, htk: bool = False) -> Tensor:
    """Mel -> frequencies (Hz), inverse of :func:`hz_to_mel`."""
    mel = torch.as_tensor(mel, dtype=torch.float64)
    if htk:
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    linear = mel * _F_SP
    log = _MIN_LOG_HZ * torch.exp(_LOG_STEP * (mel - _MIN_LOG_MEL))
    return torch.where(mel >= _MIN_LOG_MEL, log, linear)


def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, f_min: float = 0.0, f_max: Optional[float] = None, htk: bool = False
) -> Tensor:
    """``[n_mels, n_fft // 2 + 1]`` float32 filters: triangles in Hz between mel-spaced edges, area-normalised."""
    f_max = sample_rate / 2.0 if f_max is None else f_max
    if not 0.0 <= f_min < f_max <= sample_rate / 2.0:
        raise ValueError(f"mel_filterbank: need 0 <= f_min < f_max <= sample_rate / 2 (got {f_min}, {f_max})")
    fft_freqs = torch.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1, dtype=torch.float64)
    edges = mel_to_hz(torch.linspace(float(hz_to_mel(f_min, htk)), float(hz_to_mel(f_max, htk)), n_mels + 2), htk)
    widths = edges[1:] - edges[:-1]
    ramps = edges[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = torch.clamp(torch.minimum(lower, upper), min=0.0)
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.float()


def stft_magnitude(audio: Tensor, n_fft: int, hop_length: int, window: Tensor, center: bool = True) -> Tensor:
    """``|STFT|`` [B, n_fft // 2 + 1, frames] of a waveform [B, T] or [B, 1, T] (reflect padding when centred)."""
    if audio.dim() == 3 and audio.shape[1] == 1:
        audio = audio[:, 0]
    if audio.dim() != 2:
        raise ValueError(f"stft_magnitude: expected audio [B, T] or [B, 1, T], got {tuple(audio.shape)}")
    spec = torch.stft(
        audio.float(),
        n_fft,
        hop_length,
        window.shape[0],
        window=window.to(audio.device),
        center=center,
        pad_mode="reflect",
        return_complex=True,
    )
    return spec.abs()


class MelSpectrogram(nn.Module):
    """``[B, T]`` (or ``[B, 1, T]``) waveform -> ``[B, n_mels, frames]`` magnitude mel spectrogram (``log`` of it
    plus ``log_offset`` when ``log``). ``power`` 1 = magnitude, 2 = power."""

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 1024,
        hop_length: Optional[int] = None,
        win_length: Optional[int] = None,
        n_mels: int = 64,
        f_min: float = 0.0,
        f_max: Optional[float] = None,
        power: float = 1.0,
        log: bool = False,
        log_offset: float = 1e-5,
        center: bool = True,
    ) -> None:
        super().__init__()
        self.n_fft = n_fft
        self.hop_length = hop_length or n_fft // 4
        self.win_length = win_length or n_fft
        self.power = power
        self.log = log
        self.log_offset = log_offset
        self.center = center
        self.register_buffer("window", torch.hann_window(self.win_length), persistent=False)
        self.register_buffer("filters", mel_filterbank(sample_rate, n_fft, n_mels, f_min, f_max), persistent=False)

    def magnitude(self, audio: Tensor) -> Tensor:
        """``|STFT|^power`` [B, n_fft // 2 + 1, frames] of a waveform [B, T] or [B, 1, T]."""
        spec = stft_magnitude(audio, self.n_fft, self.hop_length, self.window, self.center)
        return spec if self.power == 1.0 else spec.pow(self.power)

    def forward(self, audio: Tensor) -> Tensor:
        mel = torch.matmul(self.filters, self.magnitude(audio))
        return torch.log(mel + self.log_offset) if self.log else mel


__all__ = ["MelSpectrogram", "hz_to_mel", "mel_filterbank", "mel_to_hz", "stft_magnitude"]

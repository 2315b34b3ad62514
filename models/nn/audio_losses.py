"""Spectral reconstruction losses between a waveform and its reconstruction.

- :class:`MultiScaleMelLoss`: over window sizes ``s`` (default ``2^6 .. 2^11``, hop ``s / 4``, ``n_mels`` bins),
  ``mean_{t,f} |S − Ŝ| + α_s · mean_t ‖log(S + ε) − log(Ŝ + ε)‖₂`` with ``α_s = sqrt(s / 2)``, summed over the
  scales (the multi-scale spectral reconstruction loss of Zeghidour et al. 2021, §3.4, Eq. 4, with means over
  frames and bins in place of sums so the value does not grow with the clip length).
- :class:`MultiResolutionSTFTLoss`: over (FFT size, hop, window) triples, spectral convergence
  ``‖|X| − |X̂|‖_F / ‖|X|‖_F`` plus ``mean |log|X| − log|X̂||``, averaged over the resolutions (Yamamoto et al.
  2020, §2.3).

Inputs are waveforms ``[B, T]`` or ``[B, 1, T]``; the first argument is the reference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Optional

import torch
from torch import Tensor, nn

from models.nn.mel import MelSpectrogram, stft_magnitude


def _check_pair(reference: Tensor, estimate: Tensor, where: str) -> None:
    if reference.shape != estimate.shape:
        raise ValueError(f"{where}: reference {tuple(reference.shape)} and estimate {tuple(estimate.shape)} differ")


class MultiScaleMelLoss(nn.Module):
    """Multi-scale mel L1 + weighted log-mel L2 reconstruction loss (see the module docstring).

    Args:
        sample_rate: audio rate.
        scales: window sizes (FFT size = window, hop = window / 4).
        n_mels: mel bins per scale (at small windows the narrowest filters may hold no FFT bin: they read 0 for
            both signals and add nothing).
        eps: ε inside the log.
        alpha: weight of the log term per scale (default ``sqrt(s / 2)``).
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        scales: Sequence[int] = (64, 128, 256, 512, 1024, 2048),
        n_mels: int = 64,
        eps: float = 1e-5,
        alpha: Optional[Sequence[float]] = None,
    ) -> None:
        super().__init__()
        if alpha is not None and len(alpha) != len(scales):
            raise ValueError(f"MultiScaleMelLoss: {len(alpha)} alpha values for {len(scales)} scales")
        self.scales = tuple(scales)
        self.alpha = tuple(alpha) if alpha is not None else tuple(math.sqrt(s / 2) for s in self.scales)
        self.eps = eps
        self.mels = nn.ModuleList(MelSpectrogram(sample_rate, s, s // 4, n_mels=n_mels, power=1.0) for s in self.scales)

    def forward(self, reference: Tensor, estimate: Tensor) -> Tensor:
        _check_pair(reference, estimate, "MultiScaleMelLoss")
        total = reference.new_zeros((), dtype=torch.float32)
        for mel, alpha in zip(self.mels, self.alpha):
            s, s_hat = mel(reference), mel(estimate)  # [B, F, T]
            l1 = (s - s_hat).abs().mean()
            log_diff = torch.log(s + self.eps) - torch.log(s_hat + self.eps)
            l2 = torch.linalg.vector_norm(log_diff, dim=1).mean()  # its gradient at 0 is 0, not NaN
            total = total + l1 + alpha * l2
        return total


class MultiResolutionSTFTLoss(nn.Module):
    """Spectral convergence + log-magnitude L1 over several STFT resolutions (see the module docstring).

    Args:
        fft_sizes, hop_sizes, win_lengths: one triple per resolution.
        eps: floor of the magnitudes before the log.
    """

    def __init__(
        self,
        fft_sizes: Sequence[int] = (1024, 2048, 512),
        hop_sizes: Sequence[int] = (120, 240, 50),
        win_lengths: Sequence[int] = (600, 1200, 240),
        eps: float = 1e-7,
    ) -> None:
        super().__init__()
        if not len(fft_sizes) == len(hop_sizes) == len(win_lengths):
            raise ValueError("MultiResolutionSTFTLoss: fft_sizes, hop_sizes and win_lengths differ in length")
        self.eps = eps
        self.resolutions = tuple(zip(fft_sizes, hop_sizes))
        for i, win in enumerate(win_lengths):
            self.register_buffer(f"window{i}", torch.hann_window(win), persistent=False)

    def forward(self, reference: Tensor, estimate: Tensor) -> Tensor:
        _check_pair(reference, estimate, "MultiResolutionSTFTLoss")
        total = reference.new_zeros((), dtype=torch.float32)
        for i, (n_fft, hop) in enumerate(self.resolutions):
            window = getattr(self, f"window{i}")
            x = stft_magnitude(reference, n_fft, hop, window).clamp_min(self.eps)
            x_hat = stft_magnitude(estimate, n_fft, hop, window).clamp_min(self.eps)
            convergence = torch.linalg.norm(x - x_hat) / torch.linalg.norm(x)
            log_mag = (torch.log(x) - torch.log(x_hat)).abs().mean()
            total = total + convergence + log_mag
        return total / len(self.resolutions)


__all__ = ["MultiResolutionSTFTLoss", "MultiScaleMelLoss"]

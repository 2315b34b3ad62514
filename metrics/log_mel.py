"""VGGish's audio front end: 0.96 s log-mel examples at 16 kHz (Hershey et al. 2017; torchvggish ``vggish_input``).

Pinned as in the VGGish release (``vggish_params.py``), so that a VGGish checkpoint sees the input it was trained
on: 16 kHz mono; periodic Hann window of 25 ms (400 samples), hop 10 ms (160), FFT length 512, magnitude spectrum;
64 mel bands from 125 to 7500 Hz on the HTK mel scale (triangles built in the mel domain, DC bin zeroed, no area
normalisation); ``log(mel + 0.01)``; non-overlapping examples of 96 frames (0.96 s). Other input rates are resampled
with ``scipy.signal.resample_poly`` (VGGish uses resampy; polyphase resampling is within 1e-3 relative of it).
Pinned where VGGish leaves it open: a clip shorter than one example is zero-padded to 0.96 s, so every clip gives at
least one example; a trailing remainder shorter than 0.96 s is dropped (as VGGish does).
Written here because torchaudio does not work beside torch 2.13 and librosa's HTK mel matrix builds its triangles in
Hz, not in mel as VGGish does.
"""

from __future__ import annotations

from math import gcd
from typing import Any

import numpy as np
import torch

SAMPLE_RATE = 16000
WINDOW = 400
HOP = 160
N_FFT = 512
N_MELS = 64
FMIN, FMAX = 125.0, 7500.0
LOG_OFFSET = 0.01
EXAMPLE_FRAMES = 96  # 0.96 s
EXAMPLE_SECONDS = EXAMPLE_FRAMES * HOP / SAMPLE_RATE


def hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """HTK mel scale: ``1127 ln(1 + f / 700)``."""
    return 1127.0 * np.log1p(np.asarray(hz, dtype=np.float64) / 700.0)


def mel_matrix(n_mels: int = N_MELS, n_fft: int = N_FFT, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """[n_fft // 2 + 1, n_mels] weights, triangles spaced evenly on the HTK mel scale between FMIN and FMAX."""
    bins = n_fft // 2 + 1
    spectrum_mel = hz_to_mel(np.linspace(0.0, sample_rate / 2.0, bins))
    edges = np.linspace(hz_to_mel(FMIN), hz_to_mel(FMAX), n_mels + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (spectrum_mel[:, None] - lower) / (center - lower)
    falling = (upper - spectrum_mel[:, None]) / (upper - center)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0, :] = 0.0
    return weights


_MEL = torch.from_numpy(mel_matrix()).float()
_WINDOW = torch.hann_window(WINDOW, periodic=True)


def resample(audio: np.ndarray, sample_rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Polyphase resampling of a 1-D float signal from ``sample_rate`` to ``target`` Hz."""
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    if sample_rate == target:
        return audio
    from scipy.signal import resample_poly

    factor = gcd(int(sample_rate), int(target))
    return resample_poly(audio, target // factor, int(sample_rate) // factor).astype(np.float32)


def as_mono(audio: Any) -> np.ndarray:
    """A 1-D float32 numpy waveform from a tensor or array (a [1, N] or [N, 1] shape is flattened)."""
    if hasattr(audio, "detach"):
        audio = audio.detach().cpu().float().numpy()
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1 and not (audio.ndim == 2 and 1 in audio.shape):
        raise ValueError(f"expected one mono waveform [N], got shape {audio.shape}")
    return audio.reshape(-1)


def log_mel_examples(audio: Any, sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """One clip -> VGGish examples ``[num_examples, 96, 64]`` (float32 log-mel, frames x bands)."""
    signal = resample(as_mono(audio), sample_rate)
    minimum = WINDOW + (EXAMPLE_FRAMES - 1) * HOP
    if signal.size < minimum:
        signal = np.pad(signal, (0, minimum - signal.size))
    frames = torch.from_numpy(np.ascontiguousarray(signal)).unfold(0, WINDOW, HOP) * _WINDOW
    magnitude = torch.fft.rfft(frames, n=N_FFT).abs()
    log_mel = torch.log(magnitude @ _MEL + LOG_OFFSET)
    count = log_mel.shape[0] // EXAMPLE_FRAMES
    return log_mel[: count * EXAMPLE_FRAMES].reshape(count, EXAMPLE_FRAMES, N_MELS)


__all__ = ["EXAMPLE_SECONDS", "SAMPLE_RATE", "as_mono", "log_mel_examples", "mel_matrix", "resample"]

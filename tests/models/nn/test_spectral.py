"""Log-magnitude spectrogram and its Griffin-Lim inversion (models/nn/spectral.py): a tone keeps its frequency bin."""

from __future__ import annotations

import numpy as np
import torch

from models.nn.spectral import griffin_lim, log_spectrogram


def test_log_spectrogram_and_griffin_lim() -> None:
    t = np.arange(32000) / 16000.0
    tone = (0.5 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
    spec = log_spectrogram(torch.from_numpy(tone)[None])
    assert spec.shape == (1, 576, 126)
    peak = int(spec[0, :, 60].argmax())
    assert abs(peak - round(440.0 * 2048 / 16000)) <= 1  # bin of 440 Hz
    audio = griffin_lim(spec[0].numpy(), n_iter=8, length=32000)
    assert audio.shape == (32000,)
    again = log_spectrogram(torch.from_numpy(audio)[None])
    assert int(again[0, :, 60].argmax()) == peak

"""The one piece of torchaudio that transkun 2.0.1 uses, for environments where torchaudio does not load.

transkun's ``MelSpectrum`` calls ``torchaudio.functional.melscale_fbanks`` once, while the model is built. torchaudio
has no build for torch 2.13 here, so :func:`torchaudio_shim` puts a stand-in module named ``torchaudio`` into
``sys.modules`` for the duration of a ``with`` block (and removes it afterwards, so that nothing else mistakes it for
the real library). :func:`melscale_fbanks` is the published HTK-mel triangular filterbank (Young et al., The HTK Book,
§5.4) with torchaudio's argument order and output layout ``[n_freqs, n_mels]``; the filterbank is also a buffer in
transkun's checkpoint, which overwrites it on loading.
"""

from __future__ import annotations

import contextlib
import math
import sys
import types
from collections.abc import Iterator
from typing import Optional

import torch


def hz_to_mel_htk(freq: float) -> float:
    return 2595.0 * math.log10(1.0 + freq / 700.0)


def mel_to_hz_htk(mels: torch.Tensor) -> torch.Tensor:
    return 700.0 * (10.0 ** (mels / 2595.0) - 1.0)


def melscale_fbanks(
    n_freqs: int,
    f_min: float,
    f_max: float,
    n_mels: int,
    sample_rate: int,
    norm: Optional[str] = None,
    mel_scale: str = "htk",
) -> torch.Tensor:
    """Triangular mel filterbank ``[n_freqs, n_mels]`` over the ``n_freqs`` STFT bins from 0 to ``sample_rate // 2``
    (HTK mel scale; ``norm="slaney"`` divides each triangle by its width for constant area)."""
    if mel_scale != "htk":
        raise ValueError(f"melscale_fbanks: only the HTK mel scale is implemented, got {mel_scale!r}")
    if norm not in (None, "slaney"):
        raise ValueError(f"melscale_fbanks: norm must be None or 'slaney', got {norm!r}")
    all_freqs = torch.linspace(0, sample_rate // 2, n_freqs)
    m_pts = torch.linspace(hz_to_mel_htk(f_min), hz_to_mel_htk(f_max), n_mels + 2)
    f_pts = mel_to_hz_htk(m_pts)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts.unsqueeze(0) - all_freqs.unsqueeze(1)
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    fb = torch.clamp(torch.minimum(down, up), min=0.0)
    if norm == "slaney":
        fb = fb * (2.0 / (f_pts[2 : n_mels + 2] - f_pts[:n_mels])).unsqueeze(0)
    return fb


@contextlib.contextmanager
def torchaudio_shim() -> Iterator[None]:
    """Make ``import torchaudio`` give the stand-in inside the block when the real one cannot be imported."""
    previous = sys.modules.get("torchaudio")
    if previous is not None:
        yield
        return
    try:
        import torchaudio  # noqa: F401 - the real library, when it works

        yield
        return
    except Exception:  # noqa: BLE001 - any import failure (missing, or built for another torch)
        sys.modules.pop("torchaudio", None)
    module = types.ModuleType("torchaudio")
    functional = types.ModuleType("torchaudio.functional")
    functional.melscale_fbanks = melscale_fbanks
    module.functional = functional
    sys.modules["torchaudio"], sys.modules["torchaudio.functional"] = module, functional
    try:
        yield
    finally:
        sys.modules.pop("torchaudio", None)
        sys.modules.pop("torchaudio.functional", None)


__all__ = ["melscale_fbanks", "torchaudio_shim"]

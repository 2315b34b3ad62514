"""Audio tokenizer protocols: what a token-based music model needs from its codec and its semantic tokenizer.

- :class:`AudioCodec` (a SoundStream-style neural codec): ``encode(audio [B, N], sample_rate) -> codes long
  [B, levels, F]`` and ``decode(codes) -> audio [B, F · sample_rate / frame_rate]``, with ``frame_rate`` (code frames
  per second), ``levels`` (residual quantiser levels), ``codebook_size`` and ``sample_rate``.
- :class:`SemanticTokenizer` (w2v-BERT + k-means style): ``encode(audio [B, N], sample_rate) -> tokens long [B, F]``
  at ``rate`` tokens per second, ids in ``0 .. vocab_size - 1``.

Either is loaded from a checkpoint path by its class's ``from_checkpoint(path)``; a user's model is any class that
implements the protocol (named by ``class_path`` in a config). A model carries a ``fingerprint`` (hash of its
configuration and weights) so that a model trained on its tokens can check it is given the same tokenizer.

Audio handed to either is checked by :func:`check_audio`: mono ``[B, N]`` (or ``[N]``) float at the model's rate and
finite; anything else is one ``ValueError`` naming the caller and the cause (silent audio is valid and is encoded).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor


@runtime_checkable
class AudioCodec(Protocol):
    frame_rate: float
    levels: int
    codebook_size: int
    sample_rate: int

    def encode(self, audio: Tensor, sample_rate: int) -> Tensor: ...

    def decode(self, codes: Tensor) -> Tensor: ...


@runtime_checkable
class SemanticTokenizer(Protocol):
    rate: float
    vocab_size: int

    def encode(self, audio: Tensor, sample_rate: int) -> Tensor: ...


def check_audio(audio: Any, sample_rate: int, expected_rate: int, where: str) -> Tensor:
    """``audio`` as float32 ``[B, N]``; one ``ValueError`` naming ``where`` for stereo, NaN / Inf, another rate or
    an empty signal."""
    audio = torch.as_tensor(audio)
    if int(sample_rate) != int(expected_rate):
        raise ValueError(f"{where}: audio at {sample_rate} Hz, this model takes {expected_rate} Hz (resample first)")
    if audio.dim() == 1:
        audio = audio[None]
    if audio.dim() == 3 and audio.shape[1] == 1:
        audio = audio[:, 0]
    if audio.dim() != 2:
        raise ValueError(
            f"{where}: expected mono audio [B, N] or [N], got shape {tuple(audio.shape)} (mix stereo down)"
        )
    if audio.shape[-1] == 0:
        raise ValueError(f"{where}: empty audio (0 samples)")
    if not audio.is_floating_point():
        raise ValueError(f"{where}: expected float audio in [-1, 1], got {audio.dtype}")
    if not bool(torch.isfinite(audio).all()):
        raise ValueError(f"{where}: audio holds NaN or Inf samples")
    return audio.float()


def check_codes(codes: Any, levels: int, codebook_size: int, where: str) -> Tensor:
    """``codes`` as long ``[B, n <= levels, F]``, every id in ``0 .. codebook_size - 1``; else one ``ValueError``."""
    codes = torch.as_tensor(codes)
    if codes.dim() != 3 or not 1 <= codes.shape[1] <= levels:
        raise ValueError(f"{where}: expected codes [B, 1..{levels}, F], got shape {tuple(codes.shape)}")
    if codes.is_floating_point():
        raise ValueError(f"{where}: codes must be integers, got {codes.dtype}")
    if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= codebook_size):
        raise ValueError(
            f"{where}: code ids must be in 0 .. {codebook_size - 1}, got {int(codes.min())} .. {int(codes.max())}"
        )
    return codes.long()


def fingerprint(config: Mapping[str, Any], state: Mapping[str, Tensor]) -> str:
    """sha256 (hex, 16 digits) of a configuration (JSON, sorted keys) and of every tensor of ``state`` (by key)."""
    digest = hashlib.sha256(json.dumps(dict(config), sort_keys=True, default=str).encode())
    for key in sorted(state):
        value = state[key]
        digest.update(key.encode())
        if isinstance(value, Tensor):
            digest.update(str(value.dtype).encode() + str(tuple(value.shape)).encode())
            digest.update(value.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


__all__ = ["AudioCodec", "SemanticTokenizer", "check_audio", "check_codes", "fingerprint"]

"""Masked-prediction self-supervised encoder on log-mel frames with random-projection quantiser targets.

Targets follow the random-projection quantiser of Chiu et al. 2022 (BEST-RQ, §2): the (per-utterance, per-bin
standardised) input frames, stacked ``stack`` at a time to the encoder's frame rate, are multiplied by a frozen
random (Xavier-initialised) projection, L2-normalised and assigned to the nearest entry of a frozen random
(standard-normal, L2-normalised) codebook. Projection and codebooks are buffers drawn from a ``torch.Generator``
seeded with ``seed``: equal seeds give equal targets, and a checkpoint carries them.

The encoder sees the same stacked frames with spans of frames masked: every frame starts a masked span of
``mask_span`` frames with probability ``mask_prob`` (§2; at least one frame per sequence is masked); masked input
frames are replaced by noise ``N(0, noise_std²)``. A linear layer maps stacked frames to ``d_model`` (a linear
stand-in for the convolutional subsampling), a relative-position :class:`TransformerEncoder` follows, and one
softmax head per codebook predicts the targets. The loss is the cross-entropy on masked, non-padded frames only.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.nn.transformer_encoder import TransformerEncoder


def stack_frames(features: Tensor, stack: int) -> Tensor:
    """``[B, F, T]`` -> ``[B, T // stack, stack * F]`` (trailing frames that do not fill a stack are dropped)."""
    b, f, t = features.shape
    frames = t // stack
    return features[..., : frames * stack].transpose(1, 2).reshape(b, frames, stack * f)


def standardise(features: Tensor, padding_mask: Optional[Tensor] = None, eps: float = 1e-5) -> Tensor:
    """Per-sequence, per-bin standardisation of ``[B, F, T]`` over the real (non-padded) frames."""
    if padding_mask is None:
        mean = features.mean(-1, keepdim=True)
        std = features.std(-1, unbiased=False, keepdim=True)
    else:
        keep = (~padding_mask).to(features.dtype)[:, None, :]
        count = keep.sum(-1, keepdim=True).clamp_min(1.0)
        mean = (features * keep).sum(-1, keepdim=True) / count
        std = (((features - mean) * keep).pow(2).sum(-1, keepdim=True) / count).sqrt()
    return (features - mean) / (std + eps)


class RandomProjectionQuantizer(nn.Module):
    """Frozen random projection + random codebook(s): ``[B, T, input_dim]`` -> target ids ``[B, T, num_codebooks]``.

    Args:
        input_dim: width of the (stacked) input frames.
        codebook_size: entries per codebook.
        code_dim: projection width.
        num_codebooks: independent projection/codebook pairs.
        seed: seed of the projection and codebooks.
    """

    def __init__(
        self, input_dim: int, codebook_size: int = 8192, code_dim: int = 16, num_codebooks: int = 1, seed: int = 0
    ) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        bound = math.sqrt(6.0 / (input_dim + code_dim))  # Xavier-uniform
        projection = (torch.rand(num_codebooks, input_dim, code_dim, generator=generator) * 2 - 1) * bound
        codebooks = F.normalize(torch.randn(num_codebooks, codebook_size, code_dim, generator=generator), dim=-1)
        self.register_buffer("projection", projection)
        self.register_buffer("codebooks", codebooks)
        self.codebook_size = codebook_size

    @torch.no_grad()
    def forward(self, frames: Tensor) -> Tensor:
        projected = F.normalize(torch.einsum("btd,ndc->bntc", frames.float(), self.projection), dim=-1)
        # nearest unit vector = largest dot product
        scores = torch.einsum("bntc,nkc->bntk", projected, self.codebooks)
        return scores.argmax(-1).permute(0, 2, 1)


class MaskedSSLOutput(NamedTuple):
    """``loss`` scalar; ``logits`` [B, T', N, K]; ``targets`` [B, T', N]; ``mask`` [B, T'] (True = masked and
    counted); ``accuracy`` scalar over the counted frames."""

    loss: Tensor
    logits: Tensor
    targets: Tensor
    mask: Tensor
    accuracy: Tensor


class MaskedSSLEncoder(nn.Module):
    """Masked-prediction SSL encoder on log-mel ``[B, n_mels, T]`` (see the module docstring).

    Args:
        n_mels: input bins.
        stack: input frames per encoder frame.
        d_model, num_layers, num_heads, dim_feedforward, dropout, max_relative_position: the encoder.
        codebook_size, code_dim, num_codebooks, seed: the random-projection quantiser.
        mask_prob: probability that a frame starts a masked span.
        mask_span: frames per masked span (encoder frames).
        noise_std: standard deviation of the noise that replaces masked frames.
    """

    def __init__(
        self,
        n_mels: int = 80,
        stack: int = 4,
        d_model: int = 512,
        num_layers: int = 12,
        num_heads: int = 8,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        max_relative_position: int = 64,
        codebook_size: int = 8192,
        code_dim: int = 16,
        num_codebooks: int = 1,
        seed: int = 0,
        mask_prob: float = 0.01,
        mask_span: int = 10,
        noise_std: float = 0.1,
    ) -> None:
        super().__init__()
        if stack < 1 or mask_span < 1 or not 0.0 < mask_prob <= 1.0:
            raise ValueError("MaskedSSLEncoder: stack and mask_span must be >= 1 and mask_prob in (0, 1]")
        self.n_mels = n_mels
        self.stack = stack
        self.mask_prob = mask_prob
        self.mask_span = mask_span
        self.noise_std = noise_std
        self.num_codebooks = num_codebooks
        self.codebook_size = codebook_size
        self.quantizer = RandomProjectionQuantizer(n_mels * stack, codebook_size, code_dim, num_codebooks, seed)
        self.input_proj = nn.Linear(n_mels * stack, d_model)
        self.encoder = TransformerEncoder(
            d_model, num_layers, num_heads, dim_feedforward, dropout, max_relative_position, "gelu", True
        )
        self.head = nn.Linear(d_model, num_codebooks * codebook_size)

    def _frames(self, mel: Tensor, padding_mask: Optional[Tensor]) -> tuple[Tensor, Optional[Tensor]]:
        """Standardised stacked frames [B, T', stack·F] and the padding mask at the encoder rate."""
        if mel.dim() != 3 or mel.shape[1] != self.n_mels:
            raise ValueError(f"MaskedSSLEncoder: expected log-mel [B, {self.n_mels}, T], got {tuple(mel.shape)}")
        if mel.shape[-1] < self.stack:
            raise ValueError(f"MaskedSSLEncoder: {mel.shape[-1]} frames, fewer than one stack of {self.stack}")
        if padding_mask is not None and padding_mask.shape != (mel.shape[0], mel.shape[-1]):
            raise ValueError(f"MaskedSSLEncoder: padding_mask must be [B, T] = {(mel.shape[0], mel.shape[-1])}")
        frames = stack_frames(standardise(mel, padding_mask), self.stack)
        if padding_mask is None:
            return frames, None
        t = frames.shape[1]
        # an encoder frame is padding when any of its input frames is
        return frames, padding_mask[:, : t * self.stack].reshape(-1, t, self.stack).any(-1)

    def targets(self, mel: Tensor, padding_mask: Optional[Tensor] = None) -> Tensor:
        """Target ids ``[B, T', num_codebooks]`` of log-mel ``mel`` [B, n_mels, T] (no gradient, deterministic)."""
        frames, _ = self._frames(mel, padding_mask)
        return self.quantizer(frames)

    def span_mask(self, batch: int, length: int, device: torch.device, generator: Optional[torch.Generator]) -> Tensor:
        """Boolean [B, T']: spans of ``mask_span`` frames starting at each frame with probability ``mask_prob``."""
        starts = torch.rand(batch, length, generator=generator) < self.mask_prob
        none = ~starts.any(1)
        if none.any():  # at least one span per sequence
            starts[none, torch.randint(length, (int(none.sum()),), generator=generator)] = True
        mask = torch.zeros(batch, length + self.mask_span, dtype=torch.bool)
        for offset in range(self.mask_span):
            mask[:, offset : offset + length] |= starts
        return mask[:, :length].to(device)

    def encode(
        self,
        frames: Tensor,
        padding_mask: Optional[Tensor] = None,
        return_layers: bool = False,
    ) -> Tensor | tuple[Tensor, list[Tensor]]:
        """Encoder states of stacked frames [B, T', stack·F] (``return_layers``: also every layer's output)."""
        return self.encoder(self.input_proj(frames), padding_mask, return_layers=return_layers)

    def features(self, mel: Tensor, layer: Optional[int] = None, padding_mask: Optional[Tensor] = None) -> Tensor:
        """Unmasked representation [B, T', d_model] of log-mel ``mel``: the final output, or the output of
        ``layer`` (0-based; e.g. a middle layer for clustering)."""
        frames, pad = self._frames(mel, padding_mask)
        if layer is None:
            return self.encode(frames, pad)
        if not 0 <= layer < len(self.encoder.layers):
            raise ValueError(f"MaskedSSLEncoder.features: layer must be in 0 .. {len(self.encoder.layers) - 1}")
        return self.encode(frames, pad, return_layers=True)[1][layer]

    def forward(
        self, mel: Tensor, padding_mask: Optional[Tensor] = None, generator: Optional[torch.Generator] = None
    ) -> MaskedSSLOutput:
        """Mask, encode and score log-mel ``mel`` [B, n_mels, T] (``padding_mask`` [B, T] True at padding)."""
        frames, pad = self._frames(mel, padding_mask)
        targets = self.quantizer(frames)
        b, t, _ = frames.shape
        mask = self.span_mask(b, t, frames.device, generator)
        if pad is not None:
            mask &= ~pad
            empty = ~mask.any(1)
            if empty.any():  # every span fell into the padding: mask one random real frame instead
                scores = torch.rand(b, t, generator=generator).to(frames.device).masked_fill(pad, -1.0)
                pick = scores.argmax(1)
                rows = empty.nonzero().squeeze(1)
                mask[rows, pick[rows]] = True
                mask &= ~pad
        noise = torch.randn(frames.shape, generator=generator).to(frames) * self.noise_std
        masked_frames = torch.where(mask[..., None], noise, frames)
        logits = self.head(self.encode(masked_frames, pad)).view(b, t, self.num_codebooks, self.codebook_size)
        counted = logits[mask]  # [M, N, K]
        if counted.shape[0] == 0:
            raise ValueError("MaskedSSLEncoder: no masked frame outside the padding")
        loss = F.cross_entropy(counted.reshape(-1, self.codebook_size), targets[mask].reshape(-1))
        accuracy = (counted.argmax(-1) == targets[mask]).float().mean()
        return MaskedSSLOutput(loss, logits, targets, mask, accuracy)


__all__ = ["MaskedSSLEncoder", "MaskedSSLOutput", "RandomProjectionQuantizer", "stack_frames", "standardise"]

"""Self-similarity matrices of a feature sequence and the attention bias made from them.

``self_similarity(x)[b, i, j] = -||x_i - x_j||²``: 0 on the diagonal, more negative the more two frames differ (a
repetitive sequence shows as stripes parallel to the diagonal). :class:`SelfSimilarityBias` turns it into an additive
attention bias ``[B, H, L, L]`` for :class:`models.nn.transformer_encoder.TransformerEncoder`: a softmax over the key
axis (each row a distribution over the other frames), then a ``Conv2d(1 -> heads)`` that lets every head read local
patterns of the matrix (e.g. a diagonal stripe = a repetition ``j - i`` frames apart).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def self_similarity(x: Tensor) -> Tensor:
    """``x`` [B, L, D] -> ``[B, L, L]`` with entry ``-||x_i - x_j||²`` (computed as ``2 x_i·x_j - |x_i|² - |x_j|²``,
    clamped at 0 so rounding cannot make it positive; its gradient is finite on the diagonal, unlike ``cdist``'s)."""
    if x.dim() != 3:
        raise ValueError(f"self_similarity expects x [B, L, D], got {tuple(x.shape)}")
    norms = x.pow(2).sum(-1)
    squared = norms[:, :, None] + norms[:, None, :] - 2 * torch.matmul(x, x.transpose(1, 2))
    return -squared.clamp_min(0.0)


class SelfSimilarityBias(nn.Module):
    """Attention bias from the self-similarity of ``x`` [B, L, D]: ``Conv2d(softmax_j(S))`` -> ``[B, heads, L, L]``.

    Args:
        num_heads: output channels (one bias per attention head).
        kernel_size: odd size of the square convolution (padding keeps ``L x L``).
    """

    def __init__(self, num_heads: int, kernel_size: int = 3) -> None:
        super().__init__()
        if kernel_size % 2 != 1 or kernel_size < 1:
            raise ValueError(f"SelfSimilarityBias: kernel_size must be odd and positive, got {kernel_size}")
        self.conv = nn.Conv2d(1, num_heads, kernel_size, padding=kernel_size // 2)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(self_similarity(x).softmax(dim=-1)[:, None])


__all__ = ["SelfSimilarityBias", "self_similarity"]

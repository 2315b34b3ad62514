"""Pieces of multi-scale feature-attention networks (Yan et al., 2019; FPN, Lin et al., 2017).

* :class:`ResidualTransform`: a 1x1 projection to a common width followed by a residual 3x3 conv pair and an
  average pooling to a target grid ("feature transform" of a pyramid level).
* :class:`CrossScaleAttention`: correlation learning by spatial self-attention: the element-wise product of two
  refined levels, soft-maxed over positions per channel, weights a third level; a 1x1 conv and a residual add follow.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn


class ResidualTransform(nn.Module):
    """x -> pool(p + conv3x3(relu(bn(conv3x3(p))))), p = conv1x1(x).

    Args:
        projection_padding: zero padding of the 1x1 projection (1 grows the map by 2 in H and W).
        pool: ``(kernel, stride)`` of a fixed average pool; then ``size`` in ``forward`` is checked, not pooled to.
            ``None``: ``size`` pools adaptively to that grid (or keeps the map when no size is given).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        projection_padding: int = 0,
        pool: Optional[tuple[int, int]] = None,
    ) -> None:
        super().__init__()
        self.pool = pool
        self.project = nn.Conv2d(in_channels, out_channels, 1, padding=projection_padding, bias=False)
        self.conv1 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor, size: Optional[tuple[int, int]] = None) -> torch.Tensor:
        projected = self.project(x)
        out = projected + self.conv2(F.relu(self.bn(self.conv1(projected))))
        if self.pool is not None:
            kernel, stride = self.pool
            out = F.avg_pool2d(out, kernel, stride)
            if size is not None and tuple(out.shape[-2:]) != tuple(size):
                raise ValueError(
                    f"ResidualTransform: the fixed {kernel}x{kernel}/{stride} pool gives a {tuple(out.shape[-2:])} "
                    f"grid where {tuple(size)} is needed; this input size needs adaptive pooling"
                )
            return out
        if size is not None and tuple(out.shape[-2:]) != tuple(size):
            out = F.adaptive_avg_pool2d(out, size)
        return out


class CrossScaleAttention(nn.Module):
    """out = r3 + conv1x1(softmax_hw(r1 * r2) * r3); all three maps [B, C, H, W] on the same grid."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.mix = nn.Conv2d(channels, channels, 1)

    @staticmethod
    def attention(r1: torch.Tensor, r2: torch.Tensor) -> torch.Tensor:
        """Per-channel spatial distribution (sums to 1 over H*W) from the correlation of two levels."""
        product = r1 * r2
        return F.softmax(product.flatten(2), dim=2).view_as(product)

    def forward(self, r1: torch.Tensor, r2: torch.Tensor, r3: torch.Tensor) -> torch.Tensor:
        if not (r1.shape == r2.shape == r3.shape):
            shapes = ", ".join(str(tuple(r.shape)) for r in (r1, r2, r3))
            raise ValueError(f"CrossScaleAttention: shapes differ: {shapes}")
        return r3 + self.mix(self.attention(r1, r2) * r3)

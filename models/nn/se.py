"""Squeeze-and-excitation channel gates (Hu et al., 2018), including a context-conditioned variant.

:class:`ContextGate` squeezes a feature map *and* a context map (e.g. a coarser pyramid level) by global average
pooling, and excites the feature map's channels from both; this is the top-down re-calibration of multi-scale
feature-attention networks (Yan et al., 2019).
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn


class SqueezeExcitation(nn.Module):
    """x * sigmoid(W2 relu(W1 gap(x))), with a ``reduction`` bottleneck."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.fc = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = torch.sigmoid(self.fc(x.mean(dim=(2, 3))))
        return x * weights[:, :, None, None]


class ContextGate(nn.Module):
    """Channel gate for ``x`` computed from the pooled concatenation [gap(x), gap(context)].

    Args:
        channels: channels of ``x`` (and of the gate).
        context_channels: channels of the context map (its spatial size may differ from ``x``'s).
        hidden: width of the bottleneck (default: ``channels``).
    """

    def __init__(self, channels: int, context_channels: int, hidden: Optional[int] = None) -> None:
        super().__init__()
        hidden = hidden or channels
        self.fc = nn.Sequential(
            nn.Linear(channels + context_channels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, channels)
        )

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        squeezed = torch.cat([x.mean(dim=(2, 3)), context.mean(dim=(2, 3))], dim=1)
        return x * torch.sigmoid(self.fc(squeezed))[:, :, None, None]

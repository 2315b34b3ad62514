"""Multi-band residual block (Wang & Yang, 2019, PerformanceNet): a frequency-by-time map [B, F, T] whose channels
are frequency bins is split into ``bands`` contiguous bands; each band gets its own residual pair of 1-D convolutions
over time, so that every band learns its own texture."""

from __future__ import annotations

import torch
from torch import nn


class MultiBandResidual(nn.Module):
    """x + concat_b(band_b + conv(lrelu(norm(conv(band_b))))) for ``bands`` equal bands of the channel axis."""

    def __init__(self, channels: int, bands: int) -> None:
        super().__init__()
        if channels % bands:
            raise ValueError(f"MultiBandResidual: {channels} channels do not split into {bands} equal bands")
        self.bands = bands
        width = channels // bands
        self.branches = nn.ModuleList(
            nn.Sequential(
                nn.Conv1d(width, width, 3, padding=1),
                nn.InstanceNorm1d(width),
                nn.LeakyReLU(0.01, inplace=True),
                nn.Conv1d(width, width, 3, padding=1),
                nn.InstanceNorm1d(width),
            )
            for _ in range(bands)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        chunks = torch.chunk(x, self.bands, dim=1)
        return x + torch.cat([chunk + branch(chunk) for chunk, branch in zip(chunks, self.branches)], dim=1)

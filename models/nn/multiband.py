"""Multi-band residual block (Wang & Yang, 2019, PerformanceNet): a frequency-by-time map [B, F, T] whose channels
are frequency bins is split into ``bands`` contiguous bands; each band gets its own residual pair of 1-D convolutions
over time, so that every band learns its own texture.

The defaults are PerformanceNet's sub-block (conv, InstanceNorm, LeakyReLU, conv, InstanceNorm, plus a residual per
band inside the block's own residual). ``norm=False, activation="relu", band_residual=False`` give the plain sub-block
conv-ReLU-conv whose concatenated outputs are added to the input once (MI Net §3.1)."""

from __future__ import annotations

import torch
from torch import nn


class MultiBandResidual(nn.Module):
    """x + concat_b(band_b + conv(lrelu(norm(conv(band_b))))) for ``bands`` equal bands of the channel axis.

    Args:
        channels: input and output channels (frequency bins or features), split into ``bands`` equal bands.
        bands: number of bands, each with its own sub-block weights.
        kernel: temporal kernel of both convolutions (odd; "same" padding).
        norm: InstanceNorm after each convolution.
        activation: ``lrelu`` (slope 0.01) or ``relu`` between the convolutions.
        band_residual: add each band's input to its sub-block's output before the concatenation.
    """

    def __init__(
        self,
        channels: int,
        bands: int,
        kernel: int = 3,
        norm: bool = True,
        activation: str = "lrelu",
        band_residual: bool = True,
    ) -> None:
        super().__init__()
        if channels % bands:
            raise ValueError(f"MultiBandResidual: {channels} channels do not split into {bands} equal bands")
        if kernel % 2 != 1:
            raise ValueError(f"MultiBandResidual: kernel must be odd, got {kernel}")
        if activation not in ("lrelu", "relu"):
            raise ValueError(f"MultiBandResidual: activation must be lrelu or relu, got {activation!r}")
        self.bands = bands
        self.band_residual = band_residual
        width = channels // bands

        def branch() -> nn.Sequential:
            act = nn.LeakyReLU(0.01, inplace=True) if activation == "lrelu" else nn.ReLU(inplace=True)
            layers: list[nn.Module] = [nn.Conv1d(width, width, kernel, padding=kernel // 2)]
            layers += [nn.InstanceNorm1d(width)] if norm else []
            layers += [act, nn.Conv1d(width, width, kernel, padding=kernel // 2)]
            layers += [nn.InstanceNorm1d(width)] if norm else []
            return nn.Sequential(*layers)

        self.branches = nn.ModuleList(branch() for _ in range(bands))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        chunks = torch.chunk(x, self.bands, dim=1)
        if self.band_residual:
            return x + torch.cat([chunk + branch(chunk) for chunk, branch in zip(chunks, self.branches)], dim=1)
        return x + torch.cat([branch(chunk) for chunk, branch in zip(chunks, self.branches)], dim=1)

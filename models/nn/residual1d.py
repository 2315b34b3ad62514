"""1-D convolutional residual block over a [B, C, T] sequence: ``x + conv(act(conv(act(x))))``.

The pre-activation form of the VQ-VAE's residual block (van den Oord et al. 2017, §4.1: ReLU, 3-wide convolution,
ReLU, 1-wide convolution), for sequences: a ``kernel``-wide convolution to ``hidden`` channels, then a 1-wide one back
to ``channels``. Lengths are kept ("same" padding, optional dilation).
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn


class Residual1d(nn.Module):
    """``x + conv_1x1(act(conv_k(act(x))))``.

    Args:
        channels: input and output channels.
        hidden: channels between the two convolutions (default: ``channels``).
        kernel: width of the first convolution (odd).
        dilation: dilation of the first convolution.
        activation: ``relu`` or ``lrelu`` (slope 0.01).
    """

    def __init__(
        self,
        channels: int,
        hidden: Optional[int] = None,
        kernel: int = 3,
        dilation: int = 1,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        if kernel % 2 != 1:
            raise ValueError(f"Residual1d: kernel must be odd, got {kernel}")
        if activation not in ("relu", "lrelu"):
            raise ValueError(f"Residual1d: activation must be relu or lrelu, got {activation!r}")
        hidden = hidden or channels

        def act() -> nn.Module:
            return nn.ReLU() if activation == "relu" else nn.LeakyReLU(0.01)

        self.block = nn.Sequential(
            act(),
            nn.Conv1d(channels, hidden, kernel, padding=dilation * (kernel // 2), dilation=dilation),
            act(),
            nn.Conv1d(hidden, channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


__all__ = ["Residual1d"]

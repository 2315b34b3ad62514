"""1-D temporal convolution encoder for per-frame feature sequences ``[B, T, D] -> [B, T / prod(strides), out_dim]``:
input BatchNorm, then Conv1d-BN-ReLU blocks (residual where shapes allow), then a 1x1 projection. The frame-feature
counterpart of :class:`models.nn.stgcn.STGCN` (same output rate for the same strides), for models that condition on
appearance or optical-flow features instead of keypoints."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn


class TemporalConvEncoder(nn.Module):
    """Args:
    in_dim: per-frame feature width. out_dim: output width. channels: width of each block.
    strides: temporal stride of each block (same length as ``channels``). kernel: temporal kernel (odd).
    dropout: dropout after each block.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int = 512,
        channels: Sequence[int] = (256, 256, 256),
        strides: Sequence[int] = (1, 2, 2),
        kernel: int = 9,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if len(channels) != len(strides):
            raise ValueError(f"channels {channels} and strides {strides} must have the same length")
        if kernel % 2 != 1:
            raise ValueError(f"kernel must be odd, got {kernel}")
        self.input_norm = nn.BatchNorm1d(in_dim)
        self.blocks = nn.ModuleList()
        self.shortcuts = nn.ModuleList()
        width = in_dim
        for out, stride in zip(channels, strides):
            self.blocks.append(
                nn.Sequential(
                    nn.Conv1d(width, out, kernel, stride, kernel // 2),
                    nn.BatchNorm1d(out),
                    nn.ReLU(),
                    nn.Dropout(dropout),
                )
            )
            self.shortcuts.append(
                nn.Identity() if width == out and stride == 1 else nn.Conv1d(width, out, 1, stride, bias=False)
            )
            width = out
        self.proj = nn.Conv1d(width, out_dim, 1)
        self.downsample = 1
        for stride in strides:
            self.downsample *= stride

    def forward(self, features: Tensor) -> Tensor:
        x = self.input_norm(features.transpose(1, 2))
        for block, shortcut in zip(self.blocks, self.shortcuts):
            x = block(x) + shortcut(x)
        return self.proj(x).transpose(1, 2)

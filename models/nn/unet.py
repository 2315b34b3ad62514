"""U-Net (Ronneberger et al., 2015) for 1-D sequences or 2-D maps, with stride-1 or stride-2 levels.

Encoder level i: conv -> [norm] -> LeakyReLU(0.2) -> [dropout]; decoder level j: transposed conv -> norm -> ReLU ->
[dropout], then concatenation with the encoder level of the same resolution; a 1x1 conv maps the last decoder output
(+ the first encoder skip) to ``out_channels``.

* ``stride=1``: every level keeps the resolution (3x3 convs), only the width changes;
* ``stride=2``: level 0 keeps the resolution, each further level halves it (4x4 convs, stride 2); the input is padded
  to a multiple of 2**(depth-1) and the output cropped back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Optional, Union

import torch
import torch.nn.functional as F
from torch import nn

Dropout = Union[float, Sequence[float]]


def _per_level(value: Dropout, count: int, name: str) -> list[float]:
    if isinstance(value, (int, float)):
        return [float(value)] * count
    values = [float(v) for v in value]
    if len(values) != count:
        raise ValueError(f"UNet: {name} has {len(values)} entries for {count} levels")
    return values


class UNet(nn.Module):
    """Args:
    in_channels, out_channels: channels of input and output.
    down_channels: widths of the encoder levels (their count is the depth).
    up_channels: widths of the decoder levels (default: the encoder widths reversed, without the deepest).
    stride: 1 (resolution kept) or 2 (halved at each level after the first).
    down_dropout, up_dropout: dropout after each encoder / decoder level (a number or one per level).
    dims: 1 (sequences [B, C, T]) or 2 (maps [B, C, H, W]).
    norm: "batch" or "instance" normalisation (the first encoder level has none).
    out_activation: "sigmoid", "relu" or "none".
    norm_eps: the normalisation layers' epsilon (PyTorch's 1e-5; a value such as 0.8 damps the normalisation of
        low-variance channels).
    dropout_mode: "channel" drops whole feature maps (``Dropout2d`` / ``Dropout1d``), "element" single activations
        (``Dropout``).
    first_bias: a bias on the first encoder convolution (the only one without a normalisation after it).
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        down_channels: Sequence[int] = (64, 128, 256, 512, 1024),
        up_channels: Optional[Sequence[int]] = None,
        stride: Literal[1, 2] = 2,
        down_dropout: Dropout = 0.0,
        up_dropout: Dropout = 0.0,
        dims: Literal[1, 2] = 2,
        norm: Literal["batch", "instance"] = "batch",
        out_activation: Literal["sigmoid", "relu", "none"] = "none",
        norm_eps: float = 1e-5,
        dropout_mode: Literal["channel", "element"] = "channel",
        first_bias: bool = True,
    ) -> None:
        super().__init__()
        down_channels = [int(c) for c in down_channels]
        depth = len(down_channels)
        if depth < 2:
            raise ValueError("UNet: needs at least two levels")
        up_channels = [int(c) for c in (up_channels or down_channels[-2::-1])]
        if len(up_channels) != depth - 1:
            raise ValueError(f"UNet: {len(up_channels)} decoder widths for {depth} encoder levels (need {depth - 1})")
        if dropout_mode not in ("channel", "element"):
            raise ValueError(f"UNet: dropout_mode must be 'channel' or 'element', got {dropout_mode!r}")
        if stride not in (1, 2) or dims not in (1, 2):
            raise ValueError(f"UNet: stride must be 1 or 2 and dims 1 or 2, got stride={stride}, dims={dims}")
        self.stride, self.dims, self.depth = stride, dims, depth
        conv = nn.Conv1d if dims == 1 else nn.Conv2d
        deconv = nn.ConvTranspose1d if dims == 1 else nn.ConvTranspose2d
        if norm == "batch":
            norm_class = nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d
        else:
            norm_class = nn.InstanceNorm1d if dims == 1 else nn.InstanceNorm2d

        def norm_layer(channels: int) -> nn.Module:
            return norm_class(channels, eps=norm_eps)

        if dropout_mode == "element":
            dropout_layer: type[nn.Module] = nn.Dropout
        else:
            dropout_layer = nn.Dropout1d if dims == 1 else nn.Dropout2d
        down_p = _per_level(down_dropout, depth, "down_dropout")
        up_p = _per_level(up_dropout, depth - 1, "up_dropout")

        self.downs = nn.ModuleList()
        previous = in_channels
        for level, (channels, p) in enumerate(zip(down_channels, down_p)):
            if stride == 1 or level == 0:
                bias = level == 0 and first_bias
                layers: list[nn.Module] = [conv(previous, channels, 3, stride=1, padding=1, bias=bias)]
            else:
                layers = [conv(previous, channels, 4, stride=2, padding=1, bias=False)]
            if level > 0:
                layers.append(norm_layer(channels))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            if p > 0:
                layers.append(dropout_layer(p))
            self.downs.append(nn.Sequential(*layers))
            previous = channels

        self.ups = nn.ModuleList()
        for j, (channels, p) in enumerate(zip(up_channels, up_p)):
            if stride == 1:
                layers = [deconv(previous, channels, 3, stride=1, padding=1, bias=False)]
            else:
                layers = [deconv(previous, channels, 4, stride=2, padding=1, bias=False)]
            layers += [norm_layer(channels), nn.ReLU(inplace=True)]
            if p > 0:
                layers.append(dropout_layer(p))
            self.ups.append(nn.Sequential(*layers))
            previous = channels + down_channels[depth - 2 - j]
        self.head = conv(previous, out_channels, 1)
        self.out_activation = out_activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[2:]
        if self.stride == 2:
            multiple = 2 ** (self.depth - 1)
            pads: list[int] = []
            for extent in reversed(size):
                pads += [0, (-extent) % multiple]
            x = F.pad(x, pads)
        skips = []
        for down in self.downs:
            x = down(x)
            skips.append(x)
        x = skips.pop()
        for up in self.ups:
            x = torch.cat([up(x), skips.pop()], dim=1)
        x = self.head(x)
        if self.stride == 2:
            x = x[(..., *[slice(0, extent) for extent in size])]
        if self.out_activation == "sigmoid":
            return torch.sigmoid(x)
        if self.out_activation == "relu":
            return F.relu(x)
        return x

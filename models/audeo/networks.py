"""Audeo's networks (Su, Liu & Shlizerman, NeurIPS 2020, §3): Video2Roll Net, Roll2Midi's generator, and PerfNet
(PerformanceNet, Wang & Yang 2019) as the deep Midi synthesizer. Built from the paper-agnostic blocks of models/nn."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from models.nn.feature_pyramid import CrossScaleAttention, ResidualTransform
from models.nn.multiband import MultiBandResidual
from models.nn.resnet import ResNetBackbone
from models.nn.se import ContextGate
from models.nn.unet import UNet


class Video2RollNet(nn.Module):
    """Multi-scale feature-attention ResNet-18 (§3 "Video2Roll Net", Fig. 2): [B, 5, H, W] -> key logits [B, K].

    ``feature_transform`` picks how the feature-transform blocks bring each level to the last stage's grid:

    * ``"released"`` (default): as the released code, a 1x1 projection with padding 1 (the map grows by 2 in H and W)
      and a fixed 2x2 / stride-2 average pool (3x3 / stride 1 for the last stage). Only some frame sizes land every
      level on the same grid (100 x 900: all at 4 x 29); others raise an error naming the grids.
    * ``"adaptive"``: a 1x1 projection without padding and an adaptive average pool to the last stage's grid, which
      works for any frame size (the small crops of the debug and smoke configs; 3.6 % fewer FLOPs at 100 x 900).
    """

    def __init__(
        self,
        keys: int = 51,
        in_frames: int = 5,
        widths: Sequence[int] = (64, 128, 256, 512),
        blocks: Sequence[int] = (2, 2, 2, 2),
        feature_channels: int = 128,
        top_channels: int = 64,
        feature_transform: Literal["released", "adaptive"] = "released",
    ) -> None:
        super().__init__()
        if feature_transform not in ("released", "adaptive"):
            raise ValueError(f"Video2RollNet: feature_transform is released or adaptive, not {feature_transform!r}")
        self.backbone = ResNetBackbone(in_frames, widths, blocks, stem_kernel=11, stem_stride=2, stem_padding=4)
        c = feature_channels
        released = feature_transform == "released"
        half, three = ((2, 2), (3, 1)) if released else (None, None)
        pad = 1 if released else 0
        # feature transform (stage 2 is transformed twice, as it is two pyramid steps below the top)
        self.transform2a = ResidualTransform(widths[1], c, pad, half)
        self.transform2b = ResidualTransform(c, c, pad, half)
        self.transform3 = ResidualTransform(widths[2], c, pad, half)
        self.transform4 = ResidualTransform(widths[3], c, pad, three)
        self.top = nn.Sequential(nn.Conv2d(widths[3], top_channels, 1), nn.BatchNorm2d(top_channels), nn.ReLU(True))
        # top-down refinement: each level re-calibrated by the level above it
        self.gate4 = ContextGate(c, top_channels)
        self.gate3 = ContextGate(c, c)
        self.gate2 = ContextGate(c, c)
        self.correlation = CrossScaleAttention(c)
        self.classifier = nn.Linear(c, keys)

    def refined(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The refined levels (R1, R2, R3) on the grid of the last stage."""
        _, c2, c3, c4 = self.backbone(x)
        grid = tuple(c4.shape[-2:])
        t2 = self.transform2b(self.transform2a(c2, size=tuple(c3.shape[-2:])), size=grid)
        t3 = self.transform3(c3, size=grid)
        t4 = self.transform4(c4, size=grid)
        r3 = self.gate4(t4, self.top(c4))
        r2 = self.gate3(t3, r3)
        r1 = self.gate2(t2, r2)
        return r1, r2, r3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r1, r2, r3 = self.refined(x)
        features = self.correlation(r1, r2, r3).mean(dim=(2, 3))
        return self.classifier(features)


def roll2midi_generator(
    down: Sequence[int] = (64, 128, 256, 512, 1024, 1024),
    up: Sequence[int] = (512, 256, 128, 64, 16),
    down_dropout: Sequence[float] = (0.0, 0.0, 0.5, 0.5, 0.5, 0.5),
    up_dropout: Sequence[float] = (0.5, 0.5, 0.5, 0.0, 0.0),
    norm_eps: float = 0.8,
    dropout_mode: Literal["channel", "element"] = "element",
    first_bias: bool = False,
) -> UNet:
    """Roll2Midi's U-Net generator: 1 x keys x 100 probabilities -> 1 x keys x 100 Midi probabilities (sigmoid).

    Defaults are the released code's: ``BatchNorm2d(C, 0.8)`` sets eps = 0.8 (probably meant as the momentum, but it is
    what produced the paper's Table 1), element-wise ``Dropout``, and no bias on any convolution but the last.
    """
    return UNet(
        1, 1, down, up, stride=1, down_dropout=down_dropout, up_dropout=up_dropout, out_activation="sigmoid",
        norm_eps=norm_eps, dropout_mode=dropout_mode, first_bias=first_bias,
    )  # fmt: skip


class PerfNet(nn.Module):
    """PerformanceNet (Wang & Yang, AAAI 2019) as Audeo's deep synthesizer: roll [B, K, T] -> log-spectrogram [B, F, T].

    ContourNet: a 1-D U-Net over time whose input channels are the keys' roll and their onset roll (PerformanceNet
    conditions on onsets and offsets; offsets are left out here, as the roll's falling edges already mark them);
    TextureNet: multi-band residual blocks with 2, 4, 8,
    16 bands; a final conv to the frequency bins.
    """

    def __init__(
        self,
        keys: int = 51,
        n_bins: int = 576,
        down: Sequence[int] = (256, 512, 1024, 2048, 4096),
        up: Sequence[int] = (2048, 1024, 1024, 1024),
        width: int = 1024,
        bands: Sequence[int] = (2, 4, 8, 16),
    ) -> None:
        super().__init__()
        self.contour = UNet(2 * keys, width, down, up, stride=2, dims=1, norm="instance")
        self.texture = nn.Sequential(*[MultiBandResidual(width, b) for b in bands])
        self.head = nn.Conv1d(width, n_bins, 3, padding=1)

    def forward(self, roll: torch.Tensor) -> torch.Tensor:
        onset = F.relu(roll - F.pad(roll, (1, 0))[..., :-1])
        x = self.contour(torch.cat([roll, onset], dim=1))
        return self.head(F.leaky_relu(self.texture(x), 0.01))


__all__ = ["PerfNet", "Video2RollNet", "roll2midi_generator"]

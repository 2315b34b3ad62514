"""ResNet building blocks (He et al., 2016, "Deep residual learning"): BasicBlock, stages and a multi-scale backbone.

Written in the project because torchvision does not run beside the CPU torch build used here. The backbone takes any
number of input channels and any stem (kernel, stride, padding), and returns the output of every stage so that a
model can build a feature pyramid on top.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with an identity (or 1x1 conv-BN projection) shortcut; ResNet-18/34 block."""

    expansion = 1

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


def resnet_stage(in_channels: int, out_channels: int, blocks: int, stride: int = 1) -> nn.Sequential:
    """``blocks`` BasicBlocks; the first one changes width / resolution."""
    layers = [BasicBlock(in_channels, out_channels, stride)]
    layers += [BasicBlock(out_channels, out_channels) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class ResNetBackbone(nn.Module):
    """Stem (conv-BN-ReLU-maxpool) + four BasicBlock stages; ``forward`` returns the four stage outputs.

    Args:
        in_channels: input channels (3 for RGB, or a stack of grayscale frames).
        widths: channels of the four stages (ResNet-18: 64, 128, 256, 512).
        blocks: BasicBlocks per stage (ResNet-18: 2, 2, 2, 2).
        stem_kernel, stem_stride, stem_padding: the first convolution (ImageNet ResNet: 7, 2, 3).
    """

    def __init__(
        self,
        in_channels: int = 3,
        widths: Sequence[int] = (64, 128, 256, 512),
        blocks: Sequence[int] = (2, 2, 2, 2),
        stem_kernel: int = 7,
        stem_stride: int = 2,
        stem_padding: int = 3,
    ) -> None:
        super().__init__()
        if len(widths) != len(blocks):
            raise ValueError(f"ResNetBackbone: widths {tuple(widths)} and blocks {tuple(blocks)} differ in length")
        self.widths = tuple(widths)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, widths[0], stem_kernel, stride=stem_stride, padding=stem_padding, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        stages, previous = [], widths[0]
        for index, (width, count) in enumerate(zip(widths, blocks)):
            stages.append(resnet_stage(previous, width, count, stride=1 if index == 0 else 2))
            previous = width
        self.stages = nn.ModuleList(stages)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """He-normal convolutions (fan-out) and unit BatchNorm, as in the original ResNet."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = self.stem(x)
        features = []
        for stage in self.stages:
            h = stage(h)
            features.append(h)
        return features

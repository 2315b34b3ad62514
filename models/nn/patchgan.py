"""PatchGAN discriminator (Isola et al., 2017, pix2pix): a fully convolutional classifier of overlapping patches.

Each layer is conv(k, stride) -> [InstanceNorm] -> LeakyReLU(0.2); a final conv maps to one real/fake score per patch
(no sigmoid: use it with a least-squares or with-logits loss). ``gan_init`` is the DCGAN initialisation (Radford et al.,
2016) pix2pix uses for its generator and this discriminator.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

# (out_channels, stride, instance_norm) per layer; pix2pix's 70x70 PatchGAN uses 64 s2, 128 s2 IN, 256 s2 IN, 512 s1 IN.
DEFAULT_LAYERS: tuple[tuple[int, int, bool], ...] = ((64, 2, False), (128, 2, True), (256, 2, True), (512, 1, True))


def gan_init(module: nn.Module) -> None:
    """DCGAN initialisation, for ``net.apply(gan_init)``: convs N(0, 0.02), BatchNorm weight N(1, 0.02), bias 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class PatchDiscriminator(nn.Module):
    """Args: in_channels; layers: (channels, stride, instance_norm) triples; kernel_size of every conv."""

    def __init__(
        self,
        in_channels: int = 1,
        layers: Sequence[Sequence] = DEFAULT_LAYERS,
        kernel_size: int = 3,
    ) -> None:
        super().__init__()
        modules: list[nn.Module] = []
        previous = in_channels
        padding = kernel_size // 2
        for channels, stride, norm in layers:
            channels, stride = int(channels), int(stride)
            modules.append(nn.Conv2d(previous, channels, kernel_size, stride=stride, padding=padding))
            if norm:
                modules.append(nn.InstanceNorm2d(channels))
            modules.append(nn.LeakyReLU(0.2, inplace=True))
            previous = channels
        modules.append(nn.Conv2d(previous, 1, kernel_size, stride=1, padding=padding))
        self.model = nn.Sequential(*modules)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, H, W] -> patch scores [B, 1, H', W']."""
        return self.model(x)

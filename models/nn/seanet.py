"""SEANet-style convolutional waveform encoder and decoder (Tagliasacchi et al. 2020; as used by Zeghidour et al.
2021, §3.1, and Défossez et al. 2022, §3.1).

Encoder: ``Conv1d(k=7)`` with ``C`` channels, then one block per stride ``s``: residual units with dilations
1, 3, 9 (``ELU → Conv(k=7, dilation d) → ELU → Conv(k=1)``, added to the input) followed by ``ELU → Conv(k=2s,
stride s)`` that doubles the channels; finally ``ELU → Conv(k=3)`` to the embedding dimension ``D``. With strides
2·4·5·8 a 16 kHz waveform becomes 50 embeddings per second. The decoder mirrors it: ``Conv(k=7)`` to ``C·2^n``
channels, one block per stride (reversed) with ``ELU → ConvTranspose(k=2s, stride s)`` halving the channels and the
same residual units, and ``ELU → Conv(k=7)`` back to the waveform.

``causal=True`` pads every convolution on the left only (and trims a transposed convolution's extra samples on the
right), so an output at time t depends on inputs up to t only (streamable); otherwise padding is split evenly.
Inputs whose length is not a multiple of the hop (product of the strides) are zero-padded on the right to the next
multiple: ``T`` samples give ``ceil(T / hop)`` embeddings, and ``F`` embeddings decode to ``F · hop`` samples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm


def _normed(module: nn.Module, norm: str) -> nn.Module:
    if norm == "weight_norm":
        return weight_norm(module)
    if norm == "none":
        return module
    raise ValueError(f"norm must be 'weight_norm' or 'none' (got {norm!r})")


class PaddedConv1d(nn.Module):
    """``Conv1d`` with causal (left) or centred "same"-style padding; output length ``ceil(T / stride)`` when ``T``
    is a multiple of the stride."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        dilation: int = 1,
        causal: bool = True,
        norm: str = "weight_norm",
    ) -> None:
        super().__init__()
        self.conv = _normed(nn.Conv1d(in_channels, out_channels, kernel_size, stride, dilation=dilation), norm)
        self.padding = (kernel_size - 1) * dilation - (stride - 1)
        self.causal = causal

    def forward(self, x: Tensor) -> Tensor:
        pad = max(self.padding, 0)
        left = pad if self.causal else pad - pad // 2
        return self.conv(F.pad(x, (left, pad - left)))


class PaddedConvTranspose1d(nn.Module):
    """``ConvTranspose1d`` trimmed to exactly ``T · stride`` samples (causal: trim on the right)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int,
        causal: bool = True,
        norm: str = "weight_norm",
    ) -> None:
        super().__init__()
        self.conv = _normed(nn.ConvTranspose1d(in_channels, out_channels, kernel_size, stride), norm)
        self.trim = kernel_size - stride
        self.causal = causal

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv(x)
        right = self.trim if self.causal else self.trim // 2
        left = self.trim - right
        return y[..., left : y.shape[-1] - right]


class ResidualUnit(nn.Module):
    """``x + Conv(k=1)(ELU(Conv(k, dilation)(ELU(x))))`` (channel count kept)."""

    def __init__(
        self, channels: int, kernel_size: int = 7, dilation: int = 1, causal: bool = True, norm: str = "weight_norm"
    ) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.ELU(),
            PaddedConv1d(channels, channels, kernel_size, dilation=dilation, causal=causal, norm=norm),
            nn.ELU(),
            PaddedConv1d(channels, channels, 1, causal=causal, norm=norm),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.block(x)


def _check_strides(strides: Sequence[int]) -> tuple[int, ...]:
    strides = tuple(int(s) for s in strides)
    if not strides or any(s < 1 for s in strides):
        raise ValueError(f"strides must be a non-empty list of positive integers (got {strides})")
    return strides


class SEANetEncoder(nn.Module):
    """Waveform ``[B, channels, T]`` -> embeddings ``[B, dimension, ceil(T / hop)]`` (see the module docstring).

    Args:
        channels: audio channels.
        base_channels: C, channels of the first convolution (doubled by every block).
        dimension: D, embedding width.
        strides: downsampling factors, applied in order (hop = their product).
        kernel_size: first convolution's kernel. residual_kernel_size: dilated convolutions' kernel.
        last_kernel_size: final convolution's kernel.
        dilations: dilations of the residual units of every block.
        causal: causal padding. norm: ``"weight_norm"`` or ``"none"``.
    """

    def __init__(
        self,
        channels: int = 1,
        base_channels: int = 32,
        dimension: int = 128,
        strides: Sequence[int] = (2, 4, 5, 8),
        kernel_size: int = 7,
        residual_kernel_size: int = 7,
        last_kernel_size: int = 3,
        dilations: Sequence[int] = (1, 3, 9),
        causal: bool = True,
        norm: str = "weight_norm",
    ) -> None:
        super().__init__()
        self.strides = _check_strides(strides)
        self.hop_length = math.prod(self.strides)
        self.channels = channels
        self.dimension = dimension
        layers: list[nn.Module] = [PaddedConv1d(channels, base_channels, kernel_size, causal=causal, norm=norm)]
        width = base_channels
        for stride in self.strides:
            layers += [ResidualUnit(width, residual_kernel_size, d, causal, norm) for d in dilations]
            layers += [nn.ELU(), PaddedConv1d(width, 2 * width, 2 * stride, stride, causal=causal, norm=norm)]
            width *= 2
        layers += [nn.ELU(), PaddedConv1d(width, dimension, last_kernel_size, causal=causal, norm=norm)]
        self.model = nn.Sequential(*layers)

    def frame_rate(self, sample_rate: int) -> float:
        """Embeddings per second at ``sample_rate``."""
        return sample_rate / self.hop_length

    def forward(self, audio: Tensor) -> Tensor:
        if audio.dim() != 3 or audio.shape[1] != self.channels:
            raise ValueError(f"SEANetEncoder: expected audio [B, {self.channels}, T], got {tuple(audio.shape)}")
        extra = (-audio.shape[-1]) % self.hop_length
        if extra:
            audio = F.pad(audio, (0, extra))
        return self.model(audio)


class SEANetDecoder(nn.Module):
    """Embeddings ``[B, dimension, F]`` -> waveform ``[B, channels, F · hop]`` (mirror of :class:`SEANetEncoder`;
    ``strides`` are given in the encoder's order and applied reversed)."""

    def __init__(
        self,
        channels: int = 1,
        base_channels: int = 32,
        dimension: int = 128,
        strides: Sequence[int] = (2, 4, 5, 8),
        kernel_size: int = 7,
        residual_kernel_size: int = 7,
        last_kernel_size: int = 7,
        dilations: Sequence[int] = (1, 3, 9),
        causal: bool = True,
        norm: str = "weight_norm",
    ) -> None:
        super().__init__()
        self.strides = _check_strides(strides)
        self.hop_length = math.prod(self.strides)
        self.dimension = dimension
        width = base_channels * 2 ** len(self.strides)
        layers: list[nn.Module] = [PaddedConv1d(dimension, width, kernel_size, causal=causal, norm=norm)]
        for stride in reversed(self.strides):
            layers += [nn.ELU(), PaddedConvTranspose1d(width, width // 2, 2 * stride, stride, causal, norm)]
            width //= 2
            layers += [ResidualUnit(width, residual_kernel_size, d, causal, norm) for d in dilations]
        layers += [nn.ELU(), PaddedConv1d(width, channels, last_kernel_size, causal=causal, norm=norm)]
        self.model = nn.Sequential(*layers)

    def forward(self, embeddings: Tensor) -> Tensor:
        if embeddings.dim() != 3 or embeddings.shape[1] != self.dimension:
            raise ValueError(
                f"SEANetDecoder: expected embeddings [B, {self.dimension}, F], got {tuple(embeddings.shape)}"
            )
        return self.model(embeddings)


__all__ = ["PaddedConv1d", "PaddedConvTranspose1d", "ResidualUnit", "SEANetDecoder", "SEANetEncoder"]

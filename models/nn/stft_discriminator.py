"""Multi-scale STFT discriminator: one 2-D convolutional discriminator per STFT resolution, reading the real and
imaginary parts of the complex spectrogram as channels (Défossez et al. 2022, §3.4; the single-resolution STFT
discriminator of Zeghidour et al. 2021, §3.5, is the one-scale case).

Per scale: ``Conv2d(k=(3, 9))``, then one ``Conv2d(k=(3, 9), stride (1, 2), dilation (d, 1))`` per time dilation
``d`` (1, 2, 4: the frequency axis is halved each time, the channel count multiplied by ``filters_scale``), a
``Conv2d(k=3)`` and a final ``Conv2d(k=3)`` to one logit per (frame, band) cell; LeakyReLU(0.2) after every
convolution but the last; weight normalisation. Inputs ``[B, T]`` or ``[B, C, T]`` waveforms; outputs, per scale,
the logits ``[B, 1, frames, bands]`` and the feature maps (the activations of every hidden convolution) that
:func:`models.nn.adversarial_losses.feature_matching_loss` compares.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm


def _padding(kernel: tuple[int, int], dilation: tuple[int, int] = (1, 1)) -> tuple[int, int]:
    return ((kernel[0] - 1) * dilation[0] // 2, (kernel[1] - 1) * dilation[1] // 2)


class STFTDiscriminator(nn.Module):
    """2-D convolutional discriminator on one complex STFT resolution (see the module docstring).

    Args:
        n_fft, hop_length, win_length: the STFT (Hann window, ``normalized``).
        in_channels: audio channels. filters: channels of the first convolution.
        filters_scale: channel growth per dilated convolution. max_filters: cap on the channels.
        dilations: time dilations of the strided convolutions. kernel_size: (time, frequency) kernel.
    """

    def __init__(
        self,
        n_fft: int = 1024,
        hop_length: int = 256,
        win_length: int = 1024,
        in_channels: int = 1,
        filters: int = 32,
        filters_scale: int = 1,
        max_filters: int = 1024,
        dilations: Sequence[int] = (1, 2, 4),
        kernel_size: tuple[int, int] = (3, 9),
    ) -> None:
        super().__init__()
        self.n_fft, self.hop_length, self.in_channels = n_fft, hop_length, in_channels
        self.register_buffer("window", torch.hann_window(win_length), persistent=False)
        kernel = tuple(kernel_size)
        convs = [weight_norm(nn.Conv2d(2 * in_channels, filters, kernel, padding=_padding(kernel)))]
        width = filters
        for i, d in enumerate(dilations):
            out = min(filters_scale ** (i + 1) * filters, max_filters)
            pad = _padding(kernel, (d, 1))
            convs.append(weight_norm(nn.Conv2d(width, out, kernel, stride=(1, 2), dilation=(d, 1), padding=pad)))
            width = out
        convs.append(weight_norm(nn.Conv2d(width, width, (3, 3), padding=(1, 1))))
        self.convs = nn.ModuleList(convs)
        self.post = weight_norm(nn.Conv2d(width, 1, (3, 3), padding=(1, 1)))
        self.activation = nn.LeakyReLU(0.2)

    def spectrogram(self, audio: Tensor) -> Tensor:
        """``[B, 2·C, frames, bins]``: real and imaginary parts of the normalised complex STFT of every channel."""
        if audio.dim() == 2:
            audio = audio[:, None]
        if audio.dim() != 3 or audio.shape[1] != self.in_channels:
            raise ValueError(f"STFTDiscriminator: expected audio [B, {self.in_channels}, T], got {tuple(audio.shape)}")
        b, c, t = audio.shape
        spec = torch.stft(
            audio.reshape(b * c, t).float(),
            self.n_fft,
            self.hop_length,
            self.window.shape[0],
            window=self.window,
            normalized=True,
            center=True,
            pad_mode="reflect",
            return_complex=True,
        )  # [B·C, bins, frames]
        spec = torch.view_as_real(spec).reshape(b, c, spec.shape[-2], spec.shape[-1], 2)
        return spec.permute(0, 1, 4, 3, 2).reshape(b, 2 * c, spec.shape[3], spec.shape[2])

    def forward(self, audio: Tensor) -> tuple[Tensor, list[Tensor]]:
        """``(logits [B, 1, frames, bands], feature maps)`` of a waveform."""
        x = self.spectrogram(audio)
        features = []
        for conv in self.convs:
            x = self.activation(conv(x))
            features.append(x)
        return self.post(x), features


class MultiScaleSTFTDiscriminator(nn.Module):
    """One :class:`STFTDiscriminator` per (n_fft, hop, window) resolution.

    Args:
        n_ffts, hop_lengths, win_lengths: the resolutions (defaults 1024/256, 2048/512, 512/128).
        **kwargs: passed to every :class:`STFTDiscriminator` (``filters``, ``in_channels``, ...).
    """

    def __init__(
        self,
        n_ffts: Sequence[int] = (1024, 2048, 512),
        hop_lengths: Sequence[int] = (256, 512, 128),
        win_lengths: Sequence[int] = (1024, 2048, 512),
        **kwargs,
    ) -> None:
        super().__init__()
        if not len(n_ffts) == len(hop_lengths) == len(win_lengths):
            raise ValueError("MultiScaleSTFTDiscriminator: n_ffts, hop_lengths and win_lengths differ in length")
        self.discriminators = nn.ModuleList(
            STFTDiscriminator(n, h, w, **kwargs) for n, h, w in zip(n_ffts, hop_lengths, win_lengths)
        )

    def forward(self, audio: Tensor) -> tuple[list[Tensor], list[list[Tensor]]]:
        """``(logits per scale, feature maps per scale)``."""
        logits, features = [], []
        for discriminator in self.discriminators:
            out, maps = discriminator(audio)
            logits.append(out)
            features.append(maps)
        return logits, features


__all__ = ["MultiScaleSTFTDiscriminator", "STFTDiscriminator"]

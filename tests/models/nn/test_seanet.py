"""SEANet-style conv encoder/decoder (models/nn/seanet.py): shapes, frame rate, causality, padding."""

from __future__ import annotations

import pytest
import torch

from models.nn.seanet import PaddedConv1d, PaddedConvTranspose1d, SEANetDecoder, SEANetEncoder


def test_shapes_at_50_hz() -> None:
    torch.manual_seed(0)
    enc = SEANetEncoder(base_channels=4, dimension=16, strides=(2, 4, 5, 8))
    dec = SEANetDecoder(base_channels=4, dimension=16, strides=(2, 4, 5, 8))
    assert enc.hop_length == 320 and enc.frame_rate(16000) == 50.0
    audio = torch.randn(2, 1, 16000)
    z = enc(audio)
    assert z.shape == (2, 16, 50)
    assert dec(z).shape == (2, 1, 16000)
    # channel doubling: 4 -> 8 -> 16 -> 32 -> 64 before the last convolution
    widths = [m.conv.out_channels for m in enc.model if isinstance(m, PaddedConv1d) and m.conv.stride[0] > 1]
    assert widths == [8, 16, 32, 64]
    # a length that is not a multiple of the hop is padded: ceil(T / hop) frames
    assert enc(torch.randn(1, 1, 16001)).shape[-1] == 51
    with pytest.raises(ValueError, match=r"\[B, 1, T\]"):
        enc(torch.randn(2, 16000))


@pytest.mark.parametrize("causal", [True, False])
def test_causality(causal: bool) -> None:
    torch.manual_seed(0)
    enc = SEANetEncoder(base_channels=4, dimension=8, strides=(2, 3), causal=causal).eval()
    dec = SEANetDecoder(base_channels=4, dimension=8, strides=(2, 3), causal=causal).eval()
    audio = torch.randn(1, 1, 120)
    changed = audio.clone()
    changed[..., 60:] = torch.randn(60)  # samples of frames >= 10 (hop 6)
    with torch.no_grad():
        z, z2 = enc(audio), enc(changed)
        assert z.shape == (1, 8, 20)
        assert torch.allclose(z[..., :10], z2[..., :10]) == causal
        assert not torch.allclose(z[..., 10:], z2[..., 10:])
        w = torch.randn(1, 8, 20)
        w2 = w.clone()
        w2[..., 10:] = torch.randn(8, 10)
        y, y2 = dec(w), dec(w2)
        assert y.shape == (1, 1, 120)
        assert torch.allclose(y[..., :60], y2[..., :60]) == causal


def test_padded_convs_by_hand() -> None:
    # causal kernel-2 averaging conv: y[t] = (x[t-1] + x[t]) / 2 with x[-1] = 0
    conv = PaddedConv1d(1, 1, 2, norm="none")
    with torch.no_grad():
        conv.conv.weight.fill_(0.5)
        conv.conv.bias.zero_()
    x = torch.tensor([[[2.0, 4.0, 6.0, 8.0]]])
    assert conv(x).tolist() == [[[1.0, 3.0, 5.0, 7.0]]]
    # strided (k = 2s) convolution of the causal encoder: frame n sees samples n·s - s .. n·s + s - 1
    down = PaddedConv1d(1, 1, 4, stride=2, norm="none")
    with torch.no_grad():
        down.conv.weight.copy_(torch.tensor([[[1.0, 10.0, 100.0, 1000.0]]]))
        down.conv.bias.zero_()
    assert down(x).tolist() == [[[0 + 0 + 2 * 100.0 + 4 * 1000.0, 2 * 1.0 + 4 * 10.0 + 6 * 100.0 + 8 * 1000.0]]]
    # transposed: each input spreads over k = 4 samples, s = 2 apart; causal trim keeps the first T·s
    up = PaddedConvTranspose1d(1, 1, 4, 2, norm="none")
    with torch.no_grad():
        up.conv.weight.copy_(torch.tensor([[[1.0, 2.0, 3.0, 4.0]]]))
        up.conv.bias.zero_()
    assert up(torch.tensor([[[1.0, 10.0]]])).tolist() == [[[1.0, 2.0, 13.0, 24.0]]]
    with pytest.raises(ValueError, match="norm"):
        PaddedConv1d(1, 1, 3, norm="batch")

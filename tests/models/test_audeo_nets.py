"""Audeo's networks and the paper-agnostic blocks they are built from: shapes and numerical sanity."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from datamodules.samplers import MultilabelBalancedSampler
from models.audeo.networks import PerfNet, Video2RollNet, roll2midi_generator
from models.nn.feature_pyramid import CrossScaleAttention, ResidualTransform
from models.nn.multiband import MultiBandResidual
from models.nn.patchgan import DEFAULT_LAYERS, PatchDiscriminator
from models.nn.resnet import BasicBlock, ResNetBackbone
from models.nn.se import ContextGate, SqueezeExcitation
from models.nn.unet import UNet


def test_video2roll_full_size_shapes() -> None:
    """Paper input 5 x 100 x 900 -> 51 logits; the refined levels share the last stage's grid."""
    net = Video2RollNet(keys=51).eval()
    assert sum(p.numel() for p in net.backbone.parameters()) > 11e6  # a real ResNet-18 trunk (5-channel stem)
    assert net.backbone.stem[0].kernel_size == (11, 11) and net.backbone.stem[0].in_channels == 5
    x = torch.rand(1, 5, 100, 900)
    with torch.no_grad():
        r1, r2, r3 = net.refined(x)
        logits = net(x)
    assert logits.shape == (1, 51)
    assert r1.shape == r2.shape == r3.shape and r3.shape[:2] == (1, 128)
    assert r3.shape[-2:] == net.backbone(x)[-1].shape[-2:]


def test_video2roll_88_keys_any_frame_size() -> None:
    small = {"widths": (8, 16, 32, 64), "feature_channels": 16, "top_channels": 8}
    net = Video2RollNet(keys=88, **small, feature_transform="adaptive")
    assert net(torch.rand(3, 5, 40, 300)).shape == (3, 88)


def test_released_options_match_the_released_networks() -> None:
    """Parameter counts of the released code (Video2Roll 12,713,651; Roll2Midi G 25,103,665, D 1,554,433); the
    released feature transform's padded projection and fixed pools put every level on the 4 x 29 grid at 100 x 900,
    and refuse a frame size whose levels do not meet; the released generator's BatchNorm eps is 0.8 and its dropout
    element-wise."""
    count = lambda net: sum(p.numel() for p in net.parameters())  # noqa: E731
    released = Video2RollNet(keys=51).eval()
    assert count(released) == 12_713_651
    assert released.transform2a.project.padding == (1, 1) and released.transform4.pool == (3, 1)
    with torch.no_grad():
        levels = released.refined(torch.rand(1, 5, 100, 900))
    assert all(level.shape[-2:] == (4, 29) for level in levels)
    with pytest.raises(ValueError, match="adaptive pooling"):
        Video2RollNet(keys=51, widths=(8, 16, 32, 64))(torch.rand(1, 5, 32, 288))
    adaptive = Video2RollNet(keys=51, feature_transform="adaptive")
    assert count(adaptive) == 12_713_651 and adaptive.transform2a.project.padding == (0, 0)

    generator = roll2midi_generator()
    assert count(generator) == 25_103_665
    assert count(PatchDiscriminator(1, DEFAULT_LAYERS)) == 1_554_433
    norms = [m for m in generator.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and all(m.eps == 0.8 for m in norms)
    drops = [m for m in generator.modules() if isinstance(m, torch.nn.Dropout | torch.nn.Dropout2d)]
    assert len(drops) == 7 and all(type(m) is torch.nn.Dropout for m in drops)
    assert generator.downs[0][0].bias is None
    textbook = roll2midi_generator(norm_eps=1e-5, dropout_mode="channel", first_bias=True)
    assert count(textbook) == 25_103_665 + 64
    assert all(type(m) is torch.nn.Dropout2d for m in textbook.modules() if isinstance(m, torch.nn.Dropout2d))
    with torch.no_grad():  # element-wise dropout zeroes single activations, not whole maps
        drop = generator.train().downs[2]
        out = drop(torch.rand(1, 128, 51, 100))
    per_map = (out == 0).flatten(2).float().mean(-1)
    assert 0.3 < float(per_map.mean()) < 0.7 and float(per_map.max()) < 1.0


def test_resnet_backbone_strides_and_shortcut() -> None:
    backbone = ResNetBackbone(3, (8, 16, 32, 64))
    features = backbone(torch.rand(2, 3, 64, 64))
    assert [tuple(f.shape[1:]) for f in features] == [(8, 16, 16), (16, 8, 8), (32, 4, 4), (64, 2, 2)]
    block = BasicBlock(8, 8).eval()
    for module in (block.conv1, block.conv2):
        torch.nn.init.zeros_(module.weight)
    x = torch.rand(1, 8, 5, 5)
    assert torch.allclose(block(x), torch.relu(x))  # zero residual branch: identity shortcut (+ ReLU)


def test_attention_is_a_distribution_over_positions() -> None:
    r1, r2, r3 = torch.randn(3, 2, 4, 3, 7).unbind(0)
    attention = CrossScaleAttention.attention(r1, r2)
    assert torch.allclose(attention.sum(dim=(2, 3)), torch.ones(2, 4), atol=1e-6)
    assert (attention >= 0).all()
    module = CrossScaleAttention(4)
    torch.nn.init.zeros_(module.mix.weight)
    torch.nn.init.zeros_(module.mix.bias)
    assert torch.allclose(module(r1, r2, r3), r3)  # residual: a zero mix leaves R3 unchanged
    with pytest.raises(ValueError, match="shapes differ"):
        module(r1, r2, r3[..., :5])


def test_gates_scale_channels_between_zero_and_one() -> None:
    x = torch.rand(2, 6, 5, 5) + 0.1
    gated = ContextGate(6, 3)(x, torch.randn(2, 3, 2, 9))
    ratio = gated / x
    assert ((ratio > 0) & (ratio < 1)).all()
    assert torch.allclose(ratio, ratio[:, :, :1, :1].expand_as(ratio), atol=1e-6)  # one weight per channel
    se = SqueezeExcitation(16, reduction=4)(torch.rand(1, 16, 3, 3))
    assert se.shape == (1, 16, 3, 3)


def test_residual_transform_pools_to_a_grid() -> None:
    out = ResidualTransform(16, 8)(torch.rand(2, 16, 13, 113), size=(4, 29))
    assert out.shape == (2, 8, 4, 29)


def test_roll2midi_generator_and_patchgan_shapes() -> None:
    generator = roll2midi_generator((8, 16, 16, 32, 32, 32), (16, 16, 8, 8, 4)).eval()
    probs = generator(torch.rand(2, 1, 51, 100))
    assert probs.shape == (2, 1, 51, 100) and (probs > 0).all() and (probs < 1).all()
    full = roll2midi_generator()
    assert [d[0].out_channels for d in full.downs] == [64, 128, 256, 512, 1024, 1024]
    assert all(d[0].stride == (1, 1) for d in full.downs)  # stride-1 levels (released code)
    discriminator = PatchDiscriminator(1, DEFAULT_LAYERS)
    assert discriminator(torch.rand(2, 1, 51, 100)).shape == (2, 1, 7, 13)


@pytest.mark.parametrize("size", [(576, 126), (51, 100), (33, 17)])
def test_unet_stride2_keeps_any_size(size: tuple[int, int]) -> None:
    net = UNet(1, 1, (4, 8, 8, 16, 16), stride=2, out_activation="relu")
    out = net(torch.rand(1, 1, *size))
    assert out.shape == (1, 1, *size) and (out >= 0).all()


def test_unet_rejects_bad_levels() -> None:
    with pytest.raises(ValueError, match="decoder widths"):
        UNet(1, 1, (4, 8, 16), up_channels=(8,))
    with pytest.raises(ValueError, match="levels"):
        UNet(1, 1, (4, 8, 16), down_dropout=(0.5,))


def test_multiband_residual_bands_are_independent() -> None:
    block = MultiBandResidual(8, 4)
    x = torch.randn(1, 8, 20)
    y = block(x)
    x2 = x.clone()
    x2[:, 6:] += 1.0  # change only the last band
    y2 = block(x2)
    assert torch.allclose(y[:, :6], y2[:, :6]) and not torch.allclose(y[:, 6:], y2[:, 6:])
    with pytest.raises(ValueError, match="equal bands"):
        MultiBandResidual(10, 4)


def test_perfnet_maps_two_seconds_to_a_spectrogram() -> None:
    net = PerfNet(keys=51, n_bins=576, down=(16, 32, 64), up=(32, 32), width=32, bands=(2, 4))
    assert net(torch.rand(2, 51, 126)).shape == (2, 576, 126)


def test_balanced_sampler_over_samples_rare_keys() -> None:
    labels = np.zeros((1000, 3))
    labels[:900, 0] = 1  # frequent key
    labels[900:905, 1] = 1  # rare key
    labels[905:, 2] = 0  # all-zero rows
    sampler = MultilabelBalancedSampler(labels, num_samples=3000, generator=torch.Generator().manual_seed(0))
    drawn = np.array(list(sampler))
    assert len(drawn) == 3000
    rare = np.isin(drawn, np.arange(900, 905)).mean()
    assert 0.25 < rare < 0.42  # about 1/3 of draws (3 groups: key 0, key 1, no key) instead of 0.5 %
    with pytest.raises(ValueError):
        MultilabelBalancedSampler(np.zeros((0, 3)))

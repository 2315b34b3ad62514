"""Multi-scale STFT discriminator (models/nn/stft_discriminator.py) and adversarial losses
(models/nn/adversarial_losses.py): shapes, STFT channels, hinge and feature matching by hand, one G + D step."""

from __future__ import annotations

import pytest
import torch

from models.nn.adversarial_losses import feature_matching_loss, hinge_discriminator_loss, hinge_generator_loss
from models.nn.audio_losses import MultiScaleMelLoss
from models.nn.seanet import SEANetDecoder, SEANetEncoder
from models.nn.stft_discriminator import MultiScaleSTFTDiscriminator, STFTDiscriminator
from models.nn.vector_quantizer import ResidualVectorQuantizer


def test_shapes_and_feature_maps() -> None:
    torch.manual_seed(0)
    disc = MultiScaleSTFTDiscriminator(filters=4)
    logits, features = disc(torch.randn(2, 4000))
    assert len(logits) == len(features) == 3
    # 1024-point STFT, hop 256: 16 frames, 513 bins halved three times -> 65 bands
    assert logits[0].shape == (2, 1, 16, 65)
    assert logits[1].shape == (2, 1, 8, 129) and logits[2].shape == (2, 1, 32, 33)
    assert len(features[0]) == 5 and features[0][0].shape == (2, 4, 16, 513)
    with pytest.raises(ValueError, match=r"\[B, 1, T\]"):
        disc(torch.randn(2, 2, 4000))


def test_spectrogram_channels_are_real_and_imaginary_parts() -> None:
    disc = STFTDiscriminator(n_fft=64, hop_length=16, win_length=64, in_channels=2, filters=2)
    audio = torch.randn(1, 2, 256)
    spec = disc.spectrogram(audio)
    reference = torch.stft(
        audio[0, 1], 64, 16, window=torch.hann_window(64), normalized=True, pad_mode="reflect", return_complex=True
    )
    assert spec.shape == (1, 4, 17, 33)
    assert torch.allclose(spec[0, 2], reference.real.t(), atol=1e-6)
    assert torch.allclose(spec[0, 3], reference.imag.t(), atol=1e-6)


def test_hinge_losses_by_hand() -> None:
    real = torch.tensor([2.0, 0.5])
    fake = torch.tensor([-3.0, 0.0])
    # D: mean(relu(1 - real)) = (0 + 0.5) / 2; mean(relu(1 + fake)) = (0 + 1) / 2
    assert hinge_discriminator_loss(real, fake).item() == pytest.approx(0.75)
    # G: mean(relu(1 - fake)) = (4 + 1) / 2
    assert hinge_generator_loss(fake).item() == pytest.approx(2.5)
    # averaged over discriminators
    assert hinge_generator_loss([fake, torch.tensor([2.0])]).item() == pytest.approx((2.5 + 0.0) / 2)
    assert hinge_discriminator_loss([real, real], [fake, fake]).item() == pytest.approx(0.75)


def test_feature_matching_by_hand() -> None:
    real = [torch.tensor([1.0, 2.0], requires_grad=True), torch.tensor([[0.0, 0.0]])]
    fake = [torch.tensor([0.0, 4.0], requires_grad=True), torch.tensor([[1.0, -1.0]])]
    # layer 1: mean(|1|, |2|) = 1.5; layer 2: mean(1, 1) = 1
    loss = feature_matching_loss(real, fake)
    assert loss.item() == pytest.approx(1.25)
    loss.backward()
    assert real[0].grad is None and fake[0].grad is not None
    relative = feature_matching_loss([[torch.tensor([1.0, 2.0])]], [[torch.tensor([0.0, 4.0])]], relative=True)
    assert relative.item() == pytest.approx(1.0)  # 1.5 / mean(|real|) = 1.5 / 1.5
    with pytest.raises(ValueError, match="correspond"):
        feature_matching_loss([[real[0]]], [[fake[0]], [fake[0]]])


def test_one_generator_and_discriminator_step() -> None:
    """A tiny SEANet + RVQ codec and the discriminator take one optimiser step each with finite losses."""
    torch.manual_seed(0)
    strides = (2, 4)
    enc = SEANetEncoder(base_channels=4, dimension=8, strides=strides)
    dec = SEANetDecoder(base_channels=4, dimension=8, strides=strides)
    rvq = ResidualVectorQuantizer(2, 16, 8, quantizer_dropout=0.5)
    disc = MultiScaleSTFTDiscriminator(n_ffts=(128, 64), hop_lengths=(32, 16), win_lengths=(128, 64), filters=4)
    mel_loss = MultiScaleMelLoss(scales=(64, 128), n_mels=16)
    g_opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=1e-3)
    d_opt = torch.optim.Adam(disc.parameters(), lr=1e-3)
    audio = torch.randn(2, 1, 1600) * 0.1
    before = [p.detach().clone() for p in disc.parameters()]
    q = rvq(enc(audio).transpose(1, 2))
    fake = dec(q.quantized.transpose(1, 2))
    assert fake.shape == audio.shape
    d_loss = hinge_discriminator_loss(disc(audio)[0], disc(fake.detach())[0])
    d_opt.zero_grad()
    d_loss.backward()
    d_opt.step()
    real_logits, real_feats = disc(audio)
    fake_logits, fake_feats = disc(fake)
    g_loss = (
        hinge_generator_loss(fake_logits)
        + feature_matching_loss(real_feats, fake_feats)
        + mel_loss(audio, fake)
        + q.commitment_loss
    )
    g_opt.zero_grad()
    g_loss.backward()
    g_opt.step()
    assert torch.isfinite(d_loss) and torch.isfinite(g_loss)
    assert all(p.grad is not None for p in enc.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, disc.parameters()))

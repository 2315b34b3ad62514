"""Masked-prediction SSL encoder with random-projection targets (models/nn/masked_ssl.py)."""

from __future__ import annotations

import pytest
import torch

from models.nn.masked_ssl import MaskedSSLEncoder, RandomProjectionQuantizer, stack_frames


def _tiny(seed: int = 0, **kw) -> MaskedSSLEncoder:
    args = dict(n_mels=8, stack=2, d_model=16, num_layers=2, num_heads=2, dim_feedforward=32, dropout=0.0)
    args.update(codebook_size=32, code_dim=4, seed=seed, mask_prob=0.2, mask_span=2)
    args.update(kw)
    return MaskedSSLEncoder(**args)


def test_quantizer_by_hand_and_stacking() -> None:
    q = RandomProjectionQuantizer(2, codebook_size=3, code_dim=2)
    q.projection.copy_(torch.eye(2)[None])
    q.codebooks.copy_(torch.tensor([[[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]]))
    frames = torch.tensor([[[3.0, 0.5], [-2.0, 0.1], [0.1, 5.0]]])
    assert q(frames).tolist() == [[[0], [2], [1]]]
    mel = torch.arange(12.0).reshape(1, 2, 6)  # bins [0..5], [6..11]
    assert stack_frames(mel, 2).tolist() == [[[0.0, 6.0, 1.0, 7.0], [2.0, 8.0, 3.0, 9.0], [4.0, 10.0, 5.0, 11.0]]]


def test_targets_deterministic_for_a_seed() -> None:
    torch.manual_seed(0)
    mel = torch.randn(2, 8, 40)
    a, b, c = _tiny(seed=1), _tiny(seed=1), _tiny(seed=2)
    assert a.targets(mel).shape == (2, 20, 1)
    assert torch.equal(a.targets(mel), b.targets(mel))
    assert not torch.equal(a.targets(mel), c.targets(mel))
    # per-bin standardisation: a gain and offset per bin do not change the targets
    scaled = mel * torch.linspace(0.5, 3.0, 8)[None, :, None] + 4.0
    assert torch.equal(a.targets(scaled), a.targets(mel))
    # the frozen quantiser is in the state dict, not among the parameters
    assert "quantizer.projection" in a.state_dict()
    assert not any(name.startswith("quantizer") for name, _ in a.named_parameters())


def test_loss_only_over_masked_frames() -> None:
    torch.manual_seed(0)
    model = _tiny()
    mel = torch.randn(2, 8, 40)
    pad = torch.zeros(2, 40, dtype=torch.bool)
    pad[1, 30:] = True
    out = model(mel, pad, generator=torch.Generator().manual_seed(3))
    assert out.logits.shape == (2, 20, 1, 32) and out.mask.shape == (2, 20)
    assert out.mask.any(1).all() and not out.mask[1, 15:].any()  # never in the padding
    assert not out.mask.all()
    expected = torch.nn.functional.cross_entropy(out.logits[out.mask].reshape(-1, 32), out.targets[out.mask].flatten())
    assert out.loss.item() == pytest.approx(expected.item(), abs=1e-6)
    (grad,) = torch.autograd.grad(out.loss, out.logits)
    per_frame = grad.abs().sum((-1, -2))
    assert (per_frame[~out.mask] == 0).all() and (per_frame[out.mask] > 0).all()
    again = model(mel, pad, generator=torch.Generator().manual_seed(3))
    assert torch.equal(again.mask, out.mask)


def test_features_and_learning() -> None:
    torch.manual_seed(0)
    model = _tiny()
    mel = torch.randn(4, 8, 32)
    assert model.features(mel).shape == (4, 16, 16)
    assert model.features(mel, layer=0).shape == (4, 16, 16)
    with pytest.raises(ValueError, match="layer"):
        model.features(mel, layer=2)
    with pytest.raises(ValueError, match=r"\[B, 8, T\]"):
        model(torch.randn(1, 7, 32))
    # the masked frames of one fixed masking are learnt quickly (the encoder trains end to end)
    mel = torch.cumsum(torch.randn(4, 8, 32), dim=-1)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(12):
        out = model(mel, generator=torch.Generator().manual_seed(0))
        optimiser.zero_grad()
        out.loss.backward()
        optimiser.step()
        losses.append(out.loss.item())
    assert losses[-1] < 0.6 * losses[0]

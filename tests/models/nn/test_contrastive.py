"""Symmetric InfoNCE with a learnable temperature (models/nn/contrastive.py) on a 2 × 2 example by hand."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from models.nn.contrastive import TwoTowerContrastive, symmetric_info_nce


def test_two_by_two_by_hand() -> None:
    a = torch.tensor([[2.0, 0.0], [0.0, 3.0]])  # normalised: (1, 0), (0, 1)
    b = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    loss, logits = symmetric_info_nce(a, b, logit_scale=math.log(2.0))
    # cosine matrix [[1, 0.6], [0, 0.8]], scaled by 2
    assert logits.flatten().tolist() == pytest.approx([2.0, 1.2, 0.0, 1.6], abs=1e-6)
    rows = -math.log(math.e**2 / (math.e**2 + math.e**1.2)) - math.log(math.e**1.6 / (1 + math.e**1.6))
    cols = -math.log(math.e**2 / (math.e**2 + 1)) - math.log(math.e**1.6 / (math.e**1.2 + math.e**1.6))
    assert loss.item() == pytest.approx(0.5 * (rows / 2 + cols / 2), abs=1e-6)
    # symmetric: swapping the towers gives the same loss
    assert symmetric_info_nce(b, a, math.log(2.0))[0].item() == pytest.approx(loss.item(), abs=1e-6)


def test_learnable_temperature_and_clamp() -> None:
    torch.manual_seed(0)
    model = TwoTowerContrastive(nn.Identity(), nn.Linear(3, 5), dim_a=4, dim_b=5, embed_dim=6)
    assert model.temperature == pytest.approx(0.07, rel=1e-5)
    out = model(torch.randn(8, 4), torch.randn(8, 3))
    assert out.logits.shape == (8, 8)
    assert torch.allclose(out.a.norm(dim=-1), torch.ones(8), atol=1e-5)
    out.loss.backward()
    assert model.logit_scale.grad is not None and model.logit_scale.grad.abs() > 0
    assert model.proj_a.weight.grad is not None and model.tower_b.weight.grad is not None
    with torch.no_grad():
        model.logit_scale.fill_(10.0)
    assert model.temperature == pytest.approx(0.01, rel=1e-5)  # clamped at exp(scale) = 100
    fixed = TwoTowerContrastive(nn.Identity(), nn.Identity(), 4, 4, learn_temperature=False)
    assert "logit_scale" not in dict(fixed.named_parameters())
    assert "logit_scale" in fixed.state_dict()


def test_training_aligns_pairs() -> None:
    torch.manual_seed(0)
    x = torch.randn(16, 6)
    y = x @ torch.randn(6, 6) + 0.05 * torch.randn(16, 6)  # b is a linear view of a
    model = TwoTowerContrastive(nn.Identity(), nn.Identity(), 6, 6, embed_dim=8)
    optimiser = torch.optim.Adam(model.parameters(), lr=0.05)
    first = model(x, y).loss.item()
    for _ in range(100):
        optimiser.zero_grad()
        out = model(x, y)
        out.loss.backward()
        optimiser.step()
    assert out.loss.item() < 0.2 * first
    assert (out.logits.argmax(dim=1) == torch.arange(16)).float().mean() == 1.0
    with pytest.raises(ValueError, match="one shape"):
        symmetric_info_nce(torch.zeros(2, 3), torch.zeros(3, 3), 0.0)

"""models/nn/residual1d.py: the 1-D residual block keeps shapes, is the identity when its branch is zero, and its
receptive field is its kernel (times the dilation)."""

from __future__ import annotations

import pytest
import torch

from models.nn.residual1d import Residual1d


def test_shape_identity_and_receptive_field() -> None:
    torch.manual_seed(0)
    block = Residual1d(6, hidden=4, kernel=3, dilation=2)
    x = torch.randn(2, 6, 20)
    assert block(x).shape == x.shape
    assert not torch.allclose(block(x), x)
    nudged = x.clone()
    nudged[:, :, 10] += 1.0
    changed = (block(nudged) - block(x)).abs().sum((0, 1)) > 0
    assert changed.nonzero().flatten().tolist() == [8, 10, 12]  # kernel 3, dilation 2 (the 1-wide conv adds none)
    torch.nn.init.zeros_(block.block[-1].weight)
    torch.nn.init.zeros_(block.block[-1].bias)
    assert torch.equal(block(x), x)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="odd"):
        Residual1d(4, kernel=2)
    with pytest.raises(ValueError, match="relu or lrelu"):
        Residual1d(4, activation="gelu")

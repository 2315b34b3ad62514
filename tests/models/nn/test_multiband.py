"""models/nn/multiband.py options: MI Net's plain sub-block (conv-ReLU-conv, no norm, one residual) beside
PerformanceNet's default, whose layers stay as they were."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from models.nn.multiband import MultiBandResidual


def test_default_is_performancenet_sub_block() -> None:
    block = MultiBandResidual(8, 2)
    kinds = [type(m) for m in block.branches[0]]
    assert kinds == [nn.Conv1d, nn.InstanceNorm1d, nn.LeakyReLU, nn.Conv1d, nn.InstanceNorm1d]
    assert block.band_residual


def test_plain_sub_block_adds_the_input_once_per_band() -> None:
    torch.manual_seed(0)
    block = MultiBandResidual(8, 4, kernel=5, norm=False, activation="relu", band_residual=False)
    assert [type(m) for m in block.branches[0]] == [nn.Conv1d, nn.ReLU, nn.Conv1d]
    assert block.branches[0][0].kernel_size == (5,)
    x = torch.randn(2, 8, 12)
    expected = x + torch.cat([branch(chunk) for chunk, branch in zip(x.chunk(4, 1), block.branches)], dim=1)
    torch.testing.assert_close(block(x), expected)
    nudged = x.clone()
    nudged[:, 0] += 1.0  # band 0 only
    assert torch.equal(block(nudged)[:, 2:], block(x)[:, 2:])


def test_bad_options() -> None:
    with pytest.raises(ValueError, match="odd"):
        MultiBandResidual(8, 2, kernel=4)
    with pytest.raises(ValueError, match="lrelu or relu"):
        MultiBandResidual(8, 2, activation="tanh")

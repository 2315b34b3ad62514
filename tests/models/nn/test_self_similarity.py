"""Self-similarity matrix and attention bias (models/nn/self_similarity.py)."""

from __future__ import annotations

import torch

from models.nn.self_similarity import SelfSimilarityBias, self_similarity


def test_self_similarity_is_minus_squared_distance() -> None:
    x = torch.randn(2, 7, 5)
    s = self_similarity(x)
    assert torch.allclose(s, -torch.cdist(x, x).pow(2), atol=1e-4)
    assert bool((s <= 0).all()) and torch.allclose(s.diagonal(dim1=1, dim2=2), torch.zeros(2, 7), atol=1e-4)
    # the sign: a frame is most similar (largest entry) to itself, less to a near frame, least to a far one
    line = torch.tensor([[[0.0], [1.0], [3.0]]])
    row = self_similarity(line)[0, 0]
    assert row[0] > row[1] > row[2] and torch.allclose(row, torch.tensor([0.0, -1.0, -9.0]))


def test_self_similarity_gradient_is_finite_on_the_diagonal() -> None:
    x = torch.randn(1, 4, 3, requires_grad=True)
    self_similarity(x).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_bias_shape_and_row_softmax() -> None:
    bias = SelfSimilarityBias(num_heads=3, kernel_size=3)
    torch.nn.init.zeros_(bias.conv.bias)
    torch.nn.init.zeros_(bias.conv.weight)
    with torch.no_grad():
        bias.conv.weight[:, 0, 1, 1] = 1.0  # identity kernel: the bias is the row-softmaxed matrix itself
    x = torch.randn(2, 6, 4)
    out = bias(x)
    assert out.shape == (2, 3, 6, 6)
    assert torch.allclose(out[:, 0].sum(-1), torch.ones(2, 6), atol=1e-5)
    assert torch.allclose(out[:, 1], self_similarity(x).softmax(-1), atol=1e-6)

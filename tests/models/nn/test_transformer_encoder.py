"""Bidirectional relative-position transformer encoder (models/nn/transformer_encoder.py) against a naive reference."""

from __future__ import annotations

import math

import pytest
import torch

from models.nn.transformer_encoder import (
    RelativeMultiheadAttention,
    TransformerEncoder,
    distance_embeddings,
    naive_relative_logits,
    skew_bidirectional,
)


def _reference_attention(attn: RelativeMultiheadAttention, x, key_padding_mask=None, attn_bias=None):
    """Loop-level reference: logits_ij = (q_i·k_j + q_i·E[clip(j-i)]) / sqrt(d) + bias_ij, softmax over real keys."""
    b, length, _ = x.shape
    h, d = attn.num_heads, attn.head_dim
    max_rel = (attn.relative.shape[1] - 1) // 2
    q, k, v = attn.qkv(x).view(b, length, 3, h, d).permute(2, 0, 3, 1, 4).double()
    out = torch.zeros(b, h, length, d, dtype=torch.float64)
    for bi in range(b):
        for hi in range(h):
            for i in range(length):
                logits = torch.zeros(length, dtype=torch.float64)
                for j in range(length):
                    e = attn.relative[hi, max(-max_rel, min(max_rel, j - i)) + max_rel].double()
                    logits[j] = (q[bi, hi, i] @ k[bi, hi, j] + q[bi, hi, i] @ e) / math.sqrt(d)
                    if attn_bias is not None:
                        logits[j] += attn_bias[bi, min(hi, attn_bias.shape[1] - 1), i, j].double()
                    if key_padding_mask is not None and key_padding_mask[bi, j]:
                        logits[j] = float("-inf")
                out[bi, hi, i] = torch.softmax(logits, 0) @ v[bi, hi]
    return attn.out(out.transpose(1, 2).reshape(b, length, h * d).float())


def test_skew_equals_gather() -> None:
    torch.manual_seed(0)
    for length in (1, 2, 5, 9):
        rel = torch.randn(2, 3, length, 2 * length - 1)
        pos = torch.arange(length)
        expected = rel[..., pos[:, None], pos[None, :] - pos[:, None] + length - 1]
        assert torch.equal(skew_bidirectional(rel), expected)


def test_relative_logits_and_clipping() -> None:
    torch.manual_seed(0)
    table = torch.randn(2, 5, 4)  # M = 2: distances -2..2
    emb = distance_embeddings(table, 4)  # distances -3..3 -> rows 0,0,1,2,3,4,4
    assert torch.equal(emb, table[:, [0, 0, 1, 2, 3, 4, 4]])
    q = torch.randn(3, 2, 4, 4)
    naive = naive_relative_logits(q, table)
    assert naive.shape == (3, 2, 4, 4)
    # entry (i=0, j=3): distance +3, clipped to +2 -> row 4
    assert torch.allclose(naive[:, :, 0, 3], (q[:, :, 0] * table[None, :, 4]).sum(-1), atol=1e-6)
    skewed = skew_bidirectional(q @ emb.transpose(-1, -2))
    assert torch.allclose(skewed, naive, atol=1e-5)


def test_attention_equals_naive_reference_with_mask_and_bias() -> None:
    torch.manual_seed(0)
    attn = RelativeMultiheadAttention(16, 4, max_relative_position=3).eval()
    with torch.no_grad():
        attn.relative.normal_()  # make the relative term matter
    x = torch.randn(2, 7, 16)
    pad = torch.zeros(2, 7, dtype=torch.bool)
    pad[1, 5:] = True
    bias_heads = torch.randn(2, 4, 7, 7)
    bias_shared = torch.randn(2, 1, 7, 7)
    with torch.no_grad():
        for mask, bias in ((None, None), (pad, None), (pad, bias_heads), (None, bias_shared)):
            fast = attn(x, mask, bias)
            reference = _reference_attention(attn, x, mask, bias)
            assert torch.allclose(fast, reference, atol=1e-5), (mask is None, bias is None)
        naive = RelativeMultiheadAttention(16, 4, max_relative_position=3, naive=True).eval()
        naive.load_state_dict(attn.state_dict())
        assert torch.allclose(naive(x, pad, bias_heads), attn(x, pad, bias_heads), atol=1e-5)


def test_padding_and_bias_behaviour() -> None:
    torch.manual_seed(0)
    enc = TransformerEncoder(d_model=16, num_layers=2, num_heads=2, dim_feedforward=32, dropout=0.0).eval()
    x = torch.randn(1, 6, 16)
    pad = torch.tensor([[False, False, False, False, True, True]])
    changed = x.clone()
    changed[0, 4:] = torch.randn(2, 16) * 10
    with torch.no_grad():
        assert torch.allclose(enc(x, pad)[0, :4], enc(changed, pad)[0, :4], atol=1e-5)
        # a -inf-like bias on keys 4, 5 acts as the padding mask
        bias = torch.zeros(1, 1, 6, 6)
        bias[..., 4:] = -1e9
        assert torch.allclose(enc(x, attn_bias=bias)[0, :4], enc(x, pad)[0, :4], atol=1e-5)
        out, layers = enc(x, return_layers=True)
    assert out.shape == (1, 6, 16) and len(layers) == 2
    with pytest.raises(ValueError, match="attention bias"):
        enc(x, attn_bias=torch.zeros(1, 3, 6, 6))
    with pytest.raises(ValueError, match="every position"):
        enc(x, torch.ones(1, 6, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"\[B, L, 16\]"):
        enc(torch.zeros(1, 6, 8))


def test_post_ln_and_gradients() -> None:
    torch.manual_seed(0)
    enc = TransformerEncoder(d_model=8, num_layers=1, num_heads=2, dim_feedforward=16, norm_first=False)
    x = torch.randn(2, 5, 8, requires_grad=True)
    out = enc(x)
    # post-LN: the output is a LayerNorm output (zero mean, unit variance per position)
    assert torch.allclose(out.mean(-1), torch.zeros(2, 5), atol=1e-5)
    (out * torch.randn(2, 5, 8)).sum().backward()
    assert enc.layers[0].attn.relative.grad is not None and enc.layers[0].attn.relative.grad.abs().sum() > 0

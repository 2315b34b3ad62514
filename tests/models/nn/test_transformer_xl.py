"""Transformer-XL (models/nn/transformer_xl.py): segment memory, causality, cached = uncached decoding."""

from __future__ import annotations

import pytest
import torch

from models.nn.transformer_xl import TransformerXL


def _model(cross: bool = True, mem_len: int = 6) -> TransformerXL:
    torch.manual_seed(0)
    return TransformerXL(20, d_model=16, num_layers=2, num_heads=2, dim_feedforward=32, mem_len=mem_len,
                         cross_attention=cross).eval()  # fmt: skip


def test_cached_steps_equal_the_full_segment() -> None:
    model = _model()
    context = torch.randn(2, 5, 16)
    first, second = torch.randint(0, 20, (2, 7)), torch.randint(0, 20, (2, 6))
    with torch.no_grad():
        _, mems = model(first, None, context)
        full, next_mems = model(second, mems, context)
        cache = model.init_cache(mems, context)
        steps = [model.step(second[:, t : t + 1], cache)[0] for t in range(second.shape[1])]
    assert torch.allclose(torch.cat(steps, dim=1), full, atol=1e-5)
    for a, b in zip(model.cache_mems(cache), next_mems):
        assert torch.allclose(a, b, atol=1e-6)
    # the same tokens come out of greedy decoding either way
    assert torch.equal(torch.cat(steps, dim=1).argmax(-1), full.argmax(-1))


def test_memory_is_kept_and_used() -> None:
    model = _model(cross=False, mem_len=6)
    tokens = torch.randint(0, 20, (1, 4))
    with torch.no_grad():
        _, mems = model(torch.randint(0, 20, (1, 9)))
        assert [m.shape[1] for m in mems] == [6, 6] and not mems[0].requires_grad
        with_memory, _ = model(tokens, mems)
        without, _ = model(tokens)
    assert not torch.allclose(with_memory, without, atol=1e-4)


def test_causal_within_the_segment() -> None:
    model = _model(cross=False)
    tokens = torch.randint(0, 20, (1, 8))
    changed = tokens.clone()
    changed[0, 5] = (tokens[0, 5] + 1) % 20
    with torch.no_grad():
        a, _ = model(tokens)
        b, _ = model(changed)
    assert torch.allclose(a[:, :5], b[:, :5], atol=1e-6) and not torch.allclose(a[:, 5:], b[:, 5:])


def test_context_is_required_when_built_with_cross_attention() -> None:
    with pytest.raises(ValueError, match="context"):
        _model()(torch.randint(0, 20, (1, 3)))

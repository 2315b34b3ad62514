"""Transformer-XL (models/nn/transformer_xl.py): segment memory, causality, padding, cached = uncached decoding."""

from __future__ import annotations

import pytest
import torch

from models.nn.transformer_xl import TransformerXL, XLStack


def _model(cross: bool = True, mem_len: int = 6) -> TransformerXL:
    torch.manual_seed(0)
    return TransformerXL(20, d_model=16, num_layers=2, num_heads=2, dim_feedforward=32, mem_len=mem_len,
                         cross_attention=cross).eval()  # fmt: skip


def test_cached_steps_equal_the_full_segment() -> None:
    model = _model()
    context = torch.randn(2, 5, 16)
    first, second = torch.randint(0, 20, (2, 7)), torch.randint(0, 20, (2, 6))
    with torch.no_grad():
        _, memory = model(first, context=context)
        full, next_memory = model(second, memory=memory, context=context)
        cache = model.init_cache(memory, context)
        steps = [model.step(second[:, t : t + 1], cache)[0] for t in range(second.shape[1])]
    assert torch.allclose(torch.cat(steps, dim=1), full, atol=1e-5)
    cached = model.cache_mems(cache)
    for a, b in zip(cached.states, next_memory.states):
        assert torch.allclose(a, b, atol=1e-6)
    assert torch.equal(cached.padding, next_memory.padding)
    # the same tokens come out of greedy decoding either way
    assert torch.equal(torch.cat(steps, dim=1).argmax(-1), full.argmax(-1))


def test_cached_steps_with_padding_in_memory_and_segment() -> None:
    model = _model(cross=False, mem_len=8)
    first, second = torch.randint(1, 20, (2, 7)), torch.randint(1, 20, (2, 6))
    first_pad = torch.zeros(2, 7, dtype=torch.bool)
    first_pad[0, 4:] = True
    second_pad = torch.zeros(2, 6, dtype=torch.bool)
    second_pad[1, 3:] = True
    with torch.no_grad():
        _, memory = model(first, padding=first_pad)
        full, next_memory = model(second, memory=memory, padding=second_pad)
        cache = model.init_cache(memory)
        steps = [model.step(second[:, t : t + 1], cache, second_pad[:, t : t + 1])[0] for t in range(6)]
    assert torch.allclose(torch.cat(steps, dim=1), full, atol=1e-5)
    cached = model.cache_mems(cache)
    assert torch.equal(cached.padding, next_memory.padding) and cached.padding.shape == (2, 8)
    assert torch.equal(next_memory.padding[0], torch.tensor([True, True] + [False] * 6))


def test_padded_keys_are_invisible() -> None:
    model = _model(cross=False, mem_len=8)
    tokens = torch.randint(1, 20, (1, 8))
    padding = torch.zeros(1, 8, dtype=torch.bool)
    padding[0, 2:4] = True
    changed = tokens.clone()
    changed[0, 2:4] = (tokens[0, 2:4] + 3) % 20
    with torch.no_grad():
        a, memory_a = model(tokens, padding=padding)
        b, memory_b = model(changed, padding=padding)
        # nor do they matter from the memory
        follow = torch.randint(1, 20, (1, 3))
        after_a, _ = model(follow, memory=memory_a)
        after_b, _ = model(follow, memory=memory_b)
    real = ~padding[0]
    assert torch.allclose(a[:, real], b[:, real], atol=1e-6) and not torch.allclose(a[:, ~real], b[:, ~real])
    assert torch.allclose(after_a, after_b, atol=1e-6)
    # a fully padded segment after a fully padded memory stays finite (a query always sees itself)
    with torch.no_grad():
        out, _ = model(tokens, padding=torch.ones(1, 8, dtype=torch.bool))
    assert torch.isfinite(out).all()


def test_memory_is_kept_and_used() -> None:
    model = _model(cross=False, mem_len=6)
    tokens = torch.randint(0, 20, (1, 4))
    with torch.no_grad():
        _, memory = model(torch.randint(0, 20, (1, 9)))
        assert [m.shape[1] for m in memory.states] == [6, 6] and not memory.states[0].requires_grad
        with_memory, _ = model(tokens, memory=memory)
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


def test_bidirectional_stack_sees_later_positions_and_uses_signed_distances() -> None:
    torch.manual_seed(0)
    encoder = XLStack(16, 2, 2, 32, 0.0, mem_len=4, cross_attention=False, causal=False).eval()
    x = torch.randn(1, 6, 16)
    changed = x.clone()
    changed[0, 5] = torch.randn(16)
    with torch.no_grad():
        a, _ = encoder(x)
        b, _ = encoder(changed)
        # a reversed sequence is not the reverse of the output: earlier and later keys are told apart
        reversed_out, _ = encoder(x.flip(1))
    assert not torch.allclose(a[:, 0], b[:, 0], atol=1e-5)
    assert not torch.allclose(reversed_out.flip(1), a, atol=1e-4)
    with pytest.raises(RuntimeError, match="bidirectional"):
        encoder.init_cache()


def test_context_is_required_when_built_with_cross_attention() -> None:
    with pytest.raises(ValueError, match="context"):
        _model()(torch.randint(0, 20, (1, 3)))


def test_long_segment_decodes_past_the_cache_s_first_capacity() -> None:
    """More steps than the key/value buffer and the relative table first hold (both grow), with and without memory."""
    model = _model(mem_len=40)
    context = torch.randn(1, 3, 16)
    tokens = torch.randint(0, 20, (1, 150))
    with torch.no_grad():
        for memory in (None, model(torch.randint(0, 20, (1, 40))[:, :], context=context)[1]):
            full, _ = model(tokens, memory=memory, context=context)
            cache = model.init_cache(memory, context)
            steps = torch.cat([model.step(tokens[:, t : t + 1], cache)[0] for t in range(150)], dim=1)
            assert torch.allclose(steps, full, atol=1e-4)


def test_stack_and_model_take_their_arguments_in_one_order() -> None:
    import inspect

    stack = list(inspect.signature(XLStack.forward).parameters)[2:]
    model = list(inspect.signature(TransformerXL.forward).parameters)[2:]
    assert stack == model == ["memory", "padding", "context", "context_mask"]
    tiny = _model(cross=False)
    tokens = torch.randint(1, 20, (1, 5))
    padding = torch.tensor([[False, False, True, True, False]])
    with torch.no_grad():
        positional, _ = tiny(tokens, None, padding)
        keyword, _ = tiny(tokens, padding=padding)
        stack_out, _ = tiny.stack(tiny._embed(tokens), None, padding)
    assert torch.equal(positional, keyword) and torch.allclose(tiny.head(stack_out), keyword)

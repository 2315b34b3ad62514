"""Decoder-only mode of the transformer decoder: KV-cached steps equal teacher forcing, the condition is used."""

import pytest
import torch

from models.nn.decoding import decoder_step, greedy
from models.nn.transformer_decoder import TransformerDecoder


def _prior(**kw):
    torch.manual_seed(0)
    return TransformerDecoder(
        12, d_model=32, num_layers=2, num_heads=4, dim_feedforward=48, max_len=16, cross_attention=False, **kw
    ).eval()


def test_decoder_only_cache_equals_teacher_forcing():
    decoder = _prior(condition_dim=5)
    tokens = torch.randint(0, 12, (3, 9))
    condition = torch.randn(3, 5)
    full = decoder(tokens, condition=condition)
    cache = decoder.init_cache(condition=condition)
    steps = [decoder.step(tokens[:, i : i + 1], cache)[0] for i in range(tokens.shape[1])]
    torch.testing.assert_close(torch.cat(steps, 1), full, atol=1e-5, rtol=1e-5)
    assert not any(name.startswith("layers.0.cross_attn") for name, _ in decoder.named_parameters())


def test_condition_changes_logits_and_causality_holds():
    decoder = _prior(condition_dim=5)
    tokens = torch.randint(0, 12, (2, 8))
    condition = torch.randn(2, 5)
    base = decoder(tokens, condition=condition)
    assert (decoder(tokens, condition=condition + 1.0) - base).abs().max() > 1e-3
    changed = tokens.clone()
    changed[:, 5:] = (changed[:, 5:] + 1) % 12
    torch.testing.assert_close(decoder(changed, condition=condition)[:, :5], base[:, :5])


def test_unconditioned_decoder_only_searches_with_batch_size():
    decoder = _prior()
    cache = decoder.init_cache(batch_size=2)
    result = greedy(decoder_step(decoder), cache, batch_size=2, sos=0, eos=11, pad=11, max_len=6)
    assert result.tokens.shape[0] == 2


def test_mode_errors_are_explicit():
    decoder = _prior(condition_dim=5)
    with pytest.raises(ValueError, match="needs a condition"):
        decoder(torch.zeros(1, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="takes no memory"):
        decoder(torch.zeros(1, 3, dtype=torch.long), torch.zeros(1, 2, 32), condition=torch.zeros(1, 5))
    with pytest.raises(ValueError, match="memory"):
        TransformerDecoder(12, 32, 1, 4, 48)(torch.zeros(1, 3, dtype=torch.long))

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


@pytest.mark.parametrize(
    "kw",
    [
        dict(),  # post-norm, shared relative table
        dict(norm_first=True, relative_per_head=True, absolute_positions=False),
        dict(token_advance=torch.tensor([0.0, 0.5, 1.7, 0.0, 0.25, 0.0, 0.0, 0.0, 0.0, 0.0, 3.0, 0.0])),
    ],
)
def test_single_position_steps_equal_teacher_forcing_and_the_general_path(kw):
    """The decoding step (one position, eval mode: DecoderBlock.step_one) gives teacher forcing's logits within 1e-5,
    with a padded memory, and past max_len (the key/value buffer grows, distances clip); the same steps through the
    blocks' general forward (training mode without dropout) agree with it."""
    torch.manual_seed(0)
    decoder = TransformerDecoder(12, 32, 2, 4, 48, dropout=0.0, max_len=6, **kw).eval()
    memory = torch.randn(3, 5, 32)
    pad = torch.tensor([[False] * 5, [False, False, False, True, True], [False] * 4 + [True]])
    tokens = torch.randint(0, 12, (3, 11))
    full = decoder(tokens, memory, pad)

    def run():
        cache = decoder.init_cache(memory, pad)
        return torch.cat([decoder.step(tokens[:, i : i + 1], cache)[0] for i in range(tokens.shape[1])], 1), cache

    fast, cache = run()
    assert cache["layer0"]["self"]["kv"].length == 11
    assert (fast - full).abs().max() < 1e-5
    decoder.train()  # dropout 0: the general path computes the same function
    general, _ = run()
    assert (fast - general).abs().max() < 1e-5
    # the padded memory positions are ignored: changing them changes nothing
    decoder.eval()
    changed = memory.clone()
    changed[1, 3:] = torch.randn(2, 32)
    cache = decoder.init_cache(changed, pad)
    again = torch.cat([decoder.step(tokens[:, i : i + 1], cache)[0] for i in range(tokens.shape[1])], 1)
    assert (again - fast).abs().max() < 1e-5


def test_sinusoidal_encoding_interleaves_sin_and_cos():
    from models.nn.transformer_decoder import sinusoidal_encoding

    positions = torch.tensor([[0.0, 1.5], [7.0, 100.25]])
    for dim in (6, 7):
        enc = sinusoidal_encoding(positions, dim)
        assert enc.shape == (2, 2, dim)
        for i in range(dim):
            freq = 10000.0 ** (-(i - i % 2) / dim)
            want = torch.sin(positions * freq) if i % 2 == 0 else torch.cos(positions * freq)
            torch.testing.assert_close(enc[..., i], want, atol=1e-5, rtol=0)

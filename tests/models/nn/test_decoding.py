"""Transformer/GRU decoders: KV-cached decoding equals full decoding; beam search is a real beam search."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from models.nn.decoding import beam_search, decoder_step, greedy, reorder_cache, sample
from models.nn.gru_decoder import GRUDecoder
from models.nn.transformer_decoder import TransformerDecoder

SOS, EOS, PAD = 5, 6, 7


def _decoders() -> list[torch.nn.Module]:
    torch.manual_seed(0)
    return [
        TransformerDecoder(8, d_model=32, num_layers=2, num_heads=4, dim_feedforward=48, max_len=16).eval(),
        TransformerDecoder(8, 32, 2, 4, 48, max_len=16, norm_first=True, absolute_positions=False).eval(),
        GRUDecoder(8, d_model=32, num_layers=2).eval(),
        TransformerDecoder(8, 32, 2, 4, 48, max_len=16, token_advance=ADVANCE).eval(),
    ]


ADVANCE = torch.tensor([0.0, 0.0, 0.0, 0.5, 1.7, 0.0, 0.0, 0.0])  # ids 3 and 4 move the clock


@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_cached_decoding_equals_full_decoding(index: int) -> None:
    decoder = _decoders()[index]
    memory = torch.randn(3, 5, 32)
    tokens = torch.randint(0, 8, (3, 12))
    full = decoder(tokens, memory)
    cache = decoder.init_cache(memory)
    steps = []
    for t in range(12):
        logits, cache = decoder.step(tokens[:, t : t + 1], cache)
        steps.append(logits)
    assert (torch.cat(steps, 1) - full).abs().max() < 1e-4


def test_clock_sums_the_advances_and_changes_the_output() -> None:
    clocked = _decoders()[3]
    tokens = torch.tensor([[5, 3, 0, 4, 4, 1]])
    assert torch.allclose(clocked.clock(tokens), torch.tensor([[0.0, 0.5, 0.5, 2.2, 3.9, 3.9]]))
    assert torch.allclose(clocked.clock(tokens, torch.tensor([1.0]))[0, 0], torch.tensor(1.0))
    # same weights without the clock: a different function of the same tokens
    plain = TransformerDecoder(8, 32, 2, 4, 48, max_len=16).eval()
    plain.load_state_dict(clocked.state_dict())
    memory = torch.randn(1, 5, 32)
    assert (plain(tokens, memory) - clocked(tokens, memory)).abs().max() > 1e-3
    with pytest.raises(ValueError, match="token_advance must have shape"):
        TransformerDecoder(8, 32, 1, 4, 48, token_advance=torch.zeros(7))


def test_embedding_is_unit_scale_after_the_sqrt_d_scaling() -> None:
    torch.manual_seed(0)
    decoder = TransformerDecoder(300, d_model=256, num_layers=1, num_heads=4, dim_feedforward=64, padding_idx=7)
    scaled = decoder.embed.weight * math.sqrt(256)
    assert abs(scaled.std().item() - 1.0) < 0.05
    assert decoder.embed.weight[7].abs().sum() == 0


@pytest.mark.parametrize("index", [0, 3])
def test_cache_survives_reordering(index: int) -> None:
    decoder = _decoders()[index]
    memory = torch.randn(2, 5, 32)
    tokens = torch.randint(0, 8, (2, 6))
    cache = decoder.init_cache(memory)
    _, cache = decoder.step(tokens[:, :3], cache)
    swap = torch.tensor([1, 0])
    cache = reorder_cache(cache, swap)
    logits, _ = decoder.step(tokens[swap, 3:], cache)
    assert torch.allclose(logits, decoder(tokens[swap], memory[swap])[:, 3:], atol=1e-4)


class MarkovToy:
    """Next-token distribution depends only on the last token: ``table[last]`` (log-probs)."""

    def __init__(self, table: torch.Tensor) -> None:
        self.table = table

    def __call__(self, tokens: torch.Tensor, cache: object) -> tuple[torch.Tensor, object]:
        return self.table[tokens], cache


def _toy_greedy_fails() -> MarkovToy:
    # vocab: 0 = A, 1 = B, 2 = C, EOS=6; start -> A 0.55, B 0.45; A -> C/A/B/EOS ~uniform; B -> EOS 0.9
    probs = torch.full((8, 8), 1e-9)
    probs[SOS, 0], probs[SOS, 1] = 0.55, 0.45
    probs[0, [0, 1, 2, EOS]] = torch.tensor([0.26, 0.24, 0.25, 0.25])
    probs[1, EOS], probs[1, 2] = 0.9, 0.1
    probs[2, EOS] = 1.0
    return MarkovToy((probs / probs.sum(-1, keepdim=True)).log())


def test_beam_search_beats_greedy_on_a_toy_model() -> None:
    step = _toy_greedy_fails()
    g = greedy(step, None, 1, SOS, EOS, PAD, max_len=6)
    b = beam_search(step, None, 1, SOS, EOS, PAD, max_len=6, beam_size=3)
    assert b.tokens[0, : b.lengths[0]].tolist() == [1, EOS]
    assert g.tokens[0, 0].item() == 0  # greedy commits to A
    assert b.scores[0] > g.scores[0] + 0.5
    assert math.isclose(b.scores[0].item(), math.log(0.45 * 0.9), rel_tol=1e-4)


def _brute_force(table: torch.Tensor, max_len: int, alpha: float) -> tuple[float, list[int]]:
    best = (-math.inf, [])
    for n in range(1, max_len + 1):
        for seq in itertools.product(range(table.shape[0]), repeat=n):
            if EOS in seq[:-1] or PAD in seq or SOS in seq:
                continue
            tokens = [SOS, *seq]
            score = sum(table[a, b].item() for a, b in zip(tokens, tokens[1:]))
            norm = score / (n**alpha) if alpha else score
            best = max(best, (norm, list(seq)))
    return best


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_exhaustive_beam_finds_the_optimum(alpha: float) -> None:
    """With a beam as wide as the search space, beam search returns the brute-force best sequence."""
    gen = torch.Generator().manual_seed(3)
    logits = torch.randn(8, 8, generator=gen) * 2
    logits[:, [SOS, PAD]] = -1e9
    logits[:, 3:5] = -1e9  # keep the space small: tokens 0, 1, 2, EOS
    table = logits.log_softmax(-1)
    step = MarkovToy(table)
    best_score, best_seq = _brute_force(table, 4, alpha)
    result = beam_search(step, None, 1, SOS, EOS, PAD, max_len=4, beam_size=64, length_penalty=alpha)
    assert result.tokens[0, : result.lengths[0]].tolist() == best_seq
    assert math.isclose(result.scores[0].item(), best_score, rel_tol=1e-5, abs_tol=1e-5)


def test_beam_one_equals_greedy_and_batches_are_independent() -> None:
    decoder = _decoders()[0]
    torch.manual_seed(1)
    memory = torch.randn(3, 5, 32)
    step = decoder_step(decoder)
    g = greedy(step, decoder.init_cache(memory), 3, SOS, EOS, PAD, max_len=10)
    b1 = beam_search(step, decoder.init_cache(memory), 3, SOS, EOS, PAD, max_len=10, beam_size=1)
    width = min(g.tokens.shape[1], b1.tokens.shape[1])
    assert torch.equal(g.tokens[:, :width], b1.tokens[:, :width])
    assert torch.allclose(g.scores, b1.scores, atol=1e-4)
    # batched beam search == one item at a time
    b5 = beam_search(step, decoder.init_cache(memory), 3, SOS, EOS, PAD, max_len=10, beam_size=4)
    for i in range(3):
        one = beam_search(step, decoder.init_cache(memory[i : i + 1]), 1, SOS, EOS, PAD, max_len=10, beam_size=4)
        n = one.lengths[0]
        assert b5.tokens[i, :n].tolist() == one.tokens[0, :n].tolist()
        assert torch.allclose(b5.scores[i], one.scores[0], atol=1e-4)
        assert b5.scores[i] >= g.scores[i] - 1e-4  # never worse than greedy


def test_scores_are_sequence_log_probabilities() -> None:
    decoder = _decoders()[0]
    memory = torch.randn(2, 5, 32)
    result = beam_search(decoder_step(decoder), decoder.init_cache(memory), 2, SOS, EOS, PAD, max_len=7, beam_size=3)
    for i in range(2):
        seq = result.tokens[i, : result.lengths[i]]
        inputs = torch.cat([torch.tensor([SOS]), seq[:-1]])[None]
        logp = decoder(inputs, memory[i : i + 1]).log_softmax(-1)[0]
        assert math.isclose(logp.gather(1, seq[:, None]).sum().item(), result.scores[i].item(), abs_tol=1e-3)


def test_sampling_temperature_and_top_k() -> None:
    step = _toy_greedy_fails()
    gen = torch.Generator().manual_seed(0)
    top1 = sample(step, None, 50, SOS, EOS, PAD, max_len=4, top_k=1, generator=gen)
    assert (top1.tokens[:, 0] == 0).all()  # top-1 sampling is greedy
    hot = sample(step, None, 400, SOS, EOS, PAD, max_len=4, temperature=1.0, generator=gen)
    share_b = (hot.tokens[:, 0] == 1).float().mean().item()
    assert 0.35 < share_b < 0.55  # about 0.45
    cold = sample(step, None, 400, SOS, EOS, PAD, max_len=4, temperature=0.1, generator=gen)
    assert (cold.tokens[:, 0] == 1).float().mean().item() < 0.2
    is_eos = (hot.tokens == EOS).long()
    after_eos = (is_eos.cumsum(1) - is_eos) > 0
    assert after_eos.any() and (hot.tokens[after_eos] == PAD).all()  # PAD after EOS
    with pytest.raises(ValueError, match="temperature"):
        sample(step, None, 1, SOS, EOS, PAD, max_len=2, temperature=0.0)


class RecordingCache:
    """A cache object that records every reorder index it is given (and stays itself)."""

    def __init__(self) -> None:
        self.indices: list[list[int]] = []

    def reorder(self, index: torch.Tensor) -> RecordingCache:
        self.indices.append(index.tolist())
        return self


def test_beam_search_keeps_each_hypothesis_in_its_parents_row_when_it_can() -> None:
    """Reordering moves as few cache rows as possible: every parent row keeps one of its children, so only the rows
    of dropped hypotheses receive a copy; the result is the one found with a plain cache."""
    gen = torch.Generator().manual_seed(5)
    table = (torch.randn(8, 8, generator=gen) * 1.5).log_softmax(-1)
    table[:, [SOS, PAD]] = -1e9
    step = MarkovToy(table)
    cache = RecordingCache()
    result = beam_search(step, cache, 2, SOS, EOS, PAD, max_len=8, beam_size=3)
    plain = beam_search(step, None, 2, SOS, EOS, PAD, max_len=8, beam_size=3)
    assert torch.equal(result.tokens, plain.tokens)
    assert cache.indices[0] == [0, 0, 0, 1, 1, 1]  # the expansion to beams
    assert len(cache.indices) > 2
    for index in cache.indices[1:]:
        assert all(index[parent] == parent for parent in set(index)), index
        assert all(parent // 3 == row // 3 for row, parent in enumerate(index))  # rows stay within their item


@pytest.mark.parametrize("index", [0, 3])
def test_cached_greedy_tokens_equal_the_uncached_loop(index: int) -> None:
    """Greedy decoding through the cache picks the tokens of the released-style loop that re-runs the prefix."""
    decoder = _decoders()[index]
    memory = torch.randn(2, 5, 32)
    step = decoder_step(decoder)

    def no_eos(tokens: torch.Tensor, cache: object) -> tuple[torch.Tensor, object]:
        logits, cache = step(tokens, cache)
        return logits.masked_fill(torch.arange(8) == EOS, float("-inf")), cache

    cached = greedy(no_eos, decoder.init_cache(memory), 2, SOS, EOS, PAD, max_len=14).tokens
    seq = torch.full((2, 1), SOS)
    for _ in range(14):
        logits = decoder(seq, memory)[:, -1].masked_fill(torch.arange(8) == EOS, float("-inf"))
        seq = torch.cat([seq, logits.argmax(-1, keepdim=True)], 1)
    assert torch.equal(cached, seq[:, 1:])

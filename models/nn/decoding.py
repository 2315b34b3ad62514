"""Search for autoregressive decoders: batched beam search, greedy decoding and temperature / top-k sampling.

All three drive a ``step(tokens [N], cache) -> (logits [N, V], cache)`` callable, where ``cache`` is any nest of
dicts / lists / tensors whose tensors have the batch on axis 0 (ints and ``None`` pass through; an object with a
``reorder(index)`` method, such as a preallocated key/value buffer, reorders itself): :func:`reorder_cache` expands it
to beams and follows the surviving beams. :func:`decoder_step` adapts a decoder
with ``step(tokens [N, 1], cache) -> logits [N, 1, V]`` (see :mod:`models.nn.transformer_decoder`).

Beam search (Sutskever et al. 2014; length normalisation of Wu et al. 2016, ``score / length**alpha``) keeps, per
batch item, the ``beam_size`` best partial hypotheses by cumulative log-probability. Each step scores every
(beam, token) extension, takes the best ``2 * beam_size``, moves those ending in EOS to the item's finished list and
keeps the best ``beam_size`` others running; an EOS extension is finished only when it ranks among the best
``beam_size`` (as in fairseq), which makes ``beam_size=1`` exactly greedy decoding. An item stops when it has
``beam_size`` finished hypotheses and no running one can still beat the worst of them (an exact bound:
log-probabilities only decrease, and the normalised bound uses the most favourable remaining length). Hypotheses
still running at ``max_len`` are finished as they are. A surviving hypothesis stays in its parent's cache row where
that row is free (rows of a beam are interchangeable), so reordering the cache copies only the rows of the others;
the step's bookkeeping runs on Python lists with one transfer of the top candidates per step.

Per-step logit masks (:func:`sample`'s ``allowed``, bool ``[P, V]``): step ``t`` may only emit the ids allowed by
row ``t % P``, e.g. a flattened residual-VQ sequence whose level ``t % P`` owns its own id range.

Classifier-free guidance (Ho & Salimans 2022; :func:`guided_step`): the decoder runs on a doubled batch, the first
half with the condition, the second with a learned null condition, and the next-token log-probabilities are
``log p_null + scale · (log p_cond - log p_null)``: scale 1 is the conditioned model itself, scale 0 the
unconditioned one, scale > 1 sharpens toward the condition.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import Tensor

StepFn = Callable[[Tensor, Any], tuple[Tensor, Any]]


def reorder_cache(cache: Any, index: Tensor) -> Any:
    """Select batch rows ``index`` of every tensor in a nested cache (dicts, lists, tuples; objects with a
    ``reorder(index)`` method return their own reordered copy)."""
    if isinstance(cache, Tensor):
        return cache.index_select(0, index)
    if hasattr(cache, "reorder"):
        return cache.reorder(index)
    if isinstance(cache, dict):
        return {key: reorder_cache(value, index) for key, value in cache.items()}
    if isinstance(cache, (list, tuple)):
        return type(cache)(reorder_cache(value, index) for value in cache)
    return cache


def decoder_step(decoder: Any) -> StepFn:
    """Adapt ``decoder.step(tokens [N, 1], cache) -> (logits [N, 1, V], cache)`` to the ``StepFn`` protocol."""

    def step(tokens: Tensor, cache: Any) -> tuple[Tensor, Any]:
        logits, cache = decoder.step(tokens[:, None], cache)
        return logits[:, -1], cache

    return step


@dataclass
class SearchResult:
    """``tokens`` [B, L] (without the start token, EOS included when produced, then ``pad``); ``scores`` [B]
    (cumulative log-probability, length-normalised when asked); ``lengths`` [B] (tokens before padding)."""

    tokens: Tensor
    scores: Tensor
    lengths: Tensor


def _pack(seqs: list[list[int]], scores: list[float], pad: int, device: torch.device) -> SearchResult:
    width = max(1, max(len(s) for s in seqs))
    tokens = torch.full((len(seqs), width), pad, dtype=torch.long, device=device)
    for i, seq in enumerate(seqs):
        tokens[i, : len(seq)] = torch.tensor(seq, dtype=torch.long, device=device)
    return SearchResult(
        tokens,
        torch.tensor(scores, dtype=torch.float32, device=device),
        torch.tensor([len(s) for s in seqs], dtype=torch.long, device=device),
    )


def _filter_logits(logits: Tensor, temperature: float, top_k: Optional[int]) -> Tensor:
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    logits = logits / temperature
    if top_k is not None and 0 < top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return logits


@torch.no_grad()
def sample(
    step: StepFn,
    cache: Any,
    batch_size: int,
    sos: int,
    eos: int,
    pad: int,
    max_len: int,
    temperature: float = 1.0,
    top_k: Optional[int] = None,
    greedy: bool = False,
    generator: Optional[torch.Generator] = None,
    device: Optional[torch.device] = None,
    allowed: Optional[Tensor] = None,
) -> SearchResult:
    """Ancestral sampling (``temperature``, ``top_k``) or greedy decoding (``greedy=True``) of up to ``max_len``
    tokens after ``sos``; finished rows emit ``pad``. Scores are the cumulative log-probabilities under the model
    (renormalised over the allowed ids when ``allowed`` [P, V] masks step ``t`` with row ``t % P``)."""
    device = device or torch.device("cpu")
    if allowed is not None:
        allowed = torch.as_tensor(allowed, dtype=torch.bool, device=device)
        if allowed.dim() != 2 or allowed.shape[0] == 0 or not bool(allowed.any(-1).all()):
            raise ValueError(
                f"allowed must be bool [P >= 1, V] with an allowed id in every row, got {tuple(allowed.shape)}"
            )
    tokens = torch.full((batch_size,), sos, dtype=torch.long, device=device)
    out = torch.full((batch_size, max_len), pad, dtype=torch.long, device=device)
    scores = torch.zeros(batch_size, device=device)
    done = torch.zeros(batch_size, dtype=torch.bool, device=device)
    lengths = torch.full((batch_size,), max_len, dtype=torch.long, device=device)
    for t in range(max_len):
        logits, cache = step(tokens, cache)
        if allowed is not None:
            logits = mask_logits(logits, allowed[t % allowed.shape[0]])
        logp = logits.float().log_softmax(-1)
        if greedy:
            nxt = logp.argmax(-1)
        else:
            probs = _filter_logits(logits.float(), temperature, top_k).softmax(-1)
            nxt = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        nxt = nxt.masked_fill(done, pad)
        scores += logp.gather(1, nxt[:, None]).squeeze(1).masked_fill(done, 0.0)
        out[:, t] = nxt
        newly = (nxt == eos) & ~done
        lengths.masked_fill_(newly, t + 1)
        done |= newly
        tokens = nxt
        if bool(done.all()):
            out = out[:, : t + 1]
            break
    return SearchResult(out, scores, lengths)


def mask_logits(logits: Tensor, allowed: Tensor) -> Tensor:
    """``logits`` [..., V] with ``-inf`` wherever ``allowed`` [V] (or broadcastable bool) is False."""
    if allowed.shape[-1] != logits.shape[-1]:
        raise ValueError(f"logit mask covers {allowed.shape[-1]} ids, the logits {logits.shape[-1]}")
    return logits.masked_fill(~allowed.to(device=logits.device, dtype=torch.bool), float("-inf"))


def classifier_free_guidance(conditioned: Tensor, unconditioned: Tensor, scale: float) -> Tensor:
    """Guided log-probabilities ``log p_u + scale · (log p_c - log p_u)`` of two logit tensors [..., V]; scale 1
    returns ``conditioned`` itself (bit for bit)."""
    if scale == 1.0:
        return conditioned
    cond, uncond = conditioned.float().log_softmax(-1), unconditioned.float().log_softmax(-1)
    if scale == 0.0:
        return uncond
    return uncond + scale * (cond - uncond)


def guided_step(step: StepFn, scale: float) -> StepFn:
    """Classifier-free guidance around ``step`` whose cache holds ``2N`` rows: rows ``0 .. N-1`` conditioned, rows
    ``N .. 2N-1`` with the null condition. The guided step takes ``N`` tokens and returns ``N`` rows of logits."""

    def guided(tokens: Tensor, cache: Any) -> tuple[Tensor, Any]:
        logits, cache = step(torch.cat([tokens, tokens]), cache)
        cond, uncond = logits.chunk(2)
        return classifier_free_guidance(cond, uncond, scale), cache

    return guided


def greedy(step: StepFn, cache: Any, batch_size: int, sos: int, eos: int, pad: int, max_len: int, **kw) -> SearchResult:
    """Greedy decoding: the arg-max token at every step."""
    return sample(step, cache, batch_size, sos, eos, pad, max_len, greedy=True, **kw)


@torch.no_grad()
def beam_search(
    step: StepFn,
    cache: Any,
    batch_size: int,
    sos: int,
    eos: int,
    pad: int,
    max_len: int,
    beam_size: int = 5,
    length_penalty: float = 0.0,
    device: Optional[torch.device] = None,
) -> SearchResult:
    """Batched beam search; returns the best finished hypothesis per batch item.

    Args:
        step: the decoder step (see module docstring). cache: its cache for ``batch_size`` rows (expanded here).
        sos, eos, pad: special tokens. max_len: most tokens generated after ``sos`` (EOS included).
        beam_size: hypotheses kept per item (1 = greedy).
        length_penalty: ``alpha`` of ``score / length**alpha`` used to rank finished hypotheses (0 = raw sum).
    """
    device = device or torch.device("cpu")
    k = beam_size
    rows = batch_size * k
    cache = reorder_cache(cache, torch.arange(batch_size, device=device).repeat_interleave(k))
    tokens = torch.full((rows,), sos, dtype=torch.long, device=device)
    history = torch.full((rows, max_len), pad, dtype=torch.long, device=device)
    # only the first beam of each item is live at the start (the others would duplicate it)
    beam_scores = torch.full((batch_size, k), float("-inf"), device=device)
    beam_scores[:, 0] = 0.0
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(batch_size)]
    done = [False] * batch_size
    stay = list(range(rows))

    def norm(score: float, length: int) -> float:
        return score / (length**length_penalty) if length_penalty else score

    def add(item: int, score: float, seq: list[int]) -> None:
        finished[item].append((norm(score, len(seq)), seq))
        finished[item].sort(key=lambda pair: -pair[0])
        del finished[item][k:]

    for t in range(max_len):
        logits, cache = step(tokens, cache)
        logp = logits.float().log_softmax(-1)
        vocab = logp.shape[-1]
        cand = (beam_scores.view(-1, 1) + logp).view(batch_size, k * vocab)
        top_scores, top_ids = cand.topk(min(2 * k, k * vocab), dim=1)
        ts, ti = top_scores.tolist(), top_ids.tolist()
        last = t == max_len - 1
        # next step's rows: by default a row stays where it is, inert (score -inf, token pad)
        src, new_tok, new_scores = list(stay), [pad] * rows, [float("-inf")] * rows
        for b in range(batch_size):
            if done[b]:
                continue
            kept: list[tuple[float, int, int]] = []  # (score, parent row, token), best first
            for rank, (score, flat) in enumerate(zip(ts[b], ti[b])):
                if score == float("-inf"):
                    break
                beam, token = divmod(flat, vocab)
                row = b * k + beam
                if token == eos or last:
                    if rank < k:  # as in fairseq: only EOS among the k best ends a hypothesis (k=1 == greedy)
                        add(b, score, history[row, :t].tolist() + [token])
                    continue
                if len(kept) < k:
                    kept.append((score, row, token))
            # a hypothesis continues in its parent's row when that row is still free, so that reordering the
            # cache moves as few rows as possible (the rows of a beam are interchangeable)
            slot: dict[int, tuple[float, int, int]] = {}
            others = []
            for hyp in kept:
                if hyp[1] in slot:
                    others.append(hyp)
                else:
                    slot[hyp[1]] = hyp
            free = (r for r in range(b * k, b * k + k) if r not in slot)
            for hyp in others:
                slot[next(free)] = hyp
            for r, (score, parent, token) in slot.items():
                src[r], new_tok[r], new_scores[r] = parent, token, score
            if len(finished[b]) == k:
                best_running = kept[0][0] if kept else float("-inf")
                if best_running == float("-inf"):
                    done[b] = True
                else:
                    bound = norm(best_running, max_len if length_penalty > 0 else t + 2)
                    done[b] = bound <= finished[b][-1][0]
            elif last or not kept:
                done[b] = True
        if all(done):
            break
        for b in range(batch_size):  # finished items: their rows stay inert
            if done[b]:
                new_scores[b * k : b * k + k] = [float("-inf")] * k
                new_tok[b * k : b * k + k] = [pad] * k
                src[b * k : b * k + k] = stay[b * k : b * k + k]
        if src != stay:
            index = torch.tensor(src, dtype=torch.long, device=device)
            history = history.index_select(0, index)
            cache = reorder_cache(cache, index)
        tokens = torch.tensor(new_tok, dtype=torch.long, device=device)
        history[:, t] = tokens
        beam_scores = torch.tensor(new_scores, dtype=beam_scores.dtype, device=device).view(batch_size, k)
    best = [max(f, key=lambda pair: pair[0]) if f else (float("-inf"), []) for f in finished]
    return _pack([seq for _, seq in best], [score for score, _ in best], pad, device)

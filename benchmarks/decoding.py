"""Autoregressive decoding speed of :class:`models.nn.transformer_decoder.TransformerDecoder`: KV cache vs none.

Both runs greedy-decode the same number of tokens through :func:`models.nn.decoding.sample` over the same encoder
memory (6 s of 22-fps features, Foley Music §3.2). Cached: ``init_cache`` + ``step`` (one new position per step).
Uncached: every step re-runs the teacher-forcing ``forward`` over the whole prefix, as a decoder without a cache
must. EOS is disabled so both produce exactly ``tokens`` tokens; the token sequences must agree.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from models.nn.decoding import decoder_step, sample
from models.nn.transformer_decoder import TransformerDecoder
from music.events import PAD, SOS, VOCAB_SIZE


def _uncached_step(decoder: TransformerDecoder, memory: torch.Tensor):
    def step(tokens: torch.Tensor, prefix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        prefix = torch.cat([prefix, tokens[:, None]], dim=1)
        return decoder(prefix, memory)[:, -1], prefix

    return step


def bench(
    tokens: int = 256,
    batch: int = 5,
    d_model: int = 512,
    num_layers: int = 6,
    num_heads: int = 8,
    dim_feedforward: int = 1024,
    memory_len: int = 132,
) -> dict[str, Any]:
    """Tokens/s (all rows together) with and without the KV cache; the paper's decoder sizes by default, ``batch``
    rows as in a beam of 5."""
    torch.manual_seed(0)
    decoder = TransformerDecoder(VOCAB_SIZE, d_model, num_layers, num_heads, dim_feedforward, max_len=tokens + 1)
    decoder.eval()
    memory = torch.randn(batch, memory_len, d_model)
    common = {"batch_size": batch, "sos": SOS, "eos": -1, "pad": PAD, "max_len": tokens, "greedy": True}
    results: dict[str, Any] = {"tokens": tokens, "batch": batch, "d_model": d_model, "num_layers": num_layers}
    outputs = {}
    with torch.inference_mode():
        for name in ("cached", "uncached"):
            if name == "cached":
                step, cache = decoder_step(decoder), decoder.init_cache(memory)
            else:
                step, cache = _uncached_step(decoder, memory), torch.empty(batch, 0, dtype=torch.long)
            start = time.perf_counter()
            outputs[name] = sample(step, cache, **common).tokens
            results[f"{name}_tokens_per_s"] = batch * tokens / (time.perf_counter() - start)
    results["speedup"] = results["cached_tokens_per_s"] / results["uncached_tokens_per_s"]
    results["same_tokens"] = bool(torch.equal(outputs["cached"], outputs["uncached"]))
    return results

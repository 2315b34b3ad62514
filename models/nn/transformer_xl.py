"""Transformer-XL (Dai et al., ACL 2019): a causal transformer over consecutive segments with a recurrent segment
memory, relative positional attention, optional cross-attention, and a key/value cache for token-by-token decoding.

Segment recurrence (§3.2): every layer keeps the hidden states it was fed for the last ``mem_len`` positions of the
previous segments (detached, no gradient through them); the next segment's queries attend to ``[memory; segment]``.

Relative positional attention (§3.3): with ``R`` the sinusoidal encoding of a distance and ``u``, ``v`` learned
per-head biases, the logit of query ``i`` for key ``j`` is ``(q_i + u)·k_j + (q_i + v)·W_R R_{i - j}``, divided by
``sqrt(d_head)``; keys later than the query are masked. Keys do not depend on the query's position, so the keys and
values of earlier positions can be cached: :meth:`TransformerXL.init_cache` projects the segment memory once and
:meth:`TransformerXL.step` appends one position at a time, giving the same logits as the full :meth:`forward`.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.nn.relative_attention import CrossAttention
from models.nn.transformer_decoder import sinusoidal_encoding

Cache = dict[str, Any]


class RelativeXLAttention(nn.Module):
    """Causal multi-head attention over ``[memory; x]`` with Transformer-XL relative positions."""

    def __init__(self, d_model: int, num_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if d_model % num_heads:
            raise ValueError(f"d_model {d_model} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.head_dim = d_model // num_heads
        self.dropout = dropout
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.r = nn.Linear(d_model, d_model, bias=False)
        self.u = nn.Parameter(torch.zeros(num_heads, self.head_dim))
        self.v = nn.Parameter(torch.zeros(num_heads, self.head_dim))
        self.out = nn.Linear(d_model, d_model)

    def _heads(self, x: Tensor) -> Tensor:
        b, length, _ = x.shape
        return x.view(b, length, self.num_heads, self.head_dim).transpose(1, 2)

    def project_kv(self, h: Tensor) -> tuple[Tensor, Tensor]:
        """Keys and values ``[B, H, L, d_head]`` of hidden states ``h`` [B, L, D]."""
        _, k, v = self.qkv(h).chunk(3, dim=-1)
        return self._heads(k), self._heads(v)

    def forward(self, x: Tensor, k: Tensor, v: Tensor) -> Tensor:
        """Queries from ``x`` [B, Lq, D], the last ``Lq`` of the ``Lk`` positions whose keys / values ``k``, ``v``
        [B, H, Lk, d_head] are given (memory and earlier positions first)."""
        q = self._heads(self.qkv(x).chunk(3, dim=-1)[0])
        lq, lk = q.shape[2], k.shape[2]
        qpos = torch.arange(lk - lq, lk, device=x.device)[:, None]
        dist = qpos - torch.arange(lk, device=x.device)[None, :]  # [Lq, Lk], >= 0 where visible
        rel = self.r(sinusoidal_encoding(torch.arange(lk, device=x.device), q.shape[1] * self.head_dim))
        rel = rel.view(lk, self.num_heads, self.head_dim).transpose(0, 1)  # [H, Lk (distance), d]
        content = torch.matmul(q + self.u[:, None], k.transpose(-1, -2))
        position = torch.matmul(q + self.v[:, None], rel.transpose(-1, -2))  # [B, H, Lq, distance]
        position = position.gather(-1, dist.clamp_min(0).expand(*position.shape[:2], lq, lk))
        logits = (content + position) * self.head_dim**-0.5
        logits = logits.masked_fill(dist < 0, float("-inf"))
        weights = F.dropout(logits.softmax(-1), self.dropout, self.training)
        y = torch.matmul(weights, v)
        return self.out(y.transpose(1, 2).reshape(x.shape[0], lq, -1))


class XLBlock(nn.Module):
    """Pre-LN block: relative self-attention over ``[memory; x]`` -> [cross-attention] -> feed-forward (ReLU)."""

    def __init__(
        self, d_model: int, num_heads: int, dim_feedforward: int, dropout: float, cross_attention: bool
    ) -> None:
        super().__init__()
        self.attn = RelativeXLAttention(d_model, num_heads, dropout)
        self.cross = CrossAttention(d_model, num_heads, dropout) if cross_attention else None
        self.ff = nn.Sequential(
            nn.Linear(d_model, dim_feedforward), nn.ReLU(), nn.Dropout(dropout), nn.Linear(dim_feedforward, d_model)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(3 if cross_attention else 2))
        self.drop = nn.Dropout(dropout)

    def forward(
        self, x: Tensor, k: Tensor, v: Tensor, context_kv: Optional[dict[str, Tensor]], context_mask: Optional[Tensor]
    ) -> Tensor:
        x = x + self.drop(self.attn(self.norms[0](x), k, v))
        if self.cross is not None:
            x = x + self.drop(self.cross(self.norms[1](x), None, context_mask, context_kv))
        return x + self.drop(self.ff(self.norms[-1](x)))


class TransformerXL(nn.Module):
    """Token embedding -> ``num_layers`` :class:`XLBlock` -> LayerNorm -> logits, over segments with memory.

    Args:
        vocab_size: tokens. d_model, num_heads, dim_feedforward, dropout, num_layers: the stack.
        mem_len: hidden states kept per layer for the next segment. padding_idx: embedding row kept at zero.
        cross_attention: attend to a per-segment context ``[B, S, d_model]`` (e.g. an encoder's output).
    """

    def __init__(
        self,
        vocab_size: int,
        d_model: int = 512,
        num_layers: int = 8,
        num_heads: int = 8,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        mem_len: int = 256,
        padding_idx: Optional[int] = None,
        cross_attention: bool = True,
    ) -> None:
        super().__init__()
        if mem_len < 0:
            raise ValueError(f"mem_len must be >= 0, got {mem_len}")
        self.d_model, self.mem_len = d_model, mem_len
        self.cross_attention = cross_attention
        self.embed = nn.Embedding(vocab_size, d_model, padding_idx=padding_idx)
        nn.init.normal_(self.embed.weight, 0.0, d_model**-0.5)
        if padding_idx is not None:
            with torch.no_grad():
                self.embed.weight[padding_idx].zero_()
        self.drop = nn.Dropout(dropout)
        self.layers = nn.ModuleList(
            XLBlock(d_model, num_heads, dim_feedforward, dropout, cross_attention) for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)

    def _check(self, context: Optional[Tensor], mems: Optional[list[Tensor]]) -> None:
        if self.cross_attention and context is None:
            raise ValueError("TransformerXL: this model attends to a context: pass context [B, S, d_model]")
        if not self.cross_attention and context is not None:
            raise ValueError("TransformerXL: built with cross_attention=False, it takes no context")
        if mems is not None and len(mems) != len(self.layers):
            raise ValueError(f"TransformerXL: {len(mems)} memories for {len(self.layers)} layers")

    def _update(self, mems: Optional[list[Tensor]], hidden: list[Tensor]) -> list[Tensor]:
        out = []
        for i, h in enumerate(hidden):
            joined = h if mems is None else torch.cat([mems[i], h], dim=1)
            out.append(joined[:, max(0, joined.shape[1] - self.mem_len) :].detach())
        return out

    def forward(
        self,
        tokens: Tensor,
        mems: Optional[list[Tensor]] = None,
        context: Optional[Tensor] = None,
        context_mask: Optional[Tensor] = None,
    ) -> tuple[Tensor, list[Tensor]]:
        """One segment: ``tokens`` [B, L], ``mems`` (per layer ``[B, M, D]`` or None), ``context`` [B, S, D] and
        ``context_mask`` [B, S] (True = padded) -> logits ``[B, L, V]`` and the memories for the next segment."""
        self._check(context, mems)
        x = self.drop(self.embed(tokens) * self.d_model**0.5)
        hidden = []
        for i, layer in enumerate(self.layers):
            hidden.append(x)
            full = x if mems is None else torch.cat([mems[i], x], dim=1)
            k, v = layer.attn.project_kv(layer.norms[0](full))
            context_kv = layer.cross.memory_kv(context) if layer.cross is not None else None
            x = layer(x, k, v, context_kv, context_mask)
        return self.head(self.norm(x)), self._update(mems, hidden)

    def init_cache(
        self,
        mems: Optional[list[Tensor]] = None,
        context: Optional[Tensor] = None,
        context_mask: Optional[Tensor] = None,
    ) -> Cache:
        """A decoding cache for a new segment: the memory's keys / values per layer and the context's projections."""
        self._check(context, mems)
        layers = []
        for i, layer in enumerate(self.layers):
            entry: dict[str, Any] = {"hidden": [], "k": None, "v": None}
            if mems is not None and mems[i].shape[1] > 0:
                entry["k"], entry["v"] = layer.attn.project_kv(layer.norms[0](mems[i]))
            entry["context"] = layer.cross.memory_kv(context) if layer.cross is not None else None
            layers.append(entry)
        return {"layers": layers, "mems": mems, "context_mask": context_mask}

    def step(self, tokens: Tensor, cache: Cache) -> tuple[Tensor, Cache]:
        """Incremental decoding: the next ``tokens`` [B, l] -> logits ``[B, l, V]``; the cache is extended."""
        x = self.drop(self.embed(tokens) * self.d_model**0.5)
        for layer, entry in zip(self.layers, cache["layers"]):
            entry["hidden"].append(x)
            k, v = layer.attn.project_kv(layer.norms[0](x))
            if entry["k"] is not None:
                k, v = torch.cat([entry["k"], k], dim=2), torch.cat([entry["v"], v], dim=2)
            entry["k"], entry["v"] = k, v
            x = layer(x, k, v, entry["context"], cache["context_mask"])
        return self.head(self.norm(x)), cache

    def cache_mems(self, cache: Cache) -> list[Tensor]:
        """The memories for the next segment after decoding one with ``cache`` (as :meth:`forward` returns them)."""
        hidden = [torch.cat(entry["hidden"], dim=1) for entry in cache["layers"]]
        return self._update(cache["mems"], hidden)


__all__ = ["RelativeXLAttention", "TransformerXL", "XLBlock"]

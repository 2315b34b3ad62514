"""Causal multi-head self-attention with learned relative position embeddings (Shaw et al. 2018) computed with the
memory-efficient "skewing" of Music Transformer (Huang et al. 2018, §3.4.1), plus plain multi-head cross-attention.

Relative logits: ``S_rel[i, j] = q_i · E[d(j - i)]`` for keys ``j <= i``, where ``E`` holds one learned embedding per
head and per distance ``0 .. max_relative_position - 1`` (farther distances share the last embedding, as in Shaw et
al.'s clipping). The naive formulation gathers an ``[L, L, D]`` tensor of embeddings; skewing instead multiplies
``Q`` by the ``L`` embeddings once (``[Lq, Lk]`` logits) and shifts each row into place with a pad + reshape, so the
extra memory is O(L·D) (the embeddings) instead of O(L²·D). The skew here is generalised to ``Lq <= Lk`` (queries are
the last ``Lq`` of ``Lk`` positions), which is what key/value-cached decoding needs.

PyTorch's ``scaled_dot_product_attention`` takes an additive float mask, so the relative logits (divided by
``sqrt(d)``, Eq. 3 of Foley Music) go in as the mask together with the causal ``-inf``: the fused kernel does the rest.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

KVCache = dict[str, Tensor]


def relative_embeddings(table: Tensor, key_len: int) -> Tensor:
    """Rows of ``table`` [H, M, D] for distances ``key_len - 1 .. 0`` (oldest first): ``[H, key_len, D]``.

    ``table[:, M - 1]`` is distance 0 and ``table[:, 0]`` distance ``M - 1`` (and every farther one, clipped).
    """
    max_rel = table.shape[1]
    if key_len <= max_rel:
        return table[:, max_rel - key_len :]
    index = (torch.arange(key_len, device=table.device) - (key_len - max_rel)).clamp_min(0)
    return table[:, index]


def skew(rel: Tensor) -> Tensor:
    """Turn ``rel[..., q, c]`` (column ``c`` = distance ``c - (Lk - 1)``) into ``out[..., q, j]`` = logit of key ``j``.

    Query ``q`` sits at absolute position ``Lk - Lq + q``. Valid for ``j <= Lk - Lq + q`` (causal part); the rest
    is garbage that the causal mask removes. Pad one column on the left, flatten the last two axes, drop the first
    ``Lq`` entries and read the rest as ``[Lq, Lk]``: entry ``(q, j)`` lands on ``rel[q, j - q + Lq - 1]``.
    """
    *batch, lq, lk = rel.shape
    padded = F.pad(rel, (1, 0))  # [..., Lq, Lk + 1]
    flat = padded.reshape(*batch, lq * (lk + 1))
    return flat[..., lq:].reshape(*batch, lq, lk)


def naive_relative_logits(q: Tensor, table: Tensor, key_len: int) -> Tensor:
    """Reference O(L²·D) formulation: gather ``E[distance(i, j)]`` for every pair, then dot with ``q``.

    ``q`` [B, H, Lq, D] (the last ``Lq`` of ``key_len`` positions), ``table`` [H, M, D] -> ``[B, H, Lq, key_len]``
    with zeros where ``j > i``.
    """
    lq = q.shape[-2]
    max_rel = table.shape[1]
    qpos = torch.arange(key_len - lq, key_len, device=q.device)[:, None]
    kpos = torch.arange(key_len, device=q.device)[None, :]
    dist = qpos - kpos  # >= 0 on the causal part
    index = (max_rel - 1 - dist).clamp(0, max_rel - 1)
    gathered = table[:, index]  # [H, Lq, Lk, D]
    logits = torch.einsum("bhqd,hqkd->bhqk", q, gathered)
    return logits.masked_fill(dist < 0, 0.0)


def causal_mask(query_len: int, key_len: int, device: torch.device) -> Tensor:
    """Boolean ``[Lq, Lk]``: True where query ``q`` (at position ``Lk - Lq + q``) may not see key ``j``."""
    qpos = torch.arange(key_len - query_len, key_len, device=device)[:, None]
    return torch.arange(key_len, device=device)[None, :] > qpos


class RelativeSelfAttention(nn.Module):
    """Masked (causal) multi-head self-attention with relative position logits (skewed or naive).

    Args:
        d_model: model width.
        num_heads: attention heads.
        max_relative_position: number of learned distances per head (Music Transformer: the max sequence length).
        dropout: attention-weight dropout.
        skew: use the memory-efficient skewing (default) or the naive gather (reference / tests).
    """

    def __init__(
        self, d_model: int, num_heads: int, max_relative_position: int = 512, dropout: float = 0.0, skew: bool = True
    ) -> None:
        super().__init__()
        if d_model % num_heads:
            raise ValueError(f"d_model {d_model} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.head_dim = d_model // num_heads
        self.dropout = dropout
        self.skew = skew
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.relative = nn.Parameter(torch.randn(num_heads, max_relative_position, self.head_dim) * self.head_dim**-0.5)

    def forward(self, x: Tensor, cache: Optional[KVCache] = None) -> tuple[Tensor, Optional[KVCache]]:
        """``x`` [B, Lq, D] -> ``[B, Lq, D]``. With ``cache`` (keys/values of earlier positions, possibly empty),
        ``x`` holds the next ``Lq`` positions and the extended cache is returned."""
        b, lq, _ = x.shape
        q, k, v = self.qkv(x).view(b, lq, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        if cache is not None:
            if "k" in cache:
                k = torch.cat([cache["k"], k], dim=2)
                v = torch.cat([cache["v"], v], dim=2)
            cache = {"k": k, "v": v}
        lk = k.shape[2]
        if self.skew:
            rel = skew(torch.einsum("bhqd,hkd->bhqk", q, relative_embeddings(self.relative, lk)))
        else:
            rel = naive_relative_logits(q, self.relative, lk)
        bias = (rel / math.sqrt(self.head_dim)).masked_fill(causal_mask(lq, lk, x.device), float("-inf"))
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=self.dropout if self.training else 0.0)
        return self.out(y.transpose(1, 2).reshape(b, lq, -1)), cache


class CrossAttention(nn.Module):
    """Multi-head attention from decoder states to an encoder memory (Foley Music Eq. 4); K/V cacheable.

    Args:
        d_model: query width. num_heads: heads. dropout: attention dropout.
        memory_dim: width of the memory (defaults to ``d_model``).
    """

    def __init__(self, d_model: int, num_heads: int, dropout: float = 0.0, memory_dim: Optional[int] = None) -> None:
        super().__init__()
        if d_model % num_heads:
            raise ValueError(f"d_model {d_model} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.head_dim = d_model // num_heads
        self.dropout = dropout
        self.q = nn.Linear(d_model, d_model)
        self.kv = nn.Linear(memory_dim or d_model, 2 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def memory_kv(self, memory: Tensor) -> KVCache:
        """Project the memory [B, S, Dm] once into per-head keys/values (reused at every decoding step)."""
        b, s, _ = memory.shape
        k, v = self.kv(memory).view(b, s, 2, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        return {"k": k, "v": v}

    def forward(
        self,
        x: Tensor,
        memory: Optional[Tensor] = None,
        memory_padding_mask: Optional[Tensor] = None,
        cache: Optional[KVCache] = None,
    ) -> Tensor:
        """``x`` [B, L, D]; either ``memory`` [B, S, Dm] or its precomputed ``cache``; ``memory_padding_mask``
        [B, S] is True at padded memory positions."""
        b, lq, _ = x.shape
        kv = cache if cache is not None else self.memory_kv(memory)
        q = self.q(x).view(b, lq, self.num_heads, self.head_dim).transpose(1, 2)
        mask = None if memory_padding_mask is None else ~memory_padding_mask[:, None, None, :]
        y = F.scaled_dot_product_attention(
            q, kv["k"], kv["v"], attn_mask=mask, dropout_p=self.dropout if self.training else 0.0
        )
        return self.out(y.transpose(1, 2).reshape(b, lq, -1))

"""Causal multi-head self-attention with learned relative position embeddings (Shaw et al. 2018) computed with the
memory-efficient "skewing" of Music Transformer (Huang et al. 2018, §3.4.1), plus plain multi-head cross-attention.

Relative logits: ``S_rel[i, j] = q_i · E[d(j - i)]`` for keys ``j <= i``, where ``E`` holds one learned embedding per
head and per distance ``0 .. max_relative_position - 1`` (farther distances share the last embedding, as in Shaw et
al.'s clipping). The naive formulation gathers an ``[L, L, D]`` tensor of embeddings; skewing instead multiplies
``Q`` by the ``L`` embeddings once (``[Lq, Lk]`` logits) and shifts each row into place with a pad + reshape, so the
extra memory is O(L·D) (the embeddings) instead of O(L²·D). The skew here is generalised to ``Lq <= Lk`` (queries are
the last ``Lq`` of ``Lk`` positions), which is what key/value-cached decoding needs.

PyTorch's ``scaled_dot_product_attention`` takes an additive float mask, so the relative logits (divided by
``sqrt(d)``) go in as the mask together with the causal ``-inf``: the fused kernel does the rest.

The table is either shared by all heads (``[1, M, D]``, the one ``E_r`` per layer of Music Transformer's reference
implementations; the default) or learned per head (``[H, M, D]``, Shaw et al.'s per-layer
embeddings split by head); every function below broadcasts over a table of 1 or H heads.

Cached decoding keeps keys and values in preallocated buffers (:class:`KVBuffer`, grown by doubling when a sequence
outlasts them) that each step writes one position into, instead of concatenating the whole cache every step; beam
search reorders them in place. A single new query (the usual decoding step, :meth:`RelativeSelfAttention.step_one`)
sees every cached key, so it needs neither the causal mask nor the skew: its relative logits are one
``[1, D] x [D, Lk]`` product with the table's last ``Lk`` rows (no term over the whole cache is rebuilt).
"""

from __future__ import annotations

from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

KVCache = dict[str, Any]


class KVBuffer:
    """Keys and values of the first ``length`` positions, preallocated for cached decoding.

    Stored time-major (``[capacity, B, H, D]``) so that the filled part is one contiguous block: :meth:`append`
    writes the new positions into it (doubling the capacity when a sequence outlasts it), so no step allocates or
    concatenates. :meth:`reorder` (called by :func:`models.nn.decoding.reorder_cache` for beam search) follows the
    surviving rows in place: only the rows whose source differs are copied (beam search keeps a hypothesis in its
    parent's row where it can, so a step usually moves a few of the rows). A reordered buffer takes the storage
    over: the buffer it came from is emptied.
    """

    def __init__(self, keys: Tensor, values: Tensor, length: int):
        self.keys, self.values, self.length = keys, values, length

    @classmethod
    def empty(cls, like: Tensor, capacity: int) -> KVBuffer:
        """An empty buffer for keys shaped like ``like`` [B, H, L, D] with room for ``capacity`` positions."""
        b, h, _, d = like.shape
        return cls(like.new_empty((capacity, b, h, d)), like.new_empty((capacity, b, h, d)), 0)

    def _check(self) -> None:
        if self.keys is None:
            raise RuntimeError("this key/value buffer was reordered into another one and is empty")

    def _view(self, block: Tensor) -> Tensor:
        return block[: self.length].permute(1, 2, 0, 3)  # [B, H, length, D]

    def append(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Write ``k``, ``v`` [B, H, l, D] after the filled part; return the keys and values of every position
        (``[B, H, length, D]`` views of the buffer)."""
        self._check()
        start, end = self.length, self.length + k.shape[2]
        if end > self.keys.shape[0]:
            capacity = max(2 * self.keys.shape[0], end)
            keys = self.keys.new_empty((capacity, *self.keys.shape[1:]))
            values = self.values.new_empty((capacity, *self.values.shape[1:]))
            keys[:start], values[:start] = self.keys[:start], self.values[:start]
            self.keys, self.values = keys, values
        self.keys[start:end] = k.permute(2, 0, 1, 3)
        self.values[start:end] = v.permute(2, 0, 1, 3)
        self.length = end
        return self._view(self.keys), self._view(self.values)

    def append_one(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Write one position's ``k``, ``v`` [B, H, D] (any strides); return the keys and values of every position
        as ``[length, B * H, D]`` views of the buffer (no copy: the decoding step multiplies them in place)."""
        self._check()
        t = self.length
        if t == self.keys.shape[0]:
            self.append(k[:, :, None], v[:, :, None])
        else:
            self.keys[t].copy_(k)
            self.values[t].copy_(v)
            self.length = t + 1
        n, (_, b, h, d) = self.length, self.keys.shape
        return self.keys[:n].view(n, b * h, d), self.values[:n].view(n, b * h, d)

    def reorder(self, index: Tensor) -> KVBuffer:
        """The buffer holding batch rows ``index`` (any count, repeats allowed) of this one's filled part: the same
        storage with the changed rows copied when the batch keeps its size (and autograd is off), else a new one."""
        self._check()
        n, b = self.length, self.keys.shape[1]
        if index.shape[0] == b and not torch.is_grad_enabled():
            moved = (index != torch.arange(b, device=index.device)).nonzero().squeeze(1)
            if moved.numel():  # the sources are read out before any row is written
                source = index.index_select(0, moved)
                for block in (self.keys, self.values):
                    block[:n].index_copy_(1, moved, block[:n].index_select(1, source))
            keys, values = self.keys, self.values
        else:
            shape = (self.keys.shape[0], index.shape[0], *self.keys.shape[2:])
            keys, values = self.keys.new_empty(shape), self.values.new_empty(shape)
            keys[:n], values[:n] = self.keys[:n].index_select(1, index), self.values[:n].index_select(1, index)
        self.keys = self.values = None
        return KVBuffer(keys, values, n)


def relative_embeddings(table: Tensor, key_len: int) -> Tensor:
    """Rows of ``table`` [H, M, D] for distances ``key_len - 1 .. 0`` (oldest first): ``[H, key_len, D]``.

    ``table[:, M - 1]`` is distance 0 and ``table[:, 0]`` distance ``M - 1`` (and every farther one, clipped);
    ``H`` is 1 for a table shared by all heads.
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

    ``q`` [B, H, Lq, D] (the last ``Lq`` of ``key_len`` positions), ``table`` [H, M, D] (H = 1: shared by the heads)
    -> ``[B, H, Lq, key_len]`` with zeros where ``j > i``.
    """
    lq = q.shape[-2]
    max_rel = table.shape[1]
    qpos = torch.arange(key_len - lq, key_len, device=q.device)[:, None]
    kpos = torch.arange(key_len, device=q.device)[None, :]
    dist = qpos - kpos  # >= 0 on the causal part
    index = (max_rel - 1 - dist).clamp(0, max_rel - 1)
    gathered = table[:, index]  # [H, Lq, Lk, D]
    logits = torch.matmul(q.unsqueeze(-2), gathered.transpose(-1, -2)).squeeze(-2)  # broadcasts H = 1
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
        max_relative_position: number of learned distances (Music Transformer: the max sequence length); also the
            initial capacity of the decoding cache.
        dropout: attention-weight dropout.
        skew: use the memory-efficient skewing (default) or the naive gather (reference / tests).
        relative_per_head: one relative-position table per head (``[H, M, D]``) instead of one shared by all heads
            (``[1, M, D]``, the default; see module docstring).
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        max_relative_position: int = 512,
        dropout: float = 0.0,
        skew: bool = True,
        relative_per_head: bool = False,
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
        tables = num_heads if relative_per_head else 1
        self.relative = nn.Parameter(torch.randn(tables, max_relative_position, self.head_dim) * self.head_dim**-0.5)

    def forward(self, x: Tensor, cache: Optional[KVCache] = None) -> tuple[Tensor, Optional[KVCache]]:
        """``x`` [B, Lq, D] -> ``[B, Lq, D]``. With ``cache`` (keys/values of earlier positions, possibly an empty
        dict), ``x`` holds the next ``Lq`` positions and the extended cache is returned (its buffer is written in
        place)."""
        b, lq, _ = x.shape
        q, k, v = self.qkv(x).view(b, lq, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        if cache is not None:
            buffer = cache.get("kv")
            if buffer is None:
                buffer = KVBuffer.empty(k, max(self.relative.shape[1], lq))
            k, v = buffer.append(k, v)
            cache = {"kv": buffer}
        lk = k.shape[2]
        scale = self.head_dim**-0.5
        if lq == 1 and self.skew:  # one query sees every key: no mask, no skew
            rel = torch.matmul(q, relative_embeddings(self.relative, lk).transpose(-1, -2))
            bias = rel * scale
        else:
            if self.skew:
                rel = skew(torch.matmul(q, relative_embeddings(self.relative, lk).transpose(-1, -2)))
            else:
                rel = naive_relative_logits(q, self.relative, lk)
            bias = (rel * scale).masked_fill(causal_mask(lq, lk, x.device), float("-inf"))
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=self.dropout if self.training else 0.0)
        return self.out(y.transpose(1, 2).reshape(b, lq, -1)), cache

    def step_one(self, x: Tensor, cache: KVCache) -> Tensor:
        """One decoding step without dropout: ``x`` [B, D] is the next position, ``cache`` (a dict, possibly empty)
        gets its key/value buffer extended in place -> ``[B, D]``.

        Equal to :meth:`forward` on ``x[:, None]`` in eval mode, in fewer operations: keys and values stay in the
        buffer (attention multiplies ``[length, B * H, D]`` views of it, no permuted copies), the relative logits are
        one product of the query with the table's last ``length`` rows, and they enter the scores together with the
        key logits in one ``baddbmm``.
        """
        b = x.shape[0]
        h, d = self.num_heads, self.head_dim
        qkv = F.linear(x, self.qkv.weight, self.qkv.bias).view(b, 3, h, d)
        buffer = cache.get("kv")
        if buffer is None:
            buffer = cache["kv"] = KVBuffer.empty(qkv[:, 1, :, None], self.relative.shape[1])
        keys, values = buffer.append_one(qkv[:, 1], qkv[:, 2])  # [L, B*H, D]
        lk = keys.shape[0]
        q = qkv[:, 0]  # [B, H, D]
        table = relative_embeddings(self.relative, lk)  # [1 or H, L, D]
        if table.shape[0] == 1:
            rel = torch.mm(q.reshape(b * h, d), table[0].t())
        else:
            rel = torch.matmul(q.unsqueeze(2), table.transpose(1, 2))  # [B, H, 1, L]
        scale = d**-0.5
        scores = torch.baddbmm(
            rel.view(b * h, 1, lk), q.reshape(b * h, 1, d), keys.permute(1, 2, 0), beta=scale, alpha=scale
        )
        y = torch.bmm(scores.softmax(-1), values.transpose(0, 1))  # [B*H, 1, D]
        return F.linear(y.view(b, h * d), self.out.weight, self.out.bias)


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
        return {"k": k.contiguous(), "v": v.contiguous()}

    def step_one(self, x: Tensor, cache: KVCache, attn_mask: Optional[Tensor] = None) -> Tensor:
        """One decoding step without dropout: ``x`` [B, D], the memory's ``cache`` (:meth:`memory_kv`) and
        ``attn_mask`` (bool [B, 1, 1, S], True where a memory position may be seen) -> ``[B, D]``."""
        b = x.shape[0]
        q = F.linear(x, self.q.weight, self.q.bias).view(b, self.num_heads, 1, self.head_dim)
        y = F.scaled_dot_product_attention(q, cache["k"], cache["v"], attn_mask=attn_mask)
        return F.linear(y.view(b, -1), self.out.weight, self.out.bias)

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

"""Transformer-XL (Dai et al., ACL 2019): transformer layers over consecutive segments with a recurrent segment
memory, relative positional attention, optional cross-attention, padding, and a key/value cache for token-by-token
decoding.

Segment recurrence (§3.2): every layer keeps the hidden states it was fed for the last ``mem_len`` positions of the
previous segments (detached, no gradient through them), with their padding; the next segment's queries attend to
``[memory; segment]``.

Relative positional attention (§3.3): with ``R`` the sinusoidal encoding of a distance and ``u``, ``v`` learned
per-head biases, the logit of query ``i`` for key ``j`` is ``(q_i + u)·k_j + (q_i + v)·W_R R_{i - j}``, divided by
``sqrt(d_head)``. A causal stack masks keys later than the query; a bidirectional one (an encoder) sees the whole
segment, negative distances included. Padded keys are masked, except a query's own position (so a padded query, whose
output nobody reads, never has an empty softmax).

Keys do not depend on the query's position, so the keys and values of earlier positions can be cached:
:meth:`XLStack.init_cache` projects the segment memory once (into a preallocated buffer that the steps extend in
place) and :meth:`XLStack.step` appends positions, projecting the relative encodings once per segment instead of at
every step, giving the same outputs as the full :meth:`XLStack.forward` (causal stacks only).

:class:`XLStack` works on embeddings (a model with its own embeddings, e.g. an encoder-decoder); :class:`TransformerXL`
is a token language model around one. Both take a segment's arguments in one order: ``(x or tokens, memory, padding,
context, context_mask)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.nn.relative_attention import CrossAttention, KVBuffer
from models.nn.transformer_decoder import sinusoidal_encoding

Cache = dict[str, Any]


@dataclass
class Memory:
    """A stack's segment memory: per layer the hidden states ``[B, M, D]`` it was fed (detached) and their padding
    ``[B, M]`` (True = a padded position, masked as a key)."""

    states: list[Tensor]
    padding: Tensor

    @property
    def length(self) -> int:
        return int(self.padding.shape[1])


class RelativeXLAttention(nn.Module):
    """Multi-head attention over ``[memory; x]`` with Transformer-XL relative positions (causal or bidirectional)."""

    def __init__(self, d_model: int, num_heads: int, dropout: float = 0.0, causal: bool = True) -> None:
        super().__init__()
        if d_model % num_heads:
            raise ValueError(f"d_model {d_model} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.head_dim = d_model // num_heads
        self.dropout = dropout
        self.causal = causal
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.r = nn.Linear(d_model, d_model, bias=False)
        self.u = nn.Parameter(torch.zeros(num_heads, self.head_dim))
        self.v = nn.Parameter(torch.zeros(num_heads, self.head_dim))
        self.out = nn.Linear(d_model, d_model)

    def _heads(self, x: Tensor) -> Tensor:
        b, length, _ = x.shape
        return x.view(b, length, self.num_heads, self.head_dim).transpose(1, 2)

    def project(self, h: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Queries, keys and values ``[B, H, L, d_head]`` of (normalised) hidden states ``h`` [B, L, D]."""
        q, k, v = self.qkv(h).chunk(3, dim=-1)
        return self._heads(q), self._heads(k), self._heads(v)

    def project_kv(self, h: Tensor) -> tuple[Tensor, Tensor]:
        """Keys and values ``[B, H, L, d_head]`` of hidden states ``h`` [B, L, D]."""
        return self.project(h)[1:]

    def relative(self, low: int, high: int, device: torch.device) -> Tensor:
        """The projected encodings ``W_R R_d`` of the distances ``low .. high - 1``: ``[H, high - low, d_head]``."""
        rel = self.r(sinusoidal_encoding(torch.arange(low, high, device=device), self.num_heads * self.head_dim))
        return rel.view(high - low, self.num_heads, self.head_dim).transpose(0, 1)

    def attend(
        self, q: Tensor, k: Tensor, v: Tensor, key_padding: Optional[Tensor] = None, rel: Optional[Tensor] = None
    ) -> Tensor:
        """Queries ``q`` [B, H, Lq, d_head], the last ``Lq`` of the ``Lk`` positions whose keys / values ``k``, ``v``
        [B, H, Lk, d_head] are given (memory and earlier positions first); ``key_padding`` [B, Lk] True = padded;
        ``rel``: :meth:`relative` from the smallest distance (0 if causal, else ``-(Lq - 1)``) for at least the
        ``Lk`` distances needed (computed when None) -> ``[B, Lq, D]``."""
        lq, lk = q.shape[2], k.shape[2]
        qpos = torch.arange(lk - lq, lk, device=q.device)[:, None]
        dist = qpos - torch.arange(lk, device=q.device)[None, :]  # [Lq, Lk]: >= 0 for keys at or before the query
        low = 0 if self.causal else -(lq - 1)
        if rel is None:
            rel = self.relative(low, lk, q.device)
        rel = rel[:, : lk - low]  # [H, distances, d]
        content = torch.matmul(q + self.u[:, None], k.transpose(-1, -2))
        position = torch.matmul(q + self.v[:, None], rel.transpose(-1, -2))  # [B, H, Lq, distances]
        index = (dist - low).clamp(0, lk - low - 1)
        position = position.gather(-1, index.expand(*position.shape[:2], lq, lk))
        logits = (content + position) * self.head_dim**-0.5
        masked = (dist < 0)[None, None] if self.causal and lq > 1 else None
        if key_padding is not None:
            padded = key_padding[:, None, None, :] & (dist != 0)[None, None]
            masked = padded if masked is None else masked | padded
        if masked is not None:
            logits = logits.masked_fill(masked, float("-inf"))
        weights = F.dropout(logits.softmax(-1), self.dropout, self.training)
        y = torch.matmul(weights, v)
        return self.out(y.transpose(1, 2).reshape(q.shape[0], lq, -1))

    def attend_last(
        self, q: Tensor, k: Tensor, v: Tensor, rel_keys: Tensor, key_padding: Optional[Tensor] = None
    ) -> Tensor:
        """One query ``q`` [B, H, 1, d_head] at the last of the ``Lk`` positions of ``k``, ``v`` (a causal decoding
        step): :meth:`attend` without masks of distances, ``rel_keys`` [H, Lk, d_head] being the projected encodings
        of each key's distance to the query (``Lk - 1`` down to 0) -> ``[B, 1, D]``."""
        scale = self.head_dim**-0.5
        position = torch.matmul(q + self.v[:, None], rel_keys.transpose(-1, -2)) * scale  # [B, H, 1, Lk]
        if key_padding is not None:
            padded = key_padding.clone()
            padded[:, -1] = False  # the query sees itself
            position = position.masked_fill(padded[:, None, None, :], float("-inf"))
        y = F.scaled_dot_product_attention(q + self.u[:, None], k, v, attn_mask=position)
        return self.out(y.transpose(1, 2).reshape(q.shape[0], 1, -1))

    def forward(self, x: Tensor, k: Tensor, v: Tensor, key_padding: Optional[Tensor] = None) -> Tensor:
        """Queries from ``x`` [B, Lq, D] (:meth:`attend`)."""
        return self.attend(self.project(x)[0], k, v, key_padding)


class XLBlock(nn.Module):
    """Pre-LN block: relative self-attention over ``[memory; x]`` -> [cross-attention] -> feed-forward (ReLU)."""

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        dim_feedforward: int,
        dropout: float,
        cross_attention: bool,
        causal: bool = True,
    ) -> None:
        super().__init__()
        self.attn = RelativeXLAttention(d_model, num_heads, dropout, causal)
        self.cross = CrossAttention(d_model, num_heads, dropout) if cross_attention else None
        self.ff = nn.Sequential(
            nn.Linear(d_model, dim_feedforward), nn.ReLU(), nn.Dropout(dropout), nn.Linear(dim_feedforward, d_model)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(3 if cross_attention else 2))
        self.drop = nn.Dropout(dropout)

    def forward(
        self,
        x: Tensor,
        q: Tensor,
        k: Tensor,
        v: Tensor,
        key_padding: Optional[Tensor],
        context_kv: Optional[dict[str, Tensor]],
        context_mask: Optional[Tensor],
        rel: Optional[Tensor] = None,
        rel_keys: Optional[Tensor] = None,
    ) -> Tensor:
        """``x`` [B, Lq, D] with its self-attention queries ``q`` and the keys / values ``k``, ``v`` of
        ``[memory; earlier; x]`` (:meth:`RelativeXLAttention.project` of the normalised states); ``rel``: the
        relative encodings from the smallest distance, or (``rel_keys``) one per key for a single causal query."""
        if rel_keys is not None:
            x = x + self.drop(self.attn.attend_last(q, k, v, rel_keys, key_padding))
        else:
            x = x + self.drop(self.attn.attend(q, k, v, key_padding, rel))
        if self.cross is not None:
            x = x + self.drop(self.cross(self.norms[1](x), None, context_mask, context_kv))
        return x + self.drop(self.ff(self.norms[-1](x)))


class XLStack(nn.Module):
    """``num_layers`` :class:`XLBlock` over embeddings, then a LayerNorm, segment by segment with a :class:`Memory`.

    Args:
        d_model, num_layers, num_heads, dim_feedforward, dropout: the stack (pre-LN, ReLU); ``dropout`` also on the
            input embeddings.
        mem_len: positions kept per layer for the next segment.
        cross_attention: attend to a per-segment context ``[B, S, d_model]`` (e.g. an encoder's output).
        causal: mask keys later than the query (a decoder); False: the whole segment (an encoder, no cache).
    """

    def __init__(
        self,
        d_model: int = 512,
        num_layers: int = 8,
        num_heads: int = 8,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        mem_len: int = 256,
        cross_attention: bool = True,
        causal: bool = True,
    ) -> None:
        super().__init__()
        if mem_len < 0:
            raise ValueError(f"mem_len must be >= 0, got {mem_len}")
        self.d_model, self.mem_len = d_model, mem_len
        self.cross_attention, self.causal = cross_attention, causal
        self.drop = nn.Dropout(dropout)
        self.layers = nn.ModuleList(
            XLBlock(d_model, num_heads, dim_feedforward, dropout, cross_attention, causal) for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(d_model)

    def _check(self, x: Tensor, memory: Optional[Memory], context: Optional[Tensor]) -> None:
        if x.dim() != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"XLStack: input must be [B, L, {self.d_model}], got {tuple(x.shape)}")
        if self.cross_attention and context is None:
            raise ValueError("XLStack: this stack attends to a context: pass context [B, S, d_model]")
        if not self.cross_attention and context is not None:
            raise ValueError("XLStack: built with cross_attention=False, it takes no context")
        if memory is not None and len(memory.states) != len(self.layers):
            raise ValueError(f"XLStack: {len(memory.states)} memories for {len(self.layers)} layers")

    @staticmethod
    def _padding(x: Tensor, padding: Optional[Tensor]) -> Tensor:
        if padding is None:
            return torch.zeros(x.shape[:2], dtype=torch.bool, device=x.device)
        if padding.shape != x.shape[:2]:
            raise ValueError(f"XLStack: padding must be [B, L] = {tuple(x.shape[:2])}, got {tuple(padding.shape)}")
        return padding.bool()

    def _update(self, memory: Optional[Memory], hidden: list[Tensor], padding: Tensor) -> Memory:
        keep = self.mem_len
        if memory is not None:
            hidden = [torch.cat([m, h], dim=1) for m, h in zip(memory.states, hidden)]
            padding = torch.cat([memory.padding, padding], dim=1)
        start = max(0, padding.shape[1] - keep)
        return Memory([h[:, start:].detach() for h in hidden], padding[:, start:])

    def forward(
        self,
        x: Tensor,
        memory: Optional[Memory] = None,
        padding: Optional[Tensor] = None,
        context: Optional[Tensor] = None,
        context_mask: Optional[Tensor] = None,
    ) -> tuple[Tensor, Memory]:
        """One segment: embeddings ``x`` [B, L, D], its ``padding`` [B, L] (True = padded), the ``memory`` of the
        previous segments, ``context`` [B, S, D] with ``context_mask`` [B, S] (True = padded) -> hidden states
        ``[B, L, D]`` (normalised) and the memory for the next segment."""
        self._check(x, memory, context)
        padding = self._padding(x, padding)
        keys_padding = padding if memory is None else torch.cat([memory.padding, padding], dim=1)
        key_padding = keys_padding if bool(keys_padding.any()) else None
        x = self.drop(x)
        hidden = []
        for i, layer in enumerate(self.layers):
            hidden.append(x)
            full = x if memory is None else torch.cat([memory.states[i], x], dim=1)
            q, k, v = layer.attn.project(layer.norms[0](full))  # the memory's queries are dropped
            context_kv = layer.cross.memory_kv(context) if layer.cross is not None else None
            x = layer(x, q[:, :, q.shape[2] - x.shape[1] :], k, v, key_padding, context_kv, context_mask)
        return self.norm(x), self._update(memory, hidden, padding)

    def init_cache(
        self,
        memory: Optional[Memory] = None,
        context: Optional[Tensor] = None,
        context_mask: Optional[Tensor] = None,
    ) -> Cache:
        """A decoding cache for a new segment: per layer the memory's keys / values (in a :class:`KVBuffer` that
        the steps extend in place), the context's projections and the projected relative encodings (computed once,
        grown by doubling as the keys outnumber them)."""
        if not self.causal:
            raise RuntimeError("XLStack: a bidirectional stack cannot decode step by step")
        if self.cross_attention and context is None:
            raise ValueError("XLStack: this stack attends to a context: pass context [B, S, d_model]")
        layers = []
        for i, layer in enumerate(self.layers):
            entry: dict[str, Any] = {"hidden": [], "kv": None, "rel": None}
            if memory is not None and memory.length > 0:
                k, v = layer.attn.project_kv(layer.norms[0](memory.states[i]))
                entry["kv"] = KVBuffer.empty(k, 2 * k.shape[2])
                entry["kv"].append(k, v)
            entry["context"] = layer.cross.memory_kv(context) if layer.cross is not None else None
            layers.append(entry)
        padding = [] if memory is None else [memory.padding]
        return {"layers": layers, "memory": memory, "padding": padding, "context_mask": context_mask}

    def step(self, x: Tensor, cache: Cache, padding: Optional[Tensor] = None) -> Tensor:
        """Incremental decoding: the next embeddings ``x`` [B, l, D] (``padding`` [B, l]) -> hidden states
        ``[B, l, D]``; the cache is extended."""
        cache["padding"].append(self._padding(x, padding))
        keys_padding = torch.cat(cache["padding"], dim=1)
        key_padding = keys_padding if bool(keys_padding.any()) else None
        length = keys_padding.shape[1]
        x = self.drop(x)
        for layer, entry in zip(self.layers, cache["layers"]):
            entry["hidden"].append(x)
            q, k, v = layer.attn.project(layer.norms[0](x))
            if entry["kv"] is None:
                entry["kv"] = KVBuffer.empty(k, max(2 * k.shape[2], 64))
            k, v = entry["kv"].append(k, v)
            if entry["rel"] is None or entry["rel"].shape[1] < length:
                # distances size - 1 .. 0: the keys' distances to the last query are the table's last `length` rows
                size = max(length, 2 * (0 if entry["rel"] is None else entry["rel"].shape[1]))
                entry["rel"] = layer.attn.relative(0, size, x.device).flip(1)
            table = entry["rel"]
            if x.shape[1] == 1:
                rel_keys = table[:, table.shape[1] - length :]
                x = layer(x, q, k, v, key_padding, entry["context"], cache["context_mask"], rel_keys=rel_keys)
            else:
                rel = table[:, table.shape[1] - length :].flip(1)  # from distance 0
                x = layer(x, q, k, v, key_padding, entry["context"], cache["context_mask"], rel)
        return self.norm(x)

    def cache_mems(self, cache: Cache) -> Memory:
        """The memory for the next segment after decoding one with ``cache`` (as :meth:`forward` returns it)."""
        hidden = [torch.cat(entry["hidden"], dim=1) for entry in cache["layers"]]
        memory = cache["memory"]
        steps = len(cache["padding"]) - (0 if memory is None else 1)
        padding = torch.cat(cache["padding"][len(cache["padding"]) - steps :], dim=1)
        return self._update(memory, hidden, padding)


class TransformerXL(nn.Module):
    """Token embedding (× sqrt(d_model)) -> :class:`XLStack` -> logits, over segments with memory.

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
        self.d_model = d_model
        self.embed = nn.Embedding(vocab_size, d_model, padding_idx=padding_idx)
        nn.init.normal_(self.embed.weight, 0.0, d_model**-0.5)
        if padding_idx is not None:
            with torch.no_grad():
                self.embed.weight[padding_idx].zero_()
        self.stack = XLStack(d_model, num_layers, num_heads, dim_feedforward, dropout, mem_len, cross_attention)
        self.head = nn.Linear(d_model, vocab_size)

    @property
    def layers(self) -> nn.ModuleList:
        return self.stack.layers

    def _embed(self, tokens: Tensor) -> Tensor:
        return self.embed(tokens) * self.d_model**0.5

    def forward(
        self,
        tokens: Tensor,
        memory: Optional[Memory] = None,
        padding: Optional[Tensor] = None,
        context: Optional[Tensor] = None,
        context_mask: Optional[Tensor] = None,
    ) -> tuple[Tensor, Memory]:
        """One segment: ``tokens`` [B, L] -> logits ``[B, L, V]`` and the memory for the next segment; the arguments
        in :meth:`XLStack.forward`'s order."""
        hidden, memory = self.stack(
            self._embed(tokens), memory=memory, padding=padding, context=context, context_mask=context_mask
        )
        return self.head(hidden), memory

    def init_cache(
        self,
        memory: Optional[Memory] = None,
        context: Optional[Tensor] = None,
        context_mask: Optional[Tensor] = None,
    ) -> Cache:
        """A decoding cache for a new segment (:meth:`XLStack.init_cache`)."""
        return self.stack.init_cache(memory, context, context_mask)

    def step(self, tokens: Tensor, cache: Cache, padding: Optional[Tensor] = None) -> tuple[Tensor, Cache]:
        """Incremental decoding: the next ``tokens`` [B, l] -> logits ``[B, l, V]``; the cache is extended."""
        return self.head(self.stack.step(self._embed(tokens), cache, padding)), cache

    def cache_mems(self, cache: Cache) -> Memory:
        """The memory for the next segment after decoding one with ``cache``."""
        return self.stack.cache_mems(cache)


__all__ = ["Memory", "RelativeXLAttention", "TransformerXL", "XLBlock", "XLStack"]

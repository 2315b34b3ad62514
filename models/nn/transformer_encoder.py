"""Transformer encoder (Vaswani et al. 2017) with bidirectional relative-position self-attention.

Relative positions (Shaw et al. 2018; per-head tables as in Huang et al. 2018): every head learns one embedding per
clipped distance ``d = clip(j - i, -M, M)`` (``2M + 1`` rows, ``M = max_relative_position``) and adds
``q_i · E[d]`` to the logit of key ``j``; logits are ``(q_i · k_j + q_i · E[d(i, j)]) / sqrt(d_head)``.

Memory-efficient computation: instead of gathering an ``[L, L, d_head]`` tensor of embeddings (the naive
O(L²·d) formulation, :func:`naive_relative_logits`), the queries are multiplied once by the ``2L - 1`` embeddings of
distances ``-(L-1) .. L-1`` (``[L, 2L - 1]`` logits) and every row is shifted into place by a flatten / reshape
(:func:`skew_bidirectional`), so the extra memory is that of the logits themselves. The relative logits, an optional
additive attention bias (``[B, H, L, L]`` or ``[B, 1, L, L]``, e.g. a self-similarity prior) and the key padding mask
go to ``scaled_dot_product_attention`` as one additive float mask.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def distance_embeddings(table: Tensor, length: int) -> Tensor:
    """Rows of ``table`` [H, 2M+1, D] for distances ``-(length-1) .. length-1`` (clipped to ±M): ``[H, 2L-1, D]``."""
    max_rel = (table.shape[1] - 1) // 2
    dist = torch.arange(-(length - 1), length, device=table.device).clamp(-max_rel, max_rel)
    return table[:, dist + max_rel]


def skew_bidirectional(rel: Tensor) -> Tensor:
    """``rel[..., i, c]`` (column ``c`` = distance ``c - (L - 1)``, ``[..., L, 2L - 1]``) -> ``out[..., i, j]`` =
    ``rel[..., i, j - i + L - 1]`` (``[..., L, L]``).

    In the flattened rows (width ``2L - 1``) the wanted entry sits at ``i (2L - 2) + j + (L - 1)``: drop the first
    ``L - 1`` entries, keep ``L (2L - 2)``, read them as ``[L, 2L - 2]`` and keep the first ``L`` columns.
    """
    *batch, length, width = rel.shape
    if width != 2 * length - 1:
        raise ValueError(f"skew_bidirectional: expected [..., L, 2L-1], got {tuple(rel.shape)}")
    if length == 1:
        return rel
    flat = rel.reshape(*batch, length * width)
    return flat[..., length - 1 : length - 1 + length * (2 * length - 2)].reshape(*batch, length, 2 * length - 2)[
        ..., :length
    ]


def naive_relative_logits(q: Tensor, table: Tensor) -> Tensor:
    """Reference: gather ``E[clip(j - i)]`` for every pair (``[H, L, L, D]``) and dot with ``q`` [B, H, L, D]."""
    length = q.shape[-2]
    max_rel = (table.shape[1] - 1) // 2
    pos = torch.arange(length, device=q.device)
    index = (pos[None, :] - pos[:, None]).clamp(-max_rel, max_rel) + max_rel  # [L, L]
    gathered = table[:, index]  # [H, L, L, D]
    return torch.einsum("bhid,hijd->bhij", q, gathered)


def _check_bias(bias: Tensor, batch: int, heads: int, length: int) -> None:
    if bias.dim() != 4 or bias.shape[0] not in (1, batch) or bias.shape[1] not in (1, heads):
        raise ValueError(
            f"attention bias must be [B, H, L, L] or [B, 1, L, L] (B={batch}, H={heads}, L={length}), "
            f"got {tuple(bias.shape)}"
        )
    if bias.shape[-2:] != (length, length):
        raise ValueError(f"attention bias covers {tuple(bias.shape[-2:])} positions, the input has L={length}")


class RelativeMultiheadAttention(nn.Module):
    """Bidirectional multi-head self-attention with clipped relative-position logits.

    Args:
        d_model: width. num_heads: heads.
        max_relative_position: M; distances beyond ±M share the edge embeddings.
        dropout: attention-weight dropout.
        naive: use the O(L²·D) gather instead of the skew (reference / tests).
    """

    def __init__(
        self, d_model: int, num_heads: int, max_relative_position: int = 64, dropout: float = 0.0, naive: bool = False
    ) -> None:
        super().__init__()
        if d_model % num_heads:
            raise ValueError(f"d_model {d_model} is not divisible by num_heads {num_heads}")
        if max_relative_position < 0:
            raise ValueError(f"max_relative_position must be >= 0 (got {max_relative_position})")
        self.num_heads = num_heads
        self.head_dim = d_model // num_heads
        self.dropout = dropout
        self.naive = naive
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.relative = nn.Parameter(torch.randn(num_heads, 2 * max_relative_position + 1, self.head_dim) * 0.02)

    def attention_mask(
        self, q: Tensor, key_padding_mask: Optional[Tensor] = None, attn_bias: Optional[Tensor] = None
    ) -> Tensor:
        """The additive float mask [B, H, L, L]: scaled relative logits + bias, ``-inf`` at padded keys."""
        b, h, length, _ = q.shape
        if self.naive:
            rel = naive_relative_logits(q, self.relative)
        else:
            rel = skew_bidirectional(torch.matmul(q, distance_embeddings(self.relative, length).transpose(-1, -2)))
        mask = rel * self.head_dim**-0.5
        if attn_bias is not None:
            _check_bias(attn_bias, b, h, length)
            mask = mask + attn_bias.to(mask.dtype)
        if key_padding_mask is not None:
            if key_padding_mask.shape != (b, length):
                raise ValueError(
                    f"key_padding_mask must be [B, L] = {(b, length)}, got {tuple(key_padding_mask.shape)}"
                )
            mask = mask.masked_fill(key_padding_mask[:, None, None, :].bool(), float("-inf"))
        return mask

    def forward(
        self, x: Tensor, key_padding_mask: Optional[Tensor] = None, attn_bias: Optional[Tensor] = None
    ) -> Tensor:
        """``x`` [B, L, D] -> [B, L, D]; ``key_padding_mask`` [B, L] True at padded positions; ``attn_bias`` additive
        ([B, H, L, L] or [B, 1, L, L])."""
        b, length, _ = x.shape
        q, k, v = self.qkv(x).view(b, length, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        mask = self.attention_mask(q, key_padding_mask, attn_bias)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0)
        return self.out(y.transpose(1, 2).reshape(b, length, -1))


class EncoderLayer(nn.Module):
    """Relative self-attention and a feed-forward layer, each with dropout, residual and LayerNorm.

    Args:
        d_model, num_heads, max_relative_position: as :class:`RelativeMultiheadAttention`.
        dim_feedforward: inner width of the feed-forward layer.
        dropout: on sub-layer outputs, attention weights and the feed-forward activation.
        activation: ``"relu"`` or ``"gelu"``.
        norm_first: pre-LayerNorm (normalise the sub-layer input) instead of post-LayerNorm (normalise the sum).
        naive: naive relative logits (reference).
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        dim_feedforward: int,
        dropout: float = 0.1,
        max_relative_position: int = 64,
        activation: str = "gelu",
        norm_first: bool = True,
        naive: bool = False,
    ) -> None:
        super().__init__()
        activations = {"relu": nn.ReLU, "gelu": nn.GELU}
        if activation not in activations:
            raise ValueError(f"activation must be one of {sorted(activations)} (got {activation!r})")
        self.norm_first = norm_first
        self.attn = RelativeMultiheadAttention(d_model, num_heads, max_relative_position, dropout, naive)
        self.ff = nn.Sequential(
            nn.Linear(d_model, dim_feedforward),
            activations[activation](),
            nn.Dropout(dropout),
            nn.Linear(dim_feedforward, d_model),
        )
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.drop1 = nn.Dropout(dropout)
        self.drop2 = nn.Dropout(dropout)

    def forward(
        self, x: Tensor, key_padding_mask: Optional[Tensor] = None, attn_bias: Optional[Tensor] = None
    ) -> Tensor:
        if self.norm_first:
            x = x + self.drop1(self.attn(self.norm1(x), key_padding_mask, attn_bias))
            return x + self.drop2(self.ff(self.norm2(x)))
        x = self.norm1(x + self.drop1(self.attn(x, key_padding_mask, attn_bias)))
        return self.norm2(x + self.drop2(self.ff(x)))


class TransformerEncoder(nn.Module):
    """Stack of :class:`EncoderLayer` (final LayerNorm when pre-LN) over ``x`` [B, L, d_model].

    Args:
        d_model, num_heads, dim_feedforward, dropout, max_relative_position, activation, norm_first, naive: per
            layer (see :class:`EncoderLayer`).
        num_layers: layers.
    """

    def __init__(
        self,
        d_model: int = 512,
        num_layers: int = 6,
        num_heads: int = 8,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        max_relative_position: int = 64,
        activation: str = "gelu",
        norm_first: bool = True,
        naive: bool = False,
    ) -> None:
        super().__init__()
        self.d_model = d_model
        self.layers = nn.ModuleList(
            EncoderLayer(
                d_model, num_heads, dim_feedforward, dropout, max_relative_position, activation, norm_first, naive
            )
            for _ in range(num_layers)
        )
        self.final_norm = nn.LayerNorm(d_model) if norm_first else nn.Identity()

    def forward(
        self,
        x: Tensor,
        key_padding_mask: Optional[Tensor] = None,
        attn_bias: Optional[Tensor] = None,
        return_layers: bool = False,
    ) -> Tensor | tuple[Tensor, list[Tensor]]:
        """Encode ``x`` [B, L, d_model]. ``key_padding_mask`` [B, L] is True at padded positions (their outputs are
        computed but attend only to real keys); ``attn_bias`` is added to every layer's logits. With
        ``return_layers``, also the output of every layer (before the final norm), first layer first."""
        if x.dim() != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"TransformerEncoder: expected x [B, L, {self.d_model}], got {tuple(x.shape)}")
        if key_padding_mask is not None and bool(key_padding_mask.all(dim=1).any()):
            raise ValueError("TransformerEncoder: a sequence is padded at every position (no key to attend to)")
        layers = []
        for layer in self.layers:
            x = layer(x, key_padding_mask, attn_bias)
            layers.append(x)
        out = self.final_norm(x)
        return (out, layers) if return_layers else out


__all__ = [
    "EncoderLayer",
    "RelativeMultiheadAttention",
    "TransformerEncoder",
    "distance_embeddings",
    "naive_relative_logits",
    "skew_bidirectional",
]

"""GRU decoder with dot-product attention over an encoder memory (Luong et al. 2015, "global attention"): the
recurrent baseline of sequence-to-sequence models. It speaks the decoder protocol of
:class:`models.nn.transformer_decoder.TransformerDecoder` (``forward`` / ``init_cache`` / ``step``), so the searches of
:mod:`models.nn.decoding` drive it too.

Per step: ``h_t = GRU(embed(y_{t-1}), h_{t-1})``; ``c_t = attention(h_t, memory)``; ``logits = W [h_t; c_t]``. The
GRU's initial state is a projection of the mean memory. Teacher forcing runs the GRU over the whole sequence at once
and attends for all steps in one batched product.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Cache = dict[str, Any]


class GRUDecoder(nn.Module):
    """Args:
    vocab_size: output vocabulary. d_model: embedding, hidden and memory width. num_layers: stacked GRU layers.
    dropout: dropout between layers and on the output. padding_idx: embedding row kept at zero.
    """

    def __init__(
        self,
        vocab_size: int,
        d_model: int = 512,
        num_layers: int = 2,
        dropout: float = 0.1,
        padding_idx: Optional[int] = None,
    ) -> None:
        super().__init__()
        self.num_layers = num_layers
        self.embed = nn.Embedding(vocab_size, d_model, padding_idx=padding_idx)
        self.init_state = nn.Linear(d_model, num_layers * d_model)
        self.gru = nn.GRU(d_model, d_model, num_layers, batch_first=True, dropout=dropout if num_layers > 1 else 0.0)
        self.attn_key = nn.Linear(d_model, d_model, bias=False)
        self.combine = nn.Linear(2 * d_model, d_model)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(d_model, vocab_size)

    def _initial(self, memory: Tensor, memory_padding_mask: Optional[Tensor]) -> Tensor:
        if memory_padding_mask is None:
            pooled = memory.mean(1)
        else:
            keep = (~memory_padding_mask).to(memory.dtype)[..., None]
            pooled = (memory * keep).sum(1) / keep.sum(1).clamp_min(1.0)
        h = torch.tanh(self.init_state(pooled)).view(memory.shape[0], self.num_layers, -1)
        return h.transpose(0, 1).contiguous()

    def _output(self, states: Tensor, keys: Tensor, memory: Tensor, memory_padding_mask: Optional[Tensor]) -> Tensor:
        scores = torch.einsum("bld,bsd->bls", states, keys) / keys.shape[-1] ** 0.5
        if memory_padding_mask is not None:
            scores = scores.masked_fill(memory_padding_mask[:, None, :], float("-inf"))
        context = torch.einsum("bls,bsd->bld", F.softmax(scores, -1), memory)
        hidden = torch.tanh(self.combine(torch.cat([states, context], dim=-1)))
        return self.head(self.drop(hidden))

    def forward(self, tokens: Tensor, memory: Tensor, memory_padding_mask: Optional[Tensor] = None) -> Tensor:
        """Teacher forcing: ``tokens`` [B, L], ``memory`` [B, S, D] -> logits ``[B, L, V]``."""
        states, _ = self.gru(self.drop(self.embed(tokens)), self._initial(memory, memory_padding_mask))
        return self._output(states, self.attn_key(memory), memory, memory_padding_mask)

    def init_cache(self, memory: Tensor, memory_padding_mask: Optional[Tensor] = None) -> Cache:
        """Batch-first cache: the memory, its attention keys, the GRU state ``[B, layers, D]``."""
        hidden = self._initial(memory, memory_padding_mask).transpose(0, 1)
        return {"memory": memory, "keys": self.attn_key(memory), "mask": memory_padding_mask, "hidden": hidden}

    def step(self, tokens: Tensor, cache: Cache) -> tuple[Tensor, Cache]:
        """``tokens`` [B, l] -> logits ``[B, l, V]``; the GRU state moves on by ``l`` steps."""
        states, hidden = self.gru(self.drop(self.embed(tokens)), cache["hidden"].transpose(0, 1).contiguous())
        cache = dict(cache, hidden=hidden.transpose(0, 1))
        return self._output(states, cache["keys"], cache["memory"], cache["mask"]), cache

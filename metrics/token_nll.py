"""Token negative log-likelihood and perplexity of sequence models (Foley Music events, REMI, drum words, codec tokens).

``NLL = -(1/N) Σ log softmax(logits)[target]`` over the N target tokens that are not padding (``ignore_index``, e.g.
``music.events.PAD``) and, when a ``mask`` is given, where the mask is true; ``perplexity = exp(NLL)`` (nats).
Running sums are float64 and summed across processes, so the value is the token-weighted mean over the whole
dataset, not a mean of batch means. ``torchmetrics.text.Perplexity`` computes the same perplexity (it is the
reference in the tests) but not the NLL, and accumulates in the logits' dtype.
"""

from __future__ import annotations

from typing import Optional

import torch
from torchmetrics import Metric


class TokenNLL(Metric):
    """``update(logits [B, L, V], target [B, L], mask=None)``; ``compute()`` -> ``{"nll", "perplexity"}``.

    Args:
        ignore_index: the padding id; targets equal to it are not scored.
    """

    full_state_update = False
    higher_is_better = False

    def __init__(self, ignore_index: Optional[int], **kwargs) -> None:
        super().__init__(**kwargs)
        self.ignore_index = ignore_index
        self.add_state("total", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, logits: torch.Tensor, target: torch.Tensor, mask: Optional[torch.Tensor] = None) -> None:
        if logits.dim() != 3 or target.shape != logits.shape[:2]:
            raise ValueError(f"TokenNLL expects logits [B, L, V] and target [B, L]; got {logits.shape}, {target.shape}")
        keep = torch.ones_like(target, dtype=torch.bool)
        if self.ignore_index is not None:
            keep &= target != self.ignore_index
        if mask is not None:
            keep &= mask.bool()
        log_probs = torch.log_softmax(logits.double(), dim=-1)
        picked = log_probs.gather(-1, target.clamp(0, logits.shape[-1] - 1).long()[..., None])[..., 0]
        self.total -= picked[keep].sum()
        self.count += keep.sum()

    def compute(self) -> dict[str, torch.Tensor]:
        nll = self.total / self.count.clamp_min(1)
        return {"nll": nll, "perplexity": torch.exp(nll)}


__all__ = ["TokenNLL"]

"""Two-tower contrastive learning: symmetric InfoNCE with a learnable temperature.

Each tower maps its modality to a shared embedding space; embeddings are L2-normalised and the cosine similarities
of a batch of ``B`` pairs, scaled by ``exp(logit_scale)``, form a ``[B, B]`` logit matrix whose diagonal holds the
matching pairs. The loss is the mean of the cross-entropies along rows (a → b) and columns (b → a) (Oord et al.
2018; symmetric form and log-parameterised temperature as in Radford et al. 2021, §2.5: ``logit_scale`` starts at
``log(1 / 0.07)`` and is clamped at ``log(100)``).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def symmetric_info_nce(a: Tensor, b: Tensor, logit_scale: Tensor | float) -> tuple[Tensor, Tensor]:
    """``(loss, logits [B, B])`` of paired embeddings ``a`` [B, D] and ``b`` [B, D] (row i of each is a pair).

    The embeddings are L2-normalised here; ``logits = exp(logit_scale) · â b̂ᵀ``.
    """
    if a.dim() != 2 or a.shape != b.shape:
        raise ValueError(f"symmetric_info_nce: expected two [B, D] tensors of one shape, got {a.shape} and {b.shape}")
    scale = torch.as_tensor(logit_scale, dtype=a.dtype, device=a.device).exp()
    logits = scale * F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).t()
    target = torch.arange(a.shape[0], device=a.device)
    loss = 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target))
    return loss, logits


class ContrastiveOutput(NamedTuple):
    """``loss`` scalar; ``logits`` [B, B] (a-rows vs b-columns); ``a``, ``b``: normalised embeddings [B, D]."""

    loss: Tensor
    logits: Tensor
    a: Tensor
    b: Tensor


class TwoTowerContrastive(nn.Module):
    """Two towers, each followed by a linear projection to ``embed_dim``, trained with symmetric InfoNCE.

    Args:
        tower_a, tower_b: modules mapping a batch of their modality to ``[B, dim_a]`` / ``[B, dim_b]`` (frozen or
            trained: the caller decides with ``requires_grad``).
        dim_a, dim_b: output widths of the towers.
        embed_dim: width of the shared space.
        init_temperature: initial temperature τ (``logit_scale = log(1/τ)``).
        max_logit_scale: upper clamp of ``exp(logit_scale)``.
        learn_temperature: make ``logit_scale`` a trained parameter (else a fixed buffer).
    """

    def __init__(
        self,
        tower_a: nn.Module,
        tower_b: nn.Module,
        dim_a: int,
        dim_b: int,
        embed_dim: int = 128,
        init_temperature: float = 0.07,
        max_logit_scale: float = 100.0,
        learn_temperature: bool = True,
    ) -> None:
        super().__init__()
        if init_temperature <= 0 or max_logit_scale <= 0:
            raise ValueError("TwoTowerContrastive: init_temperature and max_logit_scale must be > 0")
        self.tower_a = tower_a
        self.tower_b = tower_b
        self.proj_a = nn.Linear(dim_a, embed_dim)
        self.proj_b = nn.Linear(dim_b, embed_dim)
        self.max_log_scale = math.log(max_logit_scale)
        scale = torch.tensor(math.log(1.0 / init_temperature))
        if learn_temperature:
            self.logit_scale = nn.Parameter(scale)
        else:
            self.register_buffer("logit_scale", scale)

    @property
    def temperature(self) -> float:
        """Current temperature ``1 / exp(clamped logit_scale)``."""
        return float(torch.exp(-self.clamped_logit_scale().detach()))

    def clamped_logit_scale(self) -> Tensor:
        return self.logit_scale.clamp(max=self.max_log_scale)

    def embed_a(self, x: object) -> Tensor:
        """Normalised embeddings [B, embed_dim] of a batch of modality a."""
        return F.normalize(self.proj_a(self.tower_a(x)), dim=-1)

    def embed_b(self, x: object) -> Tensor:
        """Normalised embeddings [B, embed_dim] of a batch of modality b."""
        return F.normalize(self.proj_b(self.tower_b(x)), dim=-1)

    def forward(self, x_a: object, x_b: object) -> ContrastiveOutput:
        """Loss, logits and embeddings of ``B`` paired inputs (row i of ``x_a`` goes with row i of ``x_b``)."""
        a, b = self.embed_a(x_a), self.embed_b(x_b)
        loss, logits = symmetric_info_nce(a, b, self.clamped_logit_scale())
        return ContrastiveOutput(loss, logits, a, b)


__all__ = ["ContrastiveOutput", "TwoTowerContrastive", "symmetric_info_nce"]

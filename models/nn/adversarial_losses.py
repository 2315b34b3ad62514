"""Adversarial and feature-matching losses for (multi-)discriminator GAN training of audio generators.

All functions take one discriminator's output or a list of them (one per discriminator / scale) and average over
the discriminators.
- Hinge losses (Lim & Ye 2017; as in Zeghidour et al. 2021, Eqs. 1-2): discriminator
  ``mean max(0, 1 − D(x)) + mean max(0, 1 + D(x̂))``; generator ``mean max(0, 1 − D(x̂))``.
- Feature matching (Kumar et al. 2019, §2.3): mean absolute difference between the discriminator's feature maps of
  the real and of the generated signal, averaged over layers (real maps detached). ``relative=True`` divides each
  layer's difference by the mean magnitude of its real map (Défossez et al. 2022, §3.4).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


def _as_list(x: Tensor | Sequence[Tensor]) -> list[Tensor]:
    items = [x] if isinstance(x, Tensor) else list(x)
    if not items:
        raise ValueError("adversarial losses: no discriminator output given")
    return items


def hinge_discriminator_loss(real: Tensor | Sequence[Tensor], fake: Tensor | Sequence[Tensor]) -> Tensor:
    """Hinge loss of the discriminator(s): real logits pushed above +1, generated ones below −1."""
    real, fake = _as_list(real), _as_list(fake)
    if len(real) != len(fake):
        raise ValueError(f"hinge_discriminator_loss: {len(real)} real and {len(fake)} fake outputs")
    losses = [F.relu(1.0 - r).mean() + F.relu(1.0 + f).mean() for r, f in zip(real, fake)]
    return torch.stack(losses).mean()


def hinge_generator_loss(fake: Tensor | Sequence[Tensor]) -> Tensor:
    """Hinge loss of the generator: its outputs' logits pushed above +1."""
    return torch.stack([F.relu(1.0 - f).mean() for f in _as_list(fake)]).mean()


def feature_matching_loss(
    real: Sequence[Tensor] | Sequence[Sequence[Tensor]],
    fake: Sequence[Tensor] | Sequence[Sequence[Tensor]],
    relative: bool = False,
    eps: float = 1e-8,
) -> Tensor:
    """Mean L1 distance between real (detached) and generated feature maps: one discriminator's list of maps or a
    list of such lists."""
    real_sets = [list(real)] if isinstance(real[0], Tensor) else [list(r) for r in real]
    fake_sets = [list(fake)] if isinstance(fake[0], Tensor) else [list(f) for f in fake]
    if [len(r) for r in real_sets] != [len(f) for f in fake_sets]:
        raise ValueError("feature_matching_loss: real and generated feature maps do not correspond")
    losses = []
    for real_maps, fake_maps in zip(real_sets, fake_sets):
        for r, f in zip(real_maps, fake_maps):
            r = r.detach()
            loss = (r - f).abs().mean()
            if relative:
                loss = loss / (r.abs().mean() + eps)
            losses.append(loss)
    return torch.stack(losses).mean()


__all__ = ["feature_matching_loss", "hinge_discriminator_loss", "hinge_generator_loss"]

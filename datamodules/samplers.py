"""Samplers shared by DataModules.

:class:`MultilabelBalancedSampler`: for multi-label data with rare classes (e.g. piano keys). Each draw first picks a
class uniformly at random (one extra "no label" class covers the all-zero rows), then a random row that has that
label, so rare classes are over-sampled and frequent ones under-sampled (Audeo §4.1: "force each training
mini-batch to contain classes evenly by over/downsampling"). torch's sampler zoo has no multi-label balancing
(``WeightedRandomSampler`` weights rows, not labels), hence this one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Optional

import numpy as np
import torch
from torch.utils.data import Sampler


class MultilabelBalancedSampler(Sampler[int]):
    """Args:
    labels: multi-hot ``[N, C]`` (anything ``> 0`` counts as present).
    num_samples: draws per epoch (default N).
    generator: torch generator (default: torch's global one, so ``seed_everything`` makes it reproducible).
    """

    def __init__(
        self, labels: np.ndarray, num_samples: Optional[int] = None, generator: Optional[torch.Generator] = None
    ):
        labels = np.asarray(labels) > 0
        if labels.ndim != 2 or labels.shape[0] == 0:
            raise ValueError(f"MultilabelBalancedSampler: labels must be a non-empty [N, C] array, got {labels.shape}")
        groups = [np.nonzero(labels[:, c])[0] for c in range(labels.shape[1])]
        groups.append(np.nonzero(~labels.any(axis=1))[0])
        self.groups = [g for g in groups if len(g)]
        self.num_samples = int(num_samples) if num_samples else labels.shape[0]
        self.generator = generator

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[int]:
        classes = torch.randint(len(self.groups), (self.num_samples,), generator=self.generator).tolist()
        picks = torch.rand(self.num_samples, generator=self.generator).tolist()
        for c, u in zip(classes, picks):
            group = self.groups[c]
            yield int(group[min(int(u * len(group)), len(group) - 1)])


__all__ = ["MultilabelBalancedSampler"]

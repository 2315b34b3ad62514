"""DataLoaders that make distributed evaluation exact and training resumable mid-epoch.

Why not Lightning's defaults:

* For validation/test under DDP, Lightning injects a ``DistributedSampler``, which pads the last shard with repeated
  samples so every rank gets the same count: metrics then count some clips twice. :func:`evaluation_loader` uses
  Lightning's own ``UnrepeatedDistributedSamplerWrapper`` instead, so each sample is seen by exactly one rank and
  torchmetrics' summed states equal a single-process run.
* For training, a checkpoint taken mid-epoch does not say which samples were already consumed, so a resumed run
  replays the epoch from its start. :class:`ResumableLoader` implements Lightning's ``state_dict`` /
  ``load_state_dict`` loader protocol (restored before iteration starts) and skips what was consumed; its
  :class:`ResumableSampler` is a ``DistributedSampler`` (seeded permutation per epoch, sharded by rank), so Lightning
  leaves it in place under DDP. Loaders draw worker seeds from a private generator, not the global one. Random
  clip choices must come from :func:`sample_rng` (a function of seed, epoch and index), never from a global
  generator, for a resumed run to see the very same clips.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Optional

import numpy as np
import torch
import torch.distributed as dist
from pytorch_lightning.overrides.distributed import UnrepeatedDistributedSamplerWrapper
from torch.utils.data import DataLoader, Dataset, DistributedSampler, SequentialSampler

# Lightning's training loop fetches one batch ahead only from loaders of unknown length
# (``_PrefetchDataFetcher.__iter__`` skips pre-fetching when ``len()`` is known); ours always have a length, so when
# a checkpoint is written after batch k the loader has handed out exactly k + 1 batches.


def _world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size(), dist.get_rank()
    return 1, 0


def sample_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The random generator for sample ``index`` in ``epoch``: the same on every rank, worker and resumed run."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(epoch), int(index)])


class ResumableSampler(DistributedSampler):
    """A seeded ``DistributedSampler`` (one rank when not distributed) that can start an epoch part-way through.

    It also tells the dataset the current epoch (``dataset.set_epoch``) so per-sample randomness can use
    :func:`sample_rng`.
    """

    def __init__(self, dataset: Dataset, shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        replicas, rank = _world()
        super().__init__(dataset, num_replicas=replicas, rank=rank, shuffle=shuffle, seed=seed, drop_last=drop_last)
        self.skip = 0  # samples to skip at the start of epoch ``skip_epoch`` (set when resuming)
        self.skip_epoch = -1

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)

    def __iter__(self) -> Iterator[int]:
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(self.epoch)
        indices = list(super().__iter__())
        skip = self.skip if self.epoch == self.skip_epoch else 0
        self.skip, self.skip_epoch = 0, -1
        return iter(indices[skip:])

    def __len__(self) -> int:
        return self.num_samples


class ResumableLoader(DataLoader):
    """A training DataLoader whose position inside the epoch is saved in Lightning checkpoints and restored."""

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        seed: int = 0,
        shuffle: bool = True,
        num_workers: int = 0,
        collate_fn: Optional[Callable[[list[Any]], Any]] = None,
        drop_last: bool = False,
        **kwargs: Any,
    ) -> None:
        sampler = kwargs.pop("sampler", None) or ResumableSampler(dataset, shuffle=shuffle, seed=seed)
        kwargs.setdefault("generator", _private_generator(seed))
        super().__init__(
            dataset,
            batch_size=batch_size,
            sampler=sampler,
            num_workers=num_workers,
            collate_fn=collate_fn,
            drop_last=drop_last,
            **kwargs,
        )
        self._handed_out = 0  # batches yielded in the current epoch

    def __iter__(self) -> Iterator[Any]:
        sampler = self.sampler
        resuming = isinstance(sampler, ResumableSampler) and sampler.epoch == sampler.skip_epoch
        self._handed_out = sampler.skip // self.batch_size if resuming else 0
        for batch in super().__iter__():
            self._handed_out += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        """Epoch and the number of batches the training loop has consumed in it."""
        epoch = self.sampler.epoch if isinstance(self.sampler, DistributedSampler) else 0
        if self._handed_out >= len(self):
            return {"epoch": epoch + 1, "consumed_batches": 0}
        return {"epoch": epoch, "consumed_batches": self._handed_out}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if isinstance(self.sampler, ResumableSampler):
            self.sampler.set_epoch(int(state["epoch"]))
            self.sampler.skip = int(state["consumed_batches"]) * self.batch_size
            self.sampler.skip_epoch = int(state["epoch"])


def evaluation_loader(
    dataset: Dataset,
    batch_size: int,
    num_workers: int = 0,
    collate_fn: Optional[Callable[[list[Any]], Any]] = None,
    **kwargs: Any,
) -> DataLoader:
    """In-order loader; under DDP each sample goes to exactly one rank (no padding repeats, nothing dropped)."""
    replicas, rank = _world()
    sampler: Any = SequentialSampler(dataset)
    if replicas > 1:
        sampler = UnrepeatedDistributedSamplerWrapper(sampler, num_replicas=replicas, rank=rank, shuffle=False)
    kwargs.setdefault("generator", _private_generator(0))
    return DataLoader(
        dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers, collate_fn=collate_fn, **kwargs
    )


def _private_generator(seed: int) -> torch.Generator:
    """Every DataLoader iterator draws a worker base seed; from the global generator that would shift the model's
    random stream (dropout...) by however many iterators were created, which differs in a resumed run."""
    return torch.Generator().manual_seed(int(seed))


__all__ = ["ResumableLoader", "ResumableSampler", "evaluation_loader", "sample_rng"]

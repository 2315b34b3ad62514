"""Save and restore the random-number generators with every checkpoint, per rank.

Lightning checkpoints hold weights, optimisers and loop progress but not the RNG states, so a resumed run draws
other dropout masks and noise than the uninterrupted one. Together with :class:`datamodules.loaders.ResumableLoader`
this makes ``fit --ckpt_path last`` reproduce an uninterrupted deterministic run exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from lightning_fabric.utilities.seed import _collect_rng_states, _set_rng_states
from pytorch_lightning import Callback, LightningModule, Trainer

KEY = "rng_states_per_rank"


class RNGStateCheckpoint(Callback):
    """Stores python/numpy/torch(/cuda) generator states of every rank in the checkpoint and restores them."""

    def on_save_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        states = _to_safe(_collect_rng_states(include_cuda=True))
        gathered: list[Any] = [states]
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            gathered = [None] * dist.get_world_size()
            dist.all_gather_object(gathered, states)  # dump_checkpoint runs on every rank, so this is collective
        checkpoint[KEY] = gathered

    def on_load_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        states = checkpoint.get(KEY)
        if not states:
            return
        rank = trainer.global_rank if trainer.global_rank < len(states) else 0
        _set_rng_states(_from_safe(states[rank]))


def _to_safe(states: dict[str, Any]) -> dict[str, Any]:
    """numpy's state holds an ndarray, which ``torch.load(weights_only=True)`` refuses: store it as a tensor."""
    name, keys, position, has_gauss, cached = states["numpy"]
    return {**states, "numpy": (name, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, cached)}


def _from_safe(states: dict[str, Any]) -> dict[str, Any]:
    name, keys, position, has_gauss, cached = states["numpy"]
    return {**states, "numpy": (name, keys.numpy().astype(np.uint32), position, has_gauss, cached)}

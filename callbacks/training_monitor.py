"""What every run shows in TensorBoard besides the model's own metrics: learning rate, gradient norms, throughput and
the hyper-parameters next to the run's final metrics (HPARAMS tab).

- :class:`LearningRateLogger` is Lightning's :class:`~pytorch_lightning.callbacks.LearningRateMonitor` (per step,
  ``lr-<Optimizer>`` keys), made a no-op for runs without a logger so it can be on by default.
- :class:`TrainingMonitor` logs
  ``grad_norm/total`` and ``grad_norm/<child>`` (2-norm of the gradients of each optimizer's parameters, grouped by
  the LightningModule's direct children, measured in ``on_before_optimizer_step``: after AMP unscaling and DDP's
  all-reduce, before gradient clipping; ``_opt<i>`` suffix when a model has several optimizers),
  ``throughput/train_samples_per_sec`` (samples over wall time between consecutive training batch ends in a window
  of ``window`` batches, data loading included, validation excluded; times the world size, i.e. all ranks), and at the
  end of ``fit`` (or of a stand-alone ``validate`` / ``test``) writes the hparams summary with every scalar of
  ``trainer.callback_metrics`` as ``final/<name>`` plus ``final/throughput/train_samples_per_sec_mean``.

Lightning's ThroughputMonitor is not used: it needs a ``flops_per_batch`` model attribute (else warns in every run),
reports samples/s only once a 100-batch window is full, and logs validation on its own step axis.

The hparams summary: TensorBoard's HPARAMS plugin keeps the *first* hparams summary of a run, and Lightning writes
one at fit start with a placeholder ``hp_metric=-1``; :meth:`TrainingMonitor.setup` turns that placeholder off
(``TensorBoardLogger(default_hp_metric=False)``, set on the already-built logger) so the one written at the end,
with the real metrics, is the one TensorBoard shows.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

import torch
from pytorch_lightning import Callback, LightningModule, Trainer
from pytorch_lightning.callbacks import LearningRateMonitor
from pytorch_lightning.loggers import TensorBoardLogger
from pytorch_lightning.utilities.data import extract_batch_size


def batch_size_of(batch: Any) -> int:
    """Samples in a batch: the leading axis of the first tensor of a dict batch (design.md fields), else Lightning's
    ``extract_batch_size``."""
    if isinstance(batch, Mapping):
        for value in batch.values():
            if isinstance(value, torch.Tensor) and value.ndim > 0:
                return int(value.shape[0])
            if isinstance(value, (list, tuple)) and value and not isinstance(value[0], torch.Tensor):
                return len(value)
    return int(extract_batch_size(batch))


class LearningRateLogger(LearningRateMonitor):
    """Lightning's LearningRateMonitor (``logging_interval="step"`` by default) that stays silent without a logger."""

    def __init__(self, logging_interval: str | None = "step", log_momentum: bool = False, **kwargs: Any) -> None:
        super().__init__(logging_interval=logging_interval, log_momentum=log_momentum, **kwargs)
        self._active = False

    def on_train_start(self, trainer: Trainer, *args: Any, **kwargs: Any) -> None:
        self._active = bool(trainer.loggers)
        if self._active:
            super().on_train_start(trainer, *args, **kwargs)

    def on_train_batch_start(self, trainer: Trainer, *args: Any, **kwargs: Any) -> None:
        if self._active:
            super().on_train_batch_start(trainer, *args, **kwargs)

    def on_train_epoch_start(self, trainer: Trainer, *args: Any, **kwargs: Any) -> None:
        if self._active:
            super().on_train_epoch_start(trainer, *args, **kwargs)


def _scalar(value: Any) -> float | None:
    if isinstance(value, torch.Tensor):
        return float(value.detach().float().cpu()) if value.numel() == 1 else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


class TrainingMonitor(Callback):
    """Gradient norms, training throughput and hparams-with-final-metrics (see the module docstring).

    Args:
        grad_norms: log gradient norms.
        throughput: log training samples/s.
        hparams: write the hparams summary with the final metrics.
        window: batches the throughput is averaged over.
    """

    def __init__(self, grad_norms: bool = True, throughput: bool = True, hparams: bool = True, window: int = 20):
        if window < 1:
            raise ValueError(f"TrainingMonitor: window must be >= 1, got {window}")
        self.grad_norms, self.throughput, self.hparams, self.window = grad_norms, throughput, hparams, window
        self._owner: dict[int, str] = {}
        self._marks: deque[tuple[float, int]] = deque(maxlen=window + 1)
        self._total_samples = 0
        self._total_time = 0.0
        self._written: set[int] = set()

    # -- set-up ------------------------------------------------------------------------------------------------
    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if self.hparams:
            for logger in trainer.loggers:
                if isinstance(logger, TensorBoardLogger) and id(logger) not in self._written:
                    logger._default_hp_metric = False  # see module docstring: the real metrics come at the end
        self._owner = {id(param): name for name, child in pl_module.named_children() for param in child.parameters()}

    # -- gradient norms ----------------------------------------------------------------------------------------
    def on_before_optimizer_step(self, trainer: Trainer, pl_module: LightningModule, optimizer: Any) -> None:
        if not self.grad_norms:
            return
        grouped: dict[str, list[torch.Tensor]] = {}
        for group in optimizer.param_groups:
            for param in group["params"]:
                if param.grad is not None:
                    grouped.setdefault(self._owner.get(id(param), "other"), []).append(param.grad.detach())
        if not grouped:
            return
        suffix = ""
        if len(trainer.optimizers) > 1:
            index = next((i for i, opt in enumerate(trainer.optimizers) if opt is optimizer), None)
            suffix = f"_opt{index}" if index is not None else ""
        norms = {name: torch.nn.utils.get_total_norm(grads).float() for name, grads in grouped.items()}
        total = torch.linalg.vector_norm(torch.stack(list(norms.values())))
        metrics = {f"grad_norm/total{suffix}": total}
        if len(norms) > 1:
            metrics |= {f"grad_norm/{name}{suffix}": value for name, value in norms.items()}
        pl_module.log_dict(metrics, on_step=True, on_epoch=False, batch_size=1)

    # -- throughput --------------------------------------------------------------------------------------------
    def _restart_window(self) -> None:
        self._marks.clear()
        self._marks.append((time.perf_counter(), 0))

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._restart_window()

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.state.fn == "fit":
            self._restart_window()  # time spent validating is not training throughput
        elif trainer.state.fn == "validate":
            self._write_hparams(trainer, pl_module)

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx) -> None:
        if not self.throughput:
            return
        now, samples = time.perf_counter(), batch_size_of(batch)
        if not self._marks:
            self._restart_window()
        self._total_time += now - self._marks[-1][0]
        self._total_samples += samples
        self._marks.append((now, samples))
        elapsed = self._marks[-1][0] - self._marks[0][0]
        counted = sum(n for _, n in list(self._marks)[1:])
        if elapsed > 0:
            rate = counted / elapsed * trainer.world_size
            pl_module.log("throughput/train_samples_per_sec", rate, on_step=True, on_epoch=False, batch_size=1)

    @property
    def mean_samples_per_sec(self) -> float | None:
        """Samples per second over all training batches of this run, on one rank."""
        return self._total_samples / self._total_time if self._total_time > 0 else None

    # -- hparams with final metrics ------------------------------------------------------------------------------
    def final_metrics(self, trainer: Trainer) -> dict[str, float]:
        metrics = {}
        for name, value in trainer.callback_metrics.items():
            number = _scalar(value)
            if number is not None and math.isfinite(number):
                metrics[f"final/{name}"] = number
        if self.mean_samples_per_sec is not None:
            metrics["final/throughput/train_samples_per_sec_mean"] = self.mean_samples_per_sec * trainer.world_size
        return metrics

    def _write_hparams(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not self.hparams or not trainer.is_global_zero:
            return
        metrics = self.final_metrics(trainer)
        for logger in trainer.loggers:
            if not isinstance(logger, TensorBoardLogger) or id(logger) in self._written or not metrics:
                continue
            params = {k: v for k, v in (dict(logger.hparams) or dict(pl_module.hparams)).items() if k[:1] != "_"}
            logger.log_hyperparams(params, metrics=metrics)
            logger.experiment.flush()
            self._written.add(id(logger))

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._write_hparams(trainer, pl_module)

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.state.fn == "test":
            self._write_hparams(trainer, pl_module)

"""Write ``last.ckpt`` when the job is asked to stop (SIGTERM: preemption, ``scancel``, a time limit).

Lightning notices SIGTERM and stops after the current batch, but writes no checkpoint, so the work since the last
periodic save is lost. This callback saves ``last.ckpt`` (into the ModelCheckpoint folder) right after the batch in
which the signal arrived, on every rank together, so ``fit --ckpt_path last`` continues exactly there. SLURM's own
pre-emption signal (SIGUSR1 with ``--signal``) is handled by Lightning's SLURMEnvironment auto-requeue.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytorch_lightning import Callback, LightningModule, Trainer
from pytorch_lightning.callbacks import ModelCheckpoint


class CheckpointOnSigterm(Callback):
    """After the batch in which any rank received SIGTERM, all ranks write ``last.ckpt``."""

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, idx: int
    ) -> None:
        stop = trainer.strategy.reduce_boolean_decision(bool(trainer.received_sigterm), all=False)
        if not stop:
            return
        checkpoint = trainer.checkpoint_callback
        if not isinstance(checkpoint, ModelCheckpoint) or checkpoint.dirpath is None:
            return
        path = Path(checkpoint.dirpath) / f"{checkpoint.CHECKPOINT_NAME_LAST}{checkpoint.FILE_EXTENSION}"
        trainer.save_checkpoint(path)
        checkpoint.last_model_path = str(path)
        trainer.should_stop = True

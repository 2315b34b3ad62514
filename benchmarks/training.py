"""Training throughput of every model config that has a debug config, through the suite's own CLI.

For each ``experiments/<name>.yaml`` with an ``experiments/debug/<name>.yaml``, runs ``cli.py fit`` in-process for
``warmup + steps`` training batches (no validation, no checkpoints, outputs in a temporary folder) with
:class:`StepTimer` appended to the callbacks, and reports steady-state samples/s (after ``warmup`` batches) and the
share of the wall time spent waiting for the data loader.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from pytorch_lightning import Callback

from callbacks.training_monitor import batch_size_of

ROOT = Path(__file__).resolve().parents[1]


def debug_configs(root: Path = ROOT) -> list[tuple[str, Path, Path]]:
    """``(name, config, debug config)`` for every top-level experiment config that has a debug config."""
    found = []
    for config in sorted((root / "experiments").glob("*.yaml")):
        debug = root / "experiments" / "debug" / config.name
        if debug.is_file():
            found.append((config.stem, config, debug))
    return found


class StepTimer(Callback):
    """Wall time of ``steps`` training batches after ``warmup`` batches (data fetch included); stops the fit then."""

    def __init__(self, warmup: int = 2, steps: int = 6) -> None:
        self.warmup, self.steps = warmup, steps
        self.batches = 0
        self.samples = 0
        self.data_s = 0.0
        self.total_s = 0.0
        self._last_end: float | None = None
        self._start = 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._start = time.perf_counter()
        if self._last_end is not None and self.batches >= self.warmup:
            self.data_s += self._start - self._last_end

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        now = time.perf_counter()
        if self.batches >= self.warmup and self._last_end is not None:
            self.total_s += now - self._last_end
            self.samples += batch_size_of(batch)
        self._last_end = now
        self.batches += 1
        if self.batches >= self.warmup + self.steps:
            trainer.should_stop = True

    def result(self) -> dict[str, Any]:
        measured = self.batches - self.warmup
        if measured < 1 or self.total_s <= 0:
            raise RuntimeError(f"StepTimer: only {self.batches} batches ran, need more than warmup={self.warmup}")
        return {
            "samples_per_s": self.samples / self.total_s,
            "batches_measured": measured,
            "batch_size": self.samples / measured,
            "data_wait_share": self.data_s / self.total_s,
        }


def bench_config(config: Path, debug: Path, steps: int, warmup: int, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """Fit ``config`` + ``debug`` for ``warmup + steps`` steps; StepTimer's numbers."""
    from cli import main

    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "fit", "--config", str(config), "--config", str(debug),
            "--trainer.max_steps", "-1", "--trainer.max_epochs", "1000", "--trainer.min_epochs", "0",
            "--trainer.limit_val_batches", "0", "--trainer.num_sanity_val_steps", "0",
            "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
            "--trainer.logger", "false", "--trainer.default_root_dir", tmp,
            "--checkpoint.dirpath", str(Path(tmp) / "checkpoints"), "--checkpoint.save_last", "false",
            "--checkpoint.save_top_k", "0",
            "--trainer.callbacks+=benchmarks.training.StepTimer", f"--trainer.callbacks.warmup={warmup}",
            f"--trainer.callbacks.steps={steps}",
            *extra,
        ]  # fmt: skip
        cli = main(args)
    timer = next(c for c in cli.trainer.callbacks if type(c).__name__ == "StepTimer")
    return timer.result()


def bench(steps: int = 6, warmup: int = 2, only: int | None = None) -> dict[str, dict[str, Any]]:
    """Every debug config (the first ``only`` of them when given)."""
    configs = debug_configs()[:only]
    return {name: bench_config(config, debug, steps, warmup) for name, config, debug in configs}

"""Precision and compile switches: bf16-mixed trains a real debug config on CPU; TorchCompile compiles any model's
networks in place (same results, same checkpoint keys) and hands back the eager modules at the end."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from callbacks.compile import TorchCompile, default_targets
from tests.helpers.cli_runner import ROOT, run_cli
from tests.helpers.tiny import TinyDataModule, TinyModel

FOLEY = ["--config", "experiments/foley_music.yaml", "--config", "experiments/debug/foley_music.yaml"]
FEW_STEPS = [
    "--trainer.max_steps",
    "3",
    "--trainer.limit_val_batches",
    "0",
    "--trainer.log_every_n_steps",
    "1",
    "--trainer.enable_progress_bar",
    "false",
]


def _train_losses(tmp: Path) -> list[float]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (log_dir,) = (tmp / "runs").glob("*/version_0")
    events = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})
    events.Reload()
    return [e.value for e in events.Scalars("train/loss")]


def test_bf16_mixed_trains_a_real_debug_config_on_cpu(tmp_path: Path) -> None:
    result = run_cli("fit", *FOLEY, *FEW_STEPS, "--trainer.precision", "bf16-mixed", tmp=tmp_path)
    assert "bfloat16 Automatic Mixed Precision" in result.stdout + result.stderr
    losses = _train_losses(tmp_path)
    assert len(losses) == 3 and all(math.isfinite(x) for x in losses)
    assert losses[0] == pytest.approx(math.log(243), rel=0.2)  # an untrained decoder: ~uniform over the vocabulary


class _ProbedTiny(TinyModel):
    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        self.dtypes = getattr(self, "dtypes", []) + [self(batch["x"]).dtype]  # inside Lightning's autocast context
        return super().training_step(batch, batch_idx)


@pytest.mark.parametrize("precision", ["bf16-mixed", "16-mixed"])
def test_mixed_precision_on_cpu_computes_in_bfloat16(precision: str) -> None:
    """16-mixed has no CPU kernels: Lightning falls back to bf16-mixed there (on CUDA it is fp16 + GradScaler)."""
    trainer = pl.Trainer(
        accelerator="cpu", precision=precision, max_steps=2, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
    )  # fmt: skip
    model = _ProbedTiny(dropout=0.0)
    trainer.fit(model, TinyDataModule(size=16))
    assert model.dtypes == [torch.bfloat16, torch.bfloat16]
    assert model.linear.weight.dtype == torch.float32  # master weights stay fp32


def _fit_tiny(callbacks: list) -> TinyModel:
    pl.seed_everything(0)
    trainer = pl.Trainer(
        accelerator="cpu", max_steps=4, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, limit_val_batches=1, num_sanity_val_steps=0, callbacks=callbacks,
    )  # fmt: skip
    model = TinyModel(dropout=0.0)
    trainer.fit(model, TinyDataModule(size=32))
    return model


def test_torch_compile_callback_compiles_networks_in_place_and_restores_them() -> None:
    from torch._dynamo.utils import counters

    eager = _fit_tiny([])
    counters.clear()
    compiled_callback = TorchCompile(backend="eager")  # dynamo graph capture; inductor codegen is the slow test
    compiled = _fit_tiny([compiled_callback])
    assert counters["frames"]["ok"] >= 1  # dynamo really traced the network
    assert set(compiled.state_dict()) == set(eager.state_dict())  # checkpoints keep their keys
    for key, value in eager.state_dict().items():
        torch.testing.assert_close(compiled.state_dict()[key], value)
    assert "forward" not in compiled.linear.__dict__ and compiled_callback.compiled == {}  # eager again after fit
    assert set(default_targets(compiled)) == {"linear"}  # metrics and parameter-free modules are left alone


def test_torch_compile_names_a_missing_submodule() -> None:
    with pytest.raises(ValueError, match="no submodule 'decoder'.*children: dropout, linear, val_mse"):
        TorchCompile(modules=["decoder"]).targets(TinyModel())


@pytest.mark.slow
def test_inductor_compile_trains_a_real_debug_config_from_the_cli(tmp_path: Path) -> None:
    """torch.compile with the default inductor backend (C++ codegen on CPU): minutes of compilation on 2 shared cores
    (each of the first steps recompiles for a new shape before dynamic shapes kick in)."""
    extra = ["--trainer.callbacks+=callbacks.compile.TorchCompile"]
    result = run_cli("fit", *FOLEY, *FEW_STEPS, *extra, tmp=tmp_path, timeout=1200)
    assert "TorchCompile: compiling encoder, decoder" in result.stdout + result.stderr
    losses = _train_losses(tmp_path)
    assert len(losses) == 3 and all(math.isfinite(x) for x in losses)


def test_compile_switch_parses_from_the_command_line(capsys) -> None:
    from cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(
            ["fit", "--config", str(ROOT / "tests/helpers/configs/tiny.yaml"), "--print_config",
             "--trainer.callbacks+=callbacks.compile.TorchCompile", "--trainer.callbacks.mode=max-autotune"]
        )  # fmt: skip
    assert exit_info.value.code in (0, None)
    printed = capsys.readouterr().out
    assert "class_path: callbacks.compile.TorchCompile" in printed
    assert "mode: max-autotune" in printed

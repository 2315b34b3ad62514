"""TensorBoard monitoring on by default: learning rate, gradient norms, throughput and hparams with final metrics."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from callbacks.training_monitor import TrainingMonitor, batch_size_of
from tests.helpers.cli_runner import ROOT, run_cli

TINY = str(ROOT / "tests" / "helpers" / "configs" / "tiny.yaml")


def _events(log_dir: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "tensors": 0})
    accumulator.Reload()
    return accumulator


def _hparams(accumulator) -> dict:
    from tensorboard.plugins.hparams import metadata, plugin_data_pb2

    content = accumulator.PluginTagToContent(metadata.PLUGIN_NAME)
    return {tag: plugin_data_pb2.HParamsPluginData.FromString(data) for tag, data in content.items()}


def test_cli_fit_writes_lr_grad_norm_throughput_and_hparams(tmp_path: Path) -> None:
    run_cli("fit", "--config", TINY, "--trainer.log_every_n_steps", "2", tmp=tmp_path)
    (log_dir,) = (tmp_path / "runs").glob("*/version_0")
    events = _events(log_dir)
    scalars = set(events.Tags()["scalars"])
    for tag in ("lr-SGD", "grad_norm/total", "throughput/train_samples_per_sec", "val/loss", "final/val/loss"):
        assert tag in scalars, (tag, scalars)

    assert [e.value for e in events.Scalars("lr-SGD")] == pytest.approx([0.05] * len(events.Scalars("lr-SGD")))
    norms = [e.value for e in events.Scalars("grad_norm/total")]
    assert len(norms) >= 4 and all(math.isfinite(n) and n > 0 for n in norms)
    assert norms[-1] < norms[0]  # the tiny regression converges: gradients shrink
    rates = [e.value for e in events.Scalars("throughput/train_samples_per_sec")]
    assert rates and all(math.isfinite(r) and r > 0 for r in rates)
    # 2 epochs x 8 batches: logged every 2 steps, on the same step axis as the model's own metrics
    assert [e.step for e in events.Scalars("grad_norm/total")] == [e.step for e in events.Scalars("train/loss")]

    final = events.Scalars("final/val/loss")
    assert final[-1].value == pytest.approx(events.Scalars("val/loss")[-1].value, rel=1e-6)

    hp = _hparams(events)
    metric_tags = {info.name.tag for info in hp["_hparams_/experiment"].experiment.metric_infos}
    assert {"final/val/loss", "final/train/loss", "final/throughput/train_samples_per_sec_mean"} <= metric_tags
    assert "hp_metric" not in metric_tags and "hp_metric" not in scalars  # the -1 placeholder is off
    session = hp["_hparams_/session_start_info"].session_start_info.hparams
    assert session["lr"].number_value == pytest.approx(0.05) and session["batch_size"].number_value == 8
    assert not any(key.startswith("_") for key in session)


class _Recorder:
    """Stands in for the LightningModule's ``log`` / ``log_dict``."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.module, self.logged = module, {}

    def named_children(self):
        return self.module.named_children()

    def log(self, name, value, **kwargs) -> None:
        self.logged[name] = float(value)

    def log_dict(self, metrics, **kwargs) -> None:
        self.logged.update({k: float(v) for k, v in metrics.items()})


def test_grad_norm_is_the_2_norm_of_each_optimizers_gradients() -> None:
    torch.manual_seed(0)
    module = torch.nn.Module()
    module.encoder, module.decoder = torch.nn.Linear(4, 3), torch.nn.Linear(3, 2)
    module.decoder(module.encoder(torch.randn(5, 4))).pow(2).sum().backward()
    encoder_opt = torch.optim.SGD(module.encoder.parameters(), lr=0.1)
    decoder_opt = torch.optim.SGD(module.decoder.parameters(), lr=0.1)
    pl_module = _Recorder(module)
    monitor = TrainingMonitor(hparams=False)
    trainer = SimpleNamespace(loggers=[], optimizers=[encoder_opt, decoder_opt])
    monitor.setup(trainer, pl_module, "fit")

    monitor.on_before_optimizer_step(trainer, pl_module, decoder_opt)
    expected = torch.cat([p.grad.flatten() for p in module.decoder.parameters()]).norm()
    assert pl_module.logged == {"grad_norm/total_opt1": pytest.approx(float(expected), rel=1e-6)}

    trainer.optimizers = [torch.optim.SGD(module.parameters(), lr=0.1)]
    monitor.on_before_optimizer_step(trainer, pl_module, trainer.optimizers[0])
    every = torch.cat([p.grad.flatten() for p in module.parameters()]).norm()
    assert pl_module.logged["grad_norm/total"] == pytest.approx(float(every), rel=1e-6)
    assert pl_module.logged["grad_norm/decoder"] == pytest.approx(float(expected), rel=1e-6)


def test_throughput_counts_samples_over_wall_time_of_all_ranks(monkeypatch) -> None:
    clock = iter([10.0, 11.0, 13.0, 14.0])
    monkeypatch.setattr("callbacks.training_monitor.time.perf_counter", lambda: next(clock))
    pl_module = _Recorder(torch.nn.Linear(1, 1))
    monitor = TrainingMonitor(window=2)
    trainer = SimpleNamespace(world_size=2)
    monitor.on_train_epoch_start(trainer, pl_module)  # t = 10
    batch = {"keypoints": torch.zeros(4, 3, 2), "text": ["a"] * 4}
    monitor.on_train_batch_end(trainer, pl_module, None, batch, 0)  # t = 11: 4 samples in 1 s, 2 ranks
    assert pl_module.logged["throughput/train_samples_per_sec"] == pytest.approx(8.0)
    monitor.on_train_batch_end(trainer, pl_module, None, batch, 1)  # t = 13: 8 samples in 3 s
    assert pl_module.logged["throughput/train_samples_per_sec"] == pytest.approx(16 / 3)
    monitor.on_train_batch_end(trainer, pl_module, None, batch, 2)  # t = 14: window of 2 batches: 8 in 3 s
    assert pl_module.logged["throughput/train_samples_per_sec"] == pytest.approx(16 / 3)
    assert monitor.mean_samples_per_sec == pytest.approx(12 / 4)


def test_batch_size_of_design_batches() -> None:
    assert batch_size_of({"meta": None, "events": torch.zeros(3, 7), "text": ["x"] * 3}) == 3
    assert batch_size_of({"text": ["a", "b"]}) == 2
    assert batch_size_of((torch.zeros(5, 2), torch.zeros(5))) == 5

"""FoleyMusic learns on the synthetic URMP data: held-out token NLL beats a unigram baseline (CI: tiny model, 40
steps; slow: more data and steps; the pose-conditioned model beats the same decoder with the pose zeroed)."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch

from datamodules.urmp import URMPDataModule
from models.foley_music import FoleyMusic, token_nll_baseline

TINY = dict(
    d_model=48,
    num_layers=2,
    num_heads=4,
    dim_feedforward=96,
    gcn_blocks=[(-1, 8, 1), (8, 16, 2), (16, 16, 2)],
    max_events=128,
    warmup_steps=20,
    lr=3e-3,
    norm_first=True,
)


def _data(minutes: float, clips: int) -> tuple[list[dict], list[dict]]:
    dm = URMPDataModule(
        fields=("keypoints", "events", "instrument"),
        batch_size=8,
        synthetic_minutes=minutes,
        max_events=128,
        clips_per_epoch=clips,
    )
    dm.prepare_data()
    dm.setup("fit")
    return list(dm.train_dataloader()), list(dm.val_dataloader())


def _train(model: FoleyMusic, train: list[dict], steps: int) -> None:
    config = model.configure_optimizers()
    opt, schedule = config["optimizer"], config["lr_scheduler"]["scheduler"]
    model.train()
    for step in range(steps):
        nll, mask, _ = model.token_nll(train[step % len(train)], augment=True)
        loss = nll.sum() / mask.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        schedule.step()


@torch.no_grad()
def _nll(model: FoleyMusic, batches: list[dict]) -> float:
    model.eval()
    total, count = 0.0, 0
    for batch in batches:
        nll, mask, _ = model.token_nll(batch)
        total, count = total + nll.sum().item(), count + mask.sum().item()
    return total / count


def test_beats_unigram_baseline_fast() -> None:
    pl.seed_everything(0)
    train, val = _data(0.5, 64)
    baseline = token_nll_baseline(torch.cat([b["events"] for b in train]), torch.cat([b["events"] for b in val]))
    model = FoleyMusic(**TINY)
    before = _nll(model, val)
    _train(model, train, 40)
    after = _nll(model, val)
    assert after < before - 1.0
    assert after < 0.95 * baseline, (after, baseline)


@pytest.mark.slow
def test_learns_and_uses_the_motion_slow() -> None:
    pl.seed_everything(0)
    train, val = _data(1.0, 128)
    baseline = token_nll_baseline(torch.cat([b["events"] for b in train]), torch.cat([b["events"] for b in val]))
    conditioned = FoleyMusic(**TINY)
    _train(conditioned, train, 250)
    pl.seed_everything(0)
    blind = FoleyMusic(**TINY, zero_memory=True)
    _train(blind, train, 250)
    with_pose, without = _nll(conditioned, val), _nll(blind, val)
    assert with_pose < 0.9 * baseline, (with_pose, baseline)
    assert with_pose < without, (with_pose, without)

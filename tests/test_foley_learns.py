"""FoleyMusic learns on the synthetic URMP data: held-out token NLL beats a unigram baseline (CI: tiny model, 40
steps; slow: the smoke runs of scripts/reproduce_foley.py, where the pose-conditioned model also beats the same
decoder trained with the pose zeroed)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

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
def test_learns_and_uses_the_motion_slow(tmp_path: Path, repo_root: Path) -> None:
    """The smoke runs of ``scripts/reproduce_foley.py`` (Lightning Trainer, 150 steps, 1 min of synthetic URMP):
    the pose-conditioned model beats the unigram baseline clearly and the same decoder trained with the pose zeroed."""
    sys.path.insert(0, str(repo_root / "scripts"))
    import reproduce_foley as rf

    args = argparse.Namespace(scale="smoke", root=None, steps=0, minutes=None, seed=0, accelerator="cpu")
    _, data, pose = rf.train_and_validate("skeleton", args, tmp_path)
    _, _, blind = rf.train_and_validate("zero_memory", args, tmp_path)
    baseline = rf.unigram_nll(data)
    assert pose["all"] < 0.9 * baseline, (pose, baseline)
    assert pose["all"] < blind["all"], (pose, blind)

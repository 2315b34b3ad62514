"""Quality checks of V2Meow's trained stand-ins (docs/V2MEOW.md, Results): each trains one stage at its debug sizes
(``experiments/v2meow_<stage>.yaml`` + ``experiments/debug/v2meow_<stage>.yaml``) on synthetic MV100K data on one CPU
thread, loads it through its protocol and checks it on held-out videos with :mod:`models.v2meow.quality`.

Data: the stand-ins train on the training split of a synthetic root (seed 0, 24 videos of 15 s, 12 for training);
held out: that root's val and test videos and every video of a second root (seed 1, 24 videos of 11 s), 36 videos,
six per genre. The semantic genre probe is trained on every video of the first root and scored on the second's."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml

from models.v2meow import quality

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
TRAIN_MINUTES, EXTRA_MINUTES = 6.0, 4.4
RATE = 16000
# optimiser steps per stage (the codec counts generator and discriminator steps: 600 batches): a few minutes of one
# CPU thread each (a check, data included, took 14-20 minutes on a 2-core machine shared with other jobs)
STEPS = {"codec": 1200, "semantic": 400, "joint": 600}


def stage_config(stage: str) -> dict[str, Any]:
    """``model`` / ``data`` init_args of ``v2meow_<stage>.yaml`` with its debug overlay on top."""
    merged: dict[str, Any] = {"model": {}, "data": {}}
    for path in (EXPERIMENTS / f"v2meow_{stage}.yaml", EXPERIMENTS / "debug" / f"v2meow_{stage}.yaml"):
        config = yaml.safe_load(path.read_text()) or {}
        for section in ("model", "data"):
            merged[section].update((config.get(section) or {}).get("init_args") or {})
    return merged


def fit(stage: str, root: Path, out: Path, seed: int = 0, **overrides: Any) -> Path:
    """Train ``stage`` at its debug recipe on ``root``'s training videos (one thread); the last checkpoint's path.
    ``overrides``: model init_args, or ``steps`` (default: :data:`STEPS`)."""
    import pytorch_lightning as pl

    from datamodules.mv100k import MV100KDataModule
    from models.v2meow import V2Meow

    torch.set_num_threads(1)
    config = stage_config(stage)
    steps = int(overrides.pop("steps", STEPS[stage]))
    pl.seed_everything(seed, workers=True)
    model = V2Meow(**{**config["model"], **overrides})
    data = MV100KDataModule(**{**config["data"], "root": str(root), "num_workers": 0, "seed": seed})
    trainer = pl.Trainer(
        max_steps=steps, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, limit_val_batches=0, num_sanity_val_steps=0,
    )  # fmt: skip
    start = time.perf_counter()
    trainer.fit(model, datamodule=data)
    if stage == "semantic":
        model.fit_kmeans()
    path = out / f"{stage}-seed{seed}.ckpt"
    trainer.save_checkpoint(path)
    print(f"v2meow {stage}: {trainer.global_step} optimiser steps in {time.perf_counter() - start:.0f} s")
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The training root, its training videos, the second root's videos and every held-out video (docstring)."""
    from datamodules.synthetic import write

    base = tmp_path_factory.mktemp("v2meow-quality")
    root = write("mv100k", base / "train", minutes=TRAIN_MINUTES, seed=0)
    extra = write("mv100k", base / "extra", minutes=EXTRA_MINUTES, seed=1)
    every = ("train", "val", "test")
    second = quality.held_out_videos(extra, RATE, every)
    return {
        "root": root,
        "out": base,
        "train": quality.held_out_videos(root, RATE, ("train",)),
        "first": quality.held_out_videos(root, RATE, every),
        "second": second,
        "held_out": quality.held_out_videos(root, RATE) + second,
    }


def unmet(bars: dict[str, bool], result: Any) -> None:
    """Mark the test as an expected failure, with the numbers, when some of the acceptance ``bars`` are not reached: the
    debug recipes do not reach them within the CPU budget (docs/V2MEOW.md, Results); the assertions before the call
    hold."""
    missed = [name for name, ok in bars.items() if not ok]
    if missed:
        pytest.xfail(f"not reached within the CPU budget: {missed}; measured {result}")


@pytest.mark.slow
def test_codec_beats_mulaw_and_uses_its_levels(world: dict[str, Any]) -> None:
    from models.v2meow import SoundStreamCodec

    codec = SoundStreamCodec.from_checkpoint(fit("codec", world["root"], world["out"]))
    result = quality.codec_quality(codec, [v.audio for v in world["held_out"]])
    print("v2meow codec quality:", result, f"ratio {result.ratio:.3f}")
    assert result.ratio <= 0.7, result
    assert all(0 < u <= 1 for u in result.code_usage) and math.isfinite(result.si_snr_db), result
    unmet(
        {
            "distance falls with each level": result.falls_with_levels,
            "code usage >= 25 %": min(result.code_usage) >= 0.25,
        },
        result,
    )


@pytest.mark.slow
def test_semantic_tokens_tell_the_genre(world: dict[str, Any]) -> None:
    from models.v2meow import SemanticTokens

    tokens = SemanticTokens.from_checkpoint(fit("semantic", world["root"], world["out"]))
    baseline = quality.logmel_baseline(tokens, [v.audio for v in world["train"]])
    result = quality.semantic_quality(tokens, baseline, world["first"], world["second"], RATE)
    print("v2meow semantic quality:", result)
    assert result.nmi >= result.baseline_nmi, result
    assert result.probe_accuracy > 1 / 6, result  # above chance
    unmet({"genre probe >= 0.85": result.probe_accuracy >= 0.85}, result)


@pytest.mark.slow
def test_joint_model_retrieves_and_names_the_genre(world: dict[str, Any]) -> None:
    from models.v2meow import JointEmbedding

    joint = JointEmbedding.from_checkpoint(fit("joint", world["root"], world["out"]))
    result = quality.joint_quality(joint, world["held_out"], RATE)
    print("v2meow joint quality:", result)
    assert result.candidates >= 30 and result.genres == 6, result
    assert result.recall_at_5 >= 2 * result.chance_at_5 and result.zero_shot_genre > 1 / 6, result  # above chance
    unmet(
        {
            "R@5 >= 3 x chance": result.recall_at_5 >= 3 * result.chance_at_5,
            "zero-shot >= 0.8": result.zero_shot_genre >= 0.8,
        },
        result,
    )


# ------------------------------------------------------------------------------------- the metrics (fast, by hand)
def test_recall_at_k_and_zero_shot_by_hand() -> None:
    text = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    audio = torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.6, 0.8]])
    # scores: row 0 -> own 0.0 vs 1.0, 0.6 (rank 2); row 1 -> own 0.0 vs 1.0, 0.8 (rank 2); row 2 -> own 1.0 (rank 0)
    assert quality.recall_at_k(text, audio, 1) == pytest.approx(1 / 3)
    assert quality.recall_at_k(text, audio, 3) == 1.0
    prompts = {"a jazz piece": [1.0, 0.0], "a rock piece": [0.0, 1.0]}

    def embed(texts: list[str]) -> torch.Tensor:
        return torch.tensor([prompts[t] for t in texts])

    accuracy = quality.zero_shot_accuracy(embed, audio, ["rock", "jazz", "jazz"])
    assert accuracy == pytest.approx(2 / 3)  # the third clip is nearer "rock" (0.8 > 0.6)


def test_bags_windows_and_nmi() -> None:
    assert quality.bag_of_tokens(np.array([0, 0, 2, 3]), 4).tolist() == [0.5, 0.0, 0.25, 0.25]
    assert [w.tolist() for w in quality.windows(np.arange(5), 2, 2)] == [[0, 1], [2, 3]]
    assert [w.tolist() for w in quality.windows(np.arange(2), 4, 2)] == [[0, 1]]
    same = [np.array([0, 0, 0]), np.array([1, 1, 1])]
    assert quality.nmi(same, ["a", "b"]) == pytest.approx(1.0)
    assert quality.nmi([np.array([0, 1]), np.array([0, 1])], ["a", "b"]) == pytest.approx(0.0)


def test_mulaw_lowpass_keeps_the_low_band_only() -> None:
    t = torch.arange(RATE) / RATE
    low, high = 0.5 * torch.sin(2 * math.pi * 100 * t), 0.5 * torch.sin(2 * math.pi * 3000 * t)
    coded = quality.mulaw_lowpass(torch.stack([low, high]), RATE, bitrate=8 * 1000)  # 1000 samples/s
    assert coded.shape == (2, RATE)
    middle = slice(RATE // 4, 3 * RATE // 4)  # away from the resampler's edges
    assert (coded[0, middle] - low[middle]).abs().max() < 0.05  # 8-bit mu-law steps near 0.5 are ~0.02
    assert coded[1, middle].abs().max() < 0.01  # above the new Nyquist: removed
    full = quality.mulaw_lowpass(low[None], RATE, bitrate=8 * RATE)  # no resampling: mu-law only
    assert (full - low).abs().max() < 0.02 and not torch.equal(full, low)
    with pytest.raises(ValueError, match="not below"):
        quality.mulaw_lowpass(low[None], RATE, bitrate=16 * RATE)

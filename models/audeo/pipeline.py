"""Audeo's stages in a chain: run a trained stage over a dataset and write its outputs in the release's layout, where
the next stage's DataModule reads them (``roll_dir``; docs/DATASETS.md §5).

* Video2Roll -> ``estimate_Roll/<split>/<video>/<s>-<e>.npz`` ('logit', 'roll', 88 wide): Roll2Midi's input;
* Roll2Midi -> ``Roll2Midi_results/<split>/<video>/<s>-<e>.npz`` ('midi', 51 wide): the refinement stage's input.

From the command line (what ``make audeo`` runs between the ``cli.py fit`` of each stage)::

    python -m models.audeo.pipeline estimates --ckpt runs/audeo/checkpoints/video2roll/last.ckpt \\
        --config experiments/audeo.yaml --out runs/audeo/estimate_Roll
    python -m models.audeo.pipeline midi --ckpt runs/audeo/checkpoints/roll2midi/last.ckpt \\
        --config experiments/audeo_roll2midi.yaml --roll-dir runs/audeo/estimate_Roll --out runs/audeo/Roll2Midi_results

The data settings (root, synthetic minutes, cache) come from the configs' ``data`` section, the key count and frame size
from the checkpoint's model, so the outputs cover exactly the data the stage was trained on.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from datamodules.audeo import (
    PAD_LOGIT,
    SEGMENT_FRAMES,
    SPLIT_DIRS,
    AudeoDataModule,
    VideoFrames,
    read_segment,
    widen,
    write_segment,
)

log = logging.getLogger(__name__)


def export_roll_estimates(
    dm: AudeoDataModule,
    logits_fn: Callable[[torch.Tensor], torch.Tensor],
    out: Path,
    splits: Sequence[str] = ("train", "test"),
    batch_size: int = 64,
    threshold: float = 0.4,
) -> Path:
    """Run ``logits_fn`` ([B, 5, H, W] -> [B, K] logits) over every frame of ``dm``'s videos and write ``out`` in the
    release's ``estimate_Roll`` layout (one npz per pseudo-GT segment, 'logit' and 'roll' (prob >= thr) 88 wide)."""
    out = Path(out)
    for split in splits:
        logits: dict[str, list[np.ndarray]] = {}
        videos: dict[str, VideoFrames] = {}
        for video, stacks in dm.iter_video_stacks(split, batch_size):
            with torch.no_grad():
                values = logits_fn(torch.from_numpy(stacks)).float().cpu().numpy()
            logits.setdefault(video.name, []).append(values)
            videos[video.name] = video
        for name, chunks in logits.items():
            table = np.concatenate(chunks)
            numbers = videos[name].numbers
            for seg in dm.segments(split, name):
                rows = np.arange(seg.start, seg.end) - numbers[0]
                valid = (rows >= 0) & (rows < len(numbers))
                segment = np.zeros((seg.end - seg.start, dm.keys), dtype=np.float32)
                segment[valid] = table[rows[valid]]
                probs = 1.0 / (1.0 + np.exp(-segment))
                write_segment(
                    out / SPLIT_DIRS[split] / name / seg.path.name,
                    logit=widen(segment, dm.keys),
                    roll=widen((probs >= threshold).astype(np.int64), dm.keys),
                )
    return out


def export_midi_results(
    dm: AudeoDataModule,
    probs_fn: Callable[[torch.Tensor], torch.Tensor],
    out: Path,
    splits: Sequence[str] = ("test",),
    threshold: float = 0.5,
) -> Path:
    """Run ``probs_fn`` ([B, K, 100] Video2Roll probabilities -> [B, K, 100] Midi probabilities) over non-overlapping
    4-s windows of the estimates ``dm`` reads (a ``roll2midi`` DataModule) and write ``out`` in the release's
    ``Roll2Midi_results`` layout ('midi' int, [50, keys])."""
    out = Path(out)
    if dm.stage != "roll2midi":
        raise RuntimeError(
            f"export_midi_results reads Video2Roll estimates: it needs a roll2midi DataModule, not {dm.stage}"
        )
    folder = dm.roll_folder()
    for split in splits:
        for name in dm.video_names(split):
            segments = dm.segments(split, name)
            logits = [
                read_segment(folder / SPLIT_DIRS[split] / name / seg.path.name, "logit", dm.keys, fill=PAD_LOGIT)
                for seg in segments
            ]
            starts = list(range(0, len(segments) - 1, 2))  # non-overlapping 4-s windows, as released inference
            if len(segments) % 2:
                starts.append(max(0, len(segments) - 2))  # ... plus one covering an odd last segment
            for i in starts:
                pair = logits[i : i + 2]
                window = np.concatenate(pair + [np.full_like(pair[0], PAD_LOGIT)] * (2 - len(pair)))  # [100, K]
                with torch.no_grad():
                    probs = probs_fn(torch.sigmoid(torch.from_numpy(window.T.copy()))[None])
                midi = (probs[0].float().cpu().numpy() >= threshold).astype(np.int64).T  # [100, K]
                for half, seg in enumerate(segments[i : i + 2]):
                    block = midi[half * SEGMENT_FRAMES : half * SEGMENT_FRAMES + seg.end - seg.start]
                    write_segment(out / SPLIT_DIRS[split] / name / seg.path.name, midi=block)
    return out


# ------------------------------------------------------------------------------------------- from checkpoints
def config_data(configs: Sequence[str]) -> dict[str, Any]:
    """The ``data.init_args`` of LightningCLI configs, later files overriding earlier ones (as ``--config a --config
    b``)."""
    import yaml

    data: dict[str, Any] = {}
    for config in configs:
        path = Path(config)
        if not path.is_file():
            raise FileNotFoundError(f"Audeo pipeline: config {path} does not exist")
        with open(path) as handle:
            content = yaml.safe_load(handle) or {}
        if not isinstance(content, dict):
            raise ValueError(f"Audeo pipeline: config {path} is not a mapping")
        data.update(((content.get("data") or {}).get("init_args")) or {})
    return data


def _load(ckpt: Path, stage: str) -> Any:
    from models.audeo.model import Audeo

    path = Path(ckpt)
    if not path.is_file():
        raise FileNotFoundError(f"Audeo pipeline: checkpoint {path} does not exist (train the {stage} stage first)")
    model = Audeo.load_from_checkpoint(path, map_location="cpu").eval()
    return model


def _data_module(model: Any, data: dict[str, Any], stage: str, **overrides: Any) -> AudeoDataModule:
    kwargs = {k: v for k, v in data.items() if k not in ("stage", "roll_dir", "num_keys", "frame_size")}
    frame_size = tuple(model.hparams.frame_size)
    return AudeoDataModule(stage=stage, num_keys=model.keys, frame_size=frame_size, **{**kwargs, **overrides})


def write_roll_estimates(
    ckpt: Path, out: Path, data: dict[str, Any], splits: Sequence[str] = ("train", "test"), batch_size: int = 64
) -> Path:
    """A trained Video2Roll (checkpoint) over every frame of the data -> ``out`` (estimate_Roll layout)."""
    model = _load(ckpt, "video2roll")
    dm = _data_module(model, data, "video2roll")
    out = export_roll_estimates(dm, model.roll_logits, out, splits, batch_size, threshold=model.hparams.threshold)
    log.info("Audeo pipeline: wrote Video2Roll estimates of %s to %s", ckpt, out)
    return out


def write_midi_results(
    ckpt: Path, roll_dir: Optional[Path], out: Path, data: dict[str, Any], splits: Sequence[str] = ("train", "test")
) -> Path:
    """A trained Roll2Midi (checkpoint) over the Video2Roll estimates in ``roll_dir`` -> ``out`` (Roll2Midi_results
    layout, read by the refinement stage)."""
    model = _load(ckpt, "roll2midi")
    roll = None if roll_dir is None else str(roll_dir)
    dm = _data_module(model, data, "roll2midi", roll_dir=roll)
    out = export_midi_results(dm, model.refine_roll, out, splits, threshold=model.hparams.midi_threshold)
    log.info("Audeo pipeline: wrote Roll2Midi results of %s to %s", ckpt, out)
    return out


def main(argv: Optional[Sequence[str]] = None) -> Path:
    parser = argparse.ArgumentParser(description="Write a trained Audeo stage's outputs for the next stage.")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("estimates", "Video2Roll -> estimate_Roll"), ("midi", "Roll2Midi -> Roll2Midi_results")):
        command = commands.add_parser(name, help=text)
        command.add_argument("--ckpt", required=True, help="the trained stage's checkpoint")
        command.add_argument("--out", required=True, help="output folder (release layout)")
        command.add_argument("--config", action="append", default=[], help="the stage's config(s): data settings")
        command.add_argument("--root", default=None, help="Audeo data root (default: the config's)")
        command.add_argument("--splits", nargs="+", default=["train", "test"], choices=sorted(SPLIT_DIRS))
        if name == "midi":
            command.add_argument("--roll-dir", default=None, help="Video2Roll estimates (default: the config's)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    data = config_data(args.config)
    if args.root:
        data["root"] = args.root
    if args.command == "estimates":
        out = write_roll_estimates(Path(args.ckpt), Path(args.out), data, args.splits)
    else:
        roll_dir = args.roll_dir or data.get("roll_dir")
        out = write_midi_results(Path(args.ckpt), roll_dir, Path(args.out), data, args.splits)
    print(out)
    return out


__all__ = [
    "config_data",
    "export_midi_results",
    "export_roll_estimates",
    "write_midi_results",
    "write_roll_estimates",
]


if __name__ == "__main__":
    main()

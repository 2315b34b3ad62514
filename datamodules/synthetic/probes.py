"""Learnability checks of the synthetic data: is the video -> music mapping really in the data?

- :func:`pitch_class_probe`: a tiny MLP trained for a fixed wall-clock budget to predict the sounding pitch class
  from the fingering (left) hand's keypoints; accuracy on held-out recordings against the majority-class rate.
  :func:`performer_features` makes its data in memory (fast, for the CI tier); :func:`datamodule_features` reads a
  written dataset through its DataModule (the full round trip synth -> DataModule -> batch).
- :func:`dance_beat_fmeasure`: beat F-measure (``metrics.BeatFMeasure``, 70 ms) of the dancers' motion peaks
  (:func:`datamodules.synthetic.dancer.motion_peaks`) against the music's beats, per sequence and camera.

``python -m datamodules.synthetic.probes {urmp,solos,music,aistpp} --root DIR`` prints the numbers.
"""

from __future__ import annotations

import argparse
import json
import pickle
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from datamodules.layouts import get_layout

FINGERING_HAND = ("LWrist",) + tuple(f"LHand{k}" for k in range(1, 21))


@dataclass
class ProbeResult:
    accuracy: float
    train_accuracy: float
    majority: float
    steps: int
    train_frames: int
    test_frames: int


def hand_features(keypoints: np.ndarray, layout: str) -> np.ndarray:
    """Per frame: the left hand's points relative to its wrist and the wrist relative to the neck (or the shoulders'
    midpoint), divided by the shoulder width; confidences appended. ``keypoints`` ``[T, J, 3]`` -> ``[T, F]``."""
    lay = get_layout(layout)
    hand = keypoints[:, [lay.index(name) for name in FINGERING_HAND]]
    left, right = keypoints[:, lay.index("LShoulder"), :2], keypoints[:, lay.index("RShoulder"), :2]
    centre = keypoints[:, lay.index("Neck"), :2] if "Neck" in lay else (left + right) / 2
    width = np.linalg.norm(left - right, axis=-1, keepdims=True)
    width = np.where(width > 1e-6, width, np.nanmedian(width) if np.any(width > 1e-6) else 1.0)
    relative = (hand[..., :2] - hand[:, :1, :2]) / width[:, None]
    wrist = (hand[:, 0, :2] - centre) / width
    return np.concatenate([relative.reshape(len(hand), -1), wrist, hand[..., 2]], axis=1).astype(np.float32)


def performer_features(instrument: str, works: list[str], seconds: float, seed: int, fps: float = 22.0):
    """(features, pitch class, group) frames of ``instrument`` playing ``works`` (one group per work), made in memory
    with the same performer and detector as the writers."""
    from datamodules.synthetic import detector, performer, repertoire

    rng = np.random.default_rng(seed)
    feats, labels, groups = [], [], []
    for group, work in enumerate(works):
        excerpt = repertoire.arrange(work, [instrument], seconds, rng)
        perf = performer.perform(instrument, excerpt.parts[0], excerpt.duration, fps, (240.0, 100.0), 60.0, rng)
        seen = detector.observe(perf.joints, rng, perf.scale, hands=(performer.LEFT_HAND, performer.RIGHT_HAND))
        keep = perf.pitch >= 0
        feats.append(hand_features(seen, "openpose67")[keep])
        labels.append(perf.pitch[keep] % 12)
        groups.append(np.full(int(keep.sum()), group))
    return np.concatenate(feats), np.concatenate(labels), np.concatenate(groups)


def datamodule_features(datamodule, split: str, passes: int = 1):
    """(features, pitch class) of every frame with a sounding note in ``split`` of a DataModule giving
    ``keypoints`` and ``roll`` (monophonic parts: the highest active key is the note); ``passes`` > 1 draws the
    (random) training clips several times, to cover more of each recording."""
    layout = datamodule.options.keypoint_layout
    loaders = {"train": datamodule.train_dataloader, "val": datamodule.val_dataloader}
    loaders["test"] = datamodule.test_dataloader
    feats, labels = [], []
    for batch in (b for _ in range(passes) for b in loaders[split]()):
        keypoints = batch["keypoints"].numpy()
        roll = batch["roll"].numpy()  # [B, 88, T]
        for kp, r in zip(keypoints, roll):
            active = r.max(axis=0) > 0
            pitch = 21 + 87 - np.argmax(r[::-1], axis=0)
            feats.append(hand_features(kp, layout)[active])
            labels.append(pitch[active] % 12)
    return np.concatenate(feats), np.concatenate(labels)


def pitch_class_probe(
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    seconds: float = 60.0,
    seed: int = 0,
    max_steps: int | None = None,
    noise: float = 0.0,
    weight_decay: float = 1e-4,
) -> ProbeResult:
    """Train a 2-hidden-layer MLP (128 units, AdamW 3e-3 with ``weight_decay``, batches of 256, optional Gaussian
    input ``noise`` in standard deviations) for ``seconds`` of wall clock or ``max_steps``, whichever comes first (a
    step budget makes the result independent of the machine's load); report the accuracy on ``test``."""
    x_train, y_train = (torch.as_tensor(a) for a in train)
    x_test, y_test = (torch.as_tensor(a) for a in test)
    x_train, x_test = torch.nan_to_num(x_train.float()), torch.nan_to_num(x_test.float())
    mean, std = x_train.mean(0), x_train.std(0) + 1e-3
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Linear(x_train.shape[1], 128), torch.nn.ReLU(), torch.nn.Linear(128, 128), torch.nn.ReLU(),
        torch.nn.Linear(128, 12),
    )  # fmt: skip
    optimiser = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=weight_decay)
    start, steps = time.perf_counter(), 0
    while time.perf_counter() - start < seconds and (max_steps is None or steps < max_steps):
        index = torch.randint(0, len(x_train), (256,), generator=generator)
        noisy = x_train[index] + noise * torch.randn(x_train[index].shape, generator=generator)
        loss = torch.nn.functional.cross_entropy(net(noisy), y_train[index].long())
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        steps += 1
    with torch.no_grad():
        accuracy = (net(x_test).argmax(1) == y_test).float().mean().item()
        train_accuracy = (net(x_train).argmax(1) == y_train).float().mean().item()
    majority = float((y_test == torch.bincount(y_train.long(), minlength=12).argmax()).float().mean())
    return ProbeResult(accuracy, train_accuracy, majority, steps, len(x_train), len(x_test))


def dance_beat_fmeasure(root: str | Path) -> dict[str, list[float]]:
    """Per sequence of a synthetic AIST++ root: beat F-measure of each camera's motion peaks vs the piece's beats."""
    from datamodules.synthetic.dancer import motion_peaks
    from metrics.beat_fmeasure import BeatFMeasure

    root = Path(root)
    marker = json.loads((root / "SYNTHETIC.json").read_text())
    scores = {}
    for sequence in marker["sequences"]:
        with open(root / "keypoints2d" / f"{sequence['name']}.pkl", "rb") as handle:
            views = pickle.load(handle)["keypoints2d"]
        beats = np.asarray(marker["pieces"][sequence["music"]]["beats"])
        values = []
        for view in views:
            metric = BeatFMeasure()
            metric.update([motion_peaks(view)], [beats])
            values.append(float(metric.compute()["f_measure"]))
        scores[sequence["name"]] = values
    return scores


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=("urmp", "solos", "music", "aistpp"))
    parser.add_argument("--root", type=Path, required=True, help="a synthetic dataset written by `cli.py synth`")
    parser.add_argument("--seconds", type=float, default=60.0, help="probe training budget (wall clock)")
    parser.add_argument("--instruments", default="vn", help="URMP instruments for the probe (comma-separated)")
    parser.add_argument("--normalization", default="none", help="keypoint normalisation of the DataModule")
    parser.add_argument("--categories", default=None, help="Solos / MUSIC categories for the probe (default all)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.dataset == "aistpp":
        scores = dance_beat_fmeasure(args.root)
        for name, values in scores.items():
            print(f"{name}: beat F per camera {np.round(values, 3).tolist()}")
        print(f"mean beat F-measure {np.mean([np.mean(v) for v in scores.values()]):.3f}")
        return
    from importlib import import_module

    module = {"urmp": "URMPDataModule", "solos": "SolosDataModule", "music": "MUSICDataModule"}[args.dataset]
    kwargs = {"fields": ("keypoints", "roll", "instrument"), "clip_seconds": 2.0, "batch_size": 16,
              "normalization": args.normalization}  # fmt: skip
    if args.dataset == "urmp":
        kwargs |= {"instruments": tuple(args.instruments.split(",")), "split": "pieces"}
    elif args.categories:
        kwargs["categories"] = tuple(args.categories.split(","))
    datamodule = getattr(import_module(f"datamodules.{args.dataset}"), module)(root=str(args.root), **kwargs)
    datamodule.setup()
    train = datamodule_features(datamodule, "train", passes=3)
    held_out = [datamodule_features(datamodule, split) for split in ("val", "test")]
    test = (np.concatenate([x for x, _ in held_out]), np.concatenate([y for _, y in held_out]))
    result = pitch_class_probe(train, test, seconds=args.seconds)
    print(
        f"SYNTHETIC {args.dataset}: pitch class from left-hand keypoints: held-out (val + test) accuracy "
        f"{result.accuracy:.3f} "
        f"(train {result.train_accuracy:.3f}), majority-class rate {result.majority:.3f}, chance 1/12 = 0.083; "
        f"{result.steps} steps, {result.train_frames} train / {result.test_frames} held-out frames"
    )


if __name__ == "__main__":
    main()

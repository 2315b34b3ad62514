"""A tiny pressed-key probe for the synthetic top-view piano data: can the keys held down be read off one frame?

Input: one grayscale keyboard crop (``input_images/<split>/<video>/frame{N}.jpg``) shrunk to 25 x 225; output: 88
independent key logits (a logistic-regression layer on the pixels), trained with Adam for a fixed wall-clock budget
on the ``training`` videos and scored on the ``testing`` videos by frame-level micro F1 (threshold 0.4, as Audeo).

Two chance levels are reported: ``chance_prior`` (guess each key independently at its training frequency: expected
F1 = sum p_k^2 / sum p_k on the test frames' rates) and ``chance_all`` (always say "pressed": F1 = 2p / (1 + p)).
"""

from __future__ import annotations

import pickle
import re
import time
from pathlib import Path

import cv2
import numpy as np
import torch

SIZE = (225, 25)  # (width, height) for cv2


def load_split(root: Path, split_dir: str) -> tuple[np.ndarray, np.ndarray]:
    """All frames of a split as float32 [N, 25*225] in [0, 1] and their labels bool [N, 88]."""
    xs, ys = [], []
    for folder in sorted((root / "input_images" / split_dir).iterdir()):
        with open(root / "labels" / split_dir / f"{folder.name}.pkl", "rb") as handle:
            labels = pickle.load(handle)
        for path in folder.glob("frame*.jpg"):
            n = int(re.fullmatch(r"frame(\d+)", path.stem).group(1))
            image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            xs.append(cv2.resize(image, SIZE, interpolation=cv2.INTER_AREA).reshape(-1))
            ys.append(np.asarray(labels[n]) > 0)
    return np.stack(xs).astype(np.float32) / 255.0, np.stack(ys)


def f1(pred: np.ndarray, truth: np.ndarray) -> float:
    tp = float(np.sum(pred & truth))
    return 2 * tp / max(float(pred.sum() + truth.sum()), 1.0)


def run_probe(root: Path, seconds: float, seed: int = 0) -> dict[str, float]:
    """Train the probe for ``seconds`` on ``training`` and score it on ``testing``; returns F1s and chance levels."""
    torch.manual_seed(seed)
    x_train, y_train = load_split(root, "training")
    x_test, y_test = load_split(root, "testing")
    mean, std = x_train.mean(0), x_train.std(0) + 0.05
    xt = torch.from_numpy((x_train - mean) / std)
    yt = torch.from_numpy(y_train.astype(np.float32))
    model = torch.nn.Linear(xt.shape[1], y_train.shape[1])
    prior = y_train.mean(0).clip(1e-3, 1 - 1e-3)
    with torch.no_grad():
        model.weight.zero_()
        model.bias.copy_(torch.from_numpy(np.log(prior / (1 - prior)).astype(np.float32)))
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(seed)
    start, steps = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        batch = torch.randint(len(xt), (128,), generator=generator)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(xt[batch]), yt[batch])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        steps += 1
    with torch.no_grad():
        probs = torch.sigmoid(model(torch.from_numpy((x_test - mean) / std))).numpy()
    pred = probs >= 0.4
    p_test = y_test.mean(0)
    rate = float(y_test.mean())
    return {
        "f1": f1(pred, y_test),
        "train_f1": f1(torch.sigmoid(model(xt)).detach().numpy() >= 0.4, y_train),
        "chance_prior": float(np.sum(prior * p_test) / max(np.sum(p_test), 1e-9)),
        "chance_all": 2 * rate / (1 + rate),
        "train_frames": len(x_train),
        "test_frames": len(x_test),
        "steps": steps,
        "seconds": time.perf_counter() - start,
    }

"""FramePRF "micro" = mir_eval.multipitch, "frame" = Audeo's released evaluation."""

from __future__ import annotations

import mir_eval
import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score, multilabel_confusion_matrix, precision_score, recall_score

from metrics import FramePRF


def _random_rolls(seed: int, keys: int = 88, frames: int = 200):
    rng = np.random.default_rng(seed)
    target = (rng.random((keys, frames)) < 0.05).astype(np.float32)
    target[:, :10] = 0  # some empty frames
    preds = np.clip(target * rng.uniform(0.3, 1.0, target.shape) + rng.uniform(0, 0.45, target.shape), 0, 1)
    preds[:, 5:15] = 0.0  # empty predictions too (both empty in frames 5-9)
    return preds.astype(np.float32), target


def _roll_to_freqs(roll: np.ndarray, low: int = 21) -> list[np.ndarray]:
    return [mir_eval.util.midi_to_hz(np.flatnonzero(column) + low) for column in roll.T]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_micro_equals_mir_eval_multipitch(seed):
    preds, target = _random_rolls(seed)
    metric = FramePRF(threshold=0.4, average="micro")
    metric.update(torch.from_numpy(preds[:, :120]), torch.from_numpy(target[:, :120]))
    metric.update(torch.from_numpy(preds[None, :, 120:]), torch.from_numpy(target[None, :, 120:]))
    result = metric.compute()
    times = np.arange(preds.shape[1]) / 25.0
    scores = mir_eval.multipitch.evaluate(times, _roll_to_freqs(target), times, _roll_to_freqs(preds >= 0.4))
    assert float(result["precision"]) == pytest.approx(scores["Precision"], abs=1e-12)
    assert float(result["recall"]) == pytest.approx(scores["Recall"], abs=1e-12)
    assert float(result["accuracy"]) == pytest.approx(scores["Accuracy"], abs=1e-12)
    p, r = scores["Precision"], scores["Recall"]
    assert float(result["f1"]) == pytest.approx(2 * p * r / (p + r), abs=1e-12)


@pytest.mark.parametrize("seed", [0, 3])
def test_frame_average_equals_audeo_sklearn_samples(seed):
    preds, target = _random_rolls(seed, keys=51)
    metric = FramePRF(threshold=0.4, average="frame")
    metric.update(
        torch.from_numpy(np.stack([preds[:, :100], preds[:, 100:]])),
        torch.from_numpy(np.stack([target[:, :100], target[:, 100:]])),
    )
    result = metric.compute()
    # Audeo's Video2Roll_evaluate.py: frames are samples, keys are labels, zero_division=1
    y_true, y_pred = target.T.astype(int), (preds >= 0.4).T.astype(int)
    mcm = multilabel_confusion_matrix(y_true, y_pred, samplewise=True)
    tp, fp, fn = mcm[:, 1, 1], mcm[:, 0, 1], mcm[:, 1, 0]
    denominator = tp + fp + fn
    accuracy = np.where(denominator > 0, tp / np.maximum(denominator, 1), 1.0).mean()
    assert float(result["accuracy"]) == pytest.approx(accuracy, abs=1e-12)
    kwargs = {"average": "samples", "zero_division": 1}
    assert float(result["precision"]) == pytest.approx(precision_score(y_true, y_pred, **kwargs), abs=1e-12)
    assert float(result["recall"]) == pytest.approx(recall_score(y_true, y_pred, **kwargs), abs=1e-12)
    assert float(result["f1"]) == pytest.approx(f1_score(y_true, y_pred, **kwargs), abs=1e-12)


def test_frame_average_by_hand_with_empty_frames():
    # 3 keys x 4 frames: both empty | perfect | one miss | one false alarm only
    target = torch.tensor([[0, 1, 1, 0], [0, 0, 1, 0], [0, 0, 0, 0]], dtype=torch.float32)
    preds = torch.tensor([[0, 0.9, 0.8, 0.0], [0, 0, 0.1, 0.0], [0, 0, 0, 0.5]])
    frame = FramePRF(average="frame")
    frame.update(preds, target)
    result = {k: float(v) for k, v in frame.compute().items()}
    assert result["precision"] == pytest.approx((1 + 1 + 1 + 0) / 4)
    assert result["recall"] == pytest.approx((1 + 1 + 0.5 + 1) / 4)
    assert result["accuracy"] == pytest.approx((1 + 1 + 0.5 + 0) / 4)
    assert result["f1"] == pytest.approx((1 + 1 + 2 / 3 + 0) / 4)
    micro = FramePRF(average="micro")
    micro.update(preds, target)
    result = {k: float(v) for k, v in micro.compute().items()}  # TP 2, FP 1, FN 1
    assert result == pytest.approx({"precision": 2 / 3, "recall": 2 / 3, "accuracy": 0.5, "f1": 2 / 3})
    assert FramePRF().threshold == 0.4  # Audeo's TS; a prediction of exactly 0.4 is on (>=)
    exact = FramePRF()
    exact.update(torch.tensor([[0.4]]), torch.tensor([[1.0]]))
    assert float(exact.compute()["recall"]) == 1.0
    with pytest.raises(ValueError, match="average"):
        FramePRF(average="macro")
    with pytest.raises(ValueError, match="preds and target"):
        FramePRF().update(torch.zeros(3, 4), torch.zeros(3, 5))

"""Frame-level precision, recall, accuracy and F1 of piano rolls (Audeo §4 "Midi Evaluation", Table 1).

Rolls are shaped like :func:`music.roll.midi_to_roll` output, ``[keys, T]`` or batched ``[B, keys, T]``. A predicted
key is on where ``preds >= threshold`` (Audeo: sigmoid probabilities, TS = 0.4, ``>=`` as in its released code); a
target key is on where ``target > 0`` (binary or velocity rolls).

``average="micro"`` (Bay, Ehmann & Downie 2009; MIREX multi-F0; equal to ``mir_eval.multipitch``): TP, FP, FN summed
over all frames and keys, then P = TP/(TP+FP), R = TP/(TP+FN), Acc = TP/(TP+FP+FN), F1 = 2PR/(P+R) (0 where a
denominator is 0).

``average="frame"`` (Audeo's released ``Video2Roll_evaluate.py`` / ``Roll2Midi_evaluate.py``: scikit-learn
``average="samples"`` with ``zero_division=1`` over frames): each frame is scored on its own and the scores are
averaged over frames. A frame whose denominator is 0 scores 1: P = 1 when nothing is predicted, R = 1 when the
target is empty, Acc = 1 and F1 = 1 when both are empty (F1 = 2TP/(2TP+FP+FN); a frame with only misses or only
false alarms scores F1 = 0).
"""

from __future__ import annotations

from typing import Literal

import torch
from torchmetrics import Metric


class FramePRF(Metric):
    """Frame-level P/R/Acc/F1; ``compute()`` returns ``{"precision", "recall", "accuracy", "f1"}`` (float64)."""

    full_state_update = False
    higher_is_better = True

    def __init__(self, threshold: float = 0.4, average: Literal["micro", "frame"] = "micro", **kwargs) -> None:
        super().__init__(**kwargs)
        if average not in ("micro", "frame"):
            raise ValueError(f"FramePRF average must be 'micro' or 'frame', got {average!r}")
        self.threshold = float(threshold)
        self.average = average
        for name in ("tp", "fp", "fn", "frames", "sum_precision", "sum_recall", "sum_accuracy", "sum_f1"):
            self.add_state(name, torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        preds, target = torch.as_tensor(preds), torch.as_tensor(target)
        if preds.shape != target.shape or preds.dim() not in (2, 3):
            raise ValueError(
                f"FramePRF expects preds and target [keys, T] or [B, keys, T]; got {preds.shape}, {target.shape}"
            )
        if preds.dim() == 2:
            preds, target = preds[None], target[None]
        pred_on = preds >= self.threshold
        true_on = target > 0
        tp = (pred_on & true_on).sum(dim=1).double()  # [B, T] per frame
        fp = (pred_on & ~true_on).sum(dim=1).double()
        fn = (~pred_on & true_on).sum(dim=1).double()
        self.tp += tp.sum()
        self.fp += fp.sum()
        self.fn += fn.sum()
        self.frames += tp.numel()
        self.sum_precision += _divide_or_one(tp, tp + fp).sum()
        self.sum_recall += _divide_or_one(tp, tp + fn).sum()
        self.sum_accuracy += _divide_or_one(tp, tp + fp + fn).sum()
        self.sum_f1 += _divide_or_one(2 * tp, 2 * tp + fp + fn).sum()

    def compute(self) -> dict[str, torch.Tensor]:
        if self.average == "frame":
            frames = self.frames.clamp_min(1)
            return {
                "precision": self.sum_precision / frames,
                "recall": self.sum_recall / frames,
                "accuracy": self.sum_accuracy / frames,
                "f1": self.sum_f1 / frames,
            }
        precision = _divide_or_zero(self.tp, self.tp + self.fp)
        recall = _divide_or_zero(self.tp, self.tp + self.fn)
        return {
            "precision": precision,
            "recall": recall,
            "accuracy": _divide_or_zero(self.tp, self.tp + self.fp + self.fn),
            "f1": _divide_or_zero(2 * precision * recall, precision + recall),
        }


def _divide_or_one(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    return torch.where(denominator > 0, numerator / denominator.clamp_min(1e-300), torch.ones_like(numerator))


def _divide_or_zero(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    return torch.where(denominator > 0, numerator / denominator.clamp_min(1e-300), torch.zeros_like(numerator))


def best_constant_prf(train_target: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """The strongest input-free predictor, scored micro on ``target`` ``[N, keys]``: key k is always on when its
    frequency in ``train_target`` ``[M, keys]`` is at least a threshold, the threshold that maximises the micro F1 on
    the training rows (so the held-out rows never choose it). Returns P/R/Acc/F1 and the keys it turns on."""
    train_target, target = torch.as_tensor(train_target).float(), torch.as_tensor(target).float()
    frequency = (train_target > 0).float().mean(0)
    best, best_th = -1.0, 1.0
    for th in torch.unique(frequency).tolist():
        on = (frequency >= th).float()[:, None].expand(-1, len(train_target))
        score = float(FramePRF(0.5).forward(on, train_target.T)["f1"])
        if score > best:
            best, best_th = score, th
    on = (frequency >= best_th).float()[:, None].expand(-1, len(target))
    scores = {k: float(v) for k, v in FramePRF(0.5).forward(on, target.T).items()}
    return {**scores, "keys_on": int((frequency >= best_th).sum())}


__all__ = ["FramePRF", "best_constant_prf"]

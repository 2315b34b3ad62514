"""The best-constant baseline of frame P/R/F1: chosen on training rows, scored on held-out rows."""

import torch

from metrics.frame_prf import best_constant_prf


def test_best_constant_turns_on_the_frequent_keys_chosen_on_training_rows() -> None:
    train = torch.zeros(10, 4)
    train[:, 0] = 1  # always on
    train[:6, 1] = 1  # on 60 %
    train[:1, 2] = 1  # rare
    # on the training rows: key 0 alone F1 = 2*10/(2*10+7) = 0.741; keys 0+1: P 16/20, R 16/17 -> F1 0.865;
    # adding key 2: P 17/30 -> F1 0.723. So keys 0 and 1 are always on.
    held_out = torch.zeros(4, 4)
    held_out[:, 0] = 1
    held_out[:2, 3] = 1
    scores = best_constant_prf(train, held_out)
    assert scores["keys_on"] == 2
    # held out: predicted 8 key-frames (keys 0, 1), true 6 (key 0 x4, key 3 x2): TP 4, FP 4, FN 2
    assert abs(scores["precision"] - 0.5) < 1e-9 and abs(scores["recall"] - 4 / 6) < 1e-9
    assert abs(scores["f1"] - 2 * 0.5 * (4 / 6) / (0.5 + 4 / 6)) < 1e-9

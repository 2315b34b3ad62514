"""Pitch-class histogram correlation of generated and true MIDI (the Foley Music acceptance check in
``experiments/tables/foley_music.py``: does the music generated from the motion use the pitches the performer plays?).

A MIDI's pitch-class histogram counts its notes (all instruments) per pitch class (``pitch % 12``; octaves fold
together). The score of a pair is the Pearson correlation of the two 12-bin histograms, in [-1, 1]; it is NaN when
either histogram is flat (no notes, or every pitch class equally often), where a correlation is undefined.
:class:`PitchClassCorrelation` averages the defined scores over all pairs seen (NaN pairs left out, like
``numpy.nanmean``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torchmetrics import Metric


def pitch_class_histogram(midi: Any) -> np.ndarray:
    """Note counts per pitch class (C = 0 ... B = 11) over every instrument of ``midi`` (a PrettyMIDI)."""
    counts = np.zeros(12)
    for instrument in midi.instruments:
        for note in instrument.notes:
            counts[note.pitch % 12] += 1
    return counts


def pitch_class_correlation(generated: Any, truth: Any) -> float:
    """Pearson correlation of the pitch-class histograms of two MIDIs (NaN if one of them is flat)."""
    a, b = pitch_class_histogram(generated), pitch_class_histogram(truth)
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


class PitchClassCorrelation(Metric):
    """Mean :func:`pitch_class_correlation` over (generated, true) MIDI pairs; ``compute()`` is NaN if no pair had a
    defined correlation. ``update`` takes one pair or two equal-length sequences of MIDIs."""

    full_state_update = False
    higher_is_better = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_state("total", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("pairs", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, generated: Any, truth: Any) -> None:
        if isinstance(generated, Sequence) != isinstance(truth, Sequence):
            raise ValueError("PitchClassCorrelation.update takes two MIDIs or two sequences of MIDIs")
        if not isinstance(generated, Sequence):
            generated, truth = [generated], [truth]
        if len(generated) != len(truth):
            raise ValueError(f"PitchClassCorrelation.update: {len(generated)} generated vs {len(truth)} true MIDIs")
        for one, other in zip(generated, truth):
            score = pitch_class_correlation(one, other)
            if not math.isnan(score):
                self.total += score
                self.pairs += 1

    def compute(self) -> torch.Tensor:
        if self.pairs == 0:
            return torch.tensor(float("nan"), dtype=torch.float64)
        return self.total / self.pairs


__all__ = ["PitchClassCorrelation", "pitch_class_correlation", "pitch_class_histogram"]

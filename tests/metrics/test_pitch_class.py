"""Pitch-class histogram correlation against hand-computed values."""

from __future__ import annotations

import math

import pretty_midi
import pytest

from metrics import PitchClassCorrelation, pitch_class_correlation, pitch_class_histogram


def _midi(*pitches: int) -> pretty_midi.PrettyMIDI:
    midi = pretty_midi.PrettyMIDI()
    for program, group in ((40, pitches[::2]), (0, pitches[1::2])):  # two instruments: both are counted
        instrument = pretty_midi.Instrument(program=program)
        instrument.notes = [pretty_midi.Note(90, p, 0.25 * i, 0.25 * i + 0.2) for i, p in enumerate(group)]
        midi.instruments.append(instrument)
    return midi


def test_histogram_folds_octaves_and_counts_every_instrument() -> None:
    counts = pitch_class_histogram(_midi(60, 72, 64, 21))  # C4, C5, E4, A0
    assert counts.tolist() == [2, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0]


def test_correlation_hand_values() -> None:
    assert pitch_class_correlation(_midi(60, 64, 67), _midi(72, 76, 43)) == pytest.approx(1.0)  # same classes
    # one-hot histograms e_i, e_j (i != j): covariance -1/12^2 * 12 ... Pearson = (0 - 12 m^2) / (12 m - 12 m^2)
    # with m = 1/12: -(1/12) / (11/12) = -1/11
    assert pitch_class_correlation(_midi(60), _midi(61)) == pytest.approx(-1 / 11)
    # [2 C, 1 E] vs [1 C, 2 E]: deviations from the mean 1/4 -> (7/4, 3/4) and (3/4, 7/4), 10 x (-1/4) elsewhere;
    # sum of products 21/16 + 21/16 + 10/16 = 52/16; sum of squares 49/16 + 9/16 + 10/16 = 68/16 -> 52/68 = 13/17
    assert pitch_class_correlation(_midi(60, 48, 64), _midi(60, 64, 76)) == pytest.approx(13 / 17)


def test_flat_histograms_are_undefined() -> None:
    assert math.isnan(pitch_class_correlation(_midi(), _midi(60)))
    assert math.isnan(pitch_class_correlation(_midi(60), _midi(*range(60, 72))))  # every class once: flat


def test_metric_averages_the_defined_pairs() -> None:
    metric = PitchClassCorrelation()
    metric.update(_midi(), _midi(60))  # undefined: no defined pair yet
    assert math.isnan(float(metric.compute()))
    metric.update(_midi(60, 64), _midi(72, 76))  # 1
    metric.update([_midi(60), _midi()], [_midi(61), _midi(60)])  # -1/11, undefined (left out)
    assert float(metric.compute()) == pytest.approx((1 - 1 / 11) / 2)
    with pytest.raises(ValueError, match="2 generated vs 1 true"):
        metric.update([_midi(60), _midi(61)], [_midi(60)])

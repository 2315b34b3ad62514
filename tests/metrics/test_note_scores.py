"""Note-onset F1 and frame scores of a MIDI against hand-counted matches (and mir_eval's matching)."""

from __future__ import annotations

import numpy as np
import pretty_midi
import pytest

from metrics import frame_scores, onset_f1


def _midi(notes: list[tuple[int, float, float]], drums: list[tuple[int, float, float]] = ()) -> pretty_midi.PrettyMIDI:
    midi = pretty_midi.PrettyMIDI()
    for is_drum, group in ((False, notes), (True, drums)):
        instrument = pretty_midi.Instrument(program=0, is_drum=is_drum)
        instrument.notes = [pretty_midi.Note(100, pitch, start, end) for pitch, start, end in group]
        midi.instruments.append(instrument)
    return midi


def test_onset_f1_hand_counted() -> None:
    reference = _midi([(60, 0.0, 0.5), (64, 0.5, 1.0), (67, 1.0, 1.5), (72, 1.5, 2.0)])
    estimate = _midi(
        [
            (60, 0.03, 0.1),  # onset 30 ms late, short offset: a match (offsets ignored)
            (64, 0.5, 1.0),  # exact: a match
            (68, 1.0, 1.5),  # a semitone off: no match
            (72, 1.58, 2.0),  # onset 80 ms late: no match
            (60, 0.01, 0.3),  # second note on the matched reference note: matched at most once
        ],
        drums=[(67, 1.0, 1.5)],  # drums are left out
    )
    scores = onset_f1(reference, estimate)
    assert scores["precision"] == pytest.approx(2 / 5)
    assert scores["recall"] == pytest.approx(2 / 4)
    assert scores["f1"] == pytest.approx(2 * (2 / 5) * (2 / 4) / (2 / 5 + 2 / 4))
    assert onset_f1(reference, estimate, onset_tolerance=0.1)["recall"] == pytest.approx(3 / 4)  # the 80 ms onset


def test_onset_f1_empty_inputs() -> None:
    reference = _midi([(60, 0.0, 0.5)])
    assert onset_f1(reference, _midi([])) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    with pytest.raises(ValueError, match="reference has no notes"):
        onset_f1(_midi([], drums=[(60, 0.0, 0.5)]), reference)


def test_frame_scores_hand_counted() -> None:
    """25 fps, 51 keys from MIDI 36: C4 (row 24) on for 0.0-0.4 s = frames 0-9; the truth has it on in frames 0-4 and
    10-14. TP 5, FP 5, FN 5; a note above the keys and a drum note are not drawn."""
    truth = np.zeros((51, 20), np.float32)
    truth[24, 0:5] = truth[24, 10:15] = 1.0
    midi = _midi([(60, 0.0, 0.4), (100, 0.0, 0.8)], drums=[(40, 0.0, 0.8)])
    scores = frame_scores(midi, truth, fps=25, low=36)
    assert scores == pytest.approx({"precision": 0.5, "recall": 0.5, "accuracy": 1 / 3, "f1": 0.5})
    # the same MIDI on an 88-key grid from MIDI 21: C4 is row 39; the 100 (row 79) adds 20 false-alarm frames: 5 / 30
    wide = np.zeros((88, 20), np.float32)
    wide[39] = truth[24]
    scores = frame_scores(midi, wide, fps=25, low=21)
    assert scores["precision"] == pytest.approx(5 / 30) and scores["recall"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match=r"\[keys, T\]"):
        frame_scores(midi, truth[None], fps=25, low=36)

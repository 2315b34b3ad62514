"""Piano rolls: roll -> MIDI -> roll is the identity on binary rolls; frame convention, velocities, key ranges."""

from __future__ import annotations

import numpy as np
import pretty_midi
import pytest
import torch

from music.corpus import load_corpus_midi
from music.roll import midi_to_roll, roll_to_midi


@pytest.fixture(scope="module")
def bwv846() -> pretty_midi.PrettyMIDI:
    return load_corpus_midi("bach/bwv846")


def test_identity_on_random_binary_rolls_audeo_range() -> None:
    rng = np.random.default_rng(0)
    roll = (rng.random((51, 400)) < 0.3).astype(np.float32)
    roll[:, -1] = 1.0  # runs that end with the roll
    roll[:, 0] = 1.0  # and start with it
    midi = roll_to_midi(roll, fps=25, low=36)
    pitches = {n.pitch for n in midi.instruments[0].notes}
    assert min(pitches) == 36 and max(pitches) == 86
    back = midi_to_roll(midi, fps=25, low=36, high=86, frames=400, binary=True)
    np.testing.assert_array_equal(back, roll)
    # without `frames` the roll ends at the last note, which here is the last frame
    assert midi_to_roll(midi, 25, low=36, high=86).shape == (51, 400)


def test_identity_on_a_real_piece(bwv846: pretty_midi.PrettyMIDI) -> None:
    roll = midi_to_roll(bwv846, fps=30, binary=True)
    assert roll.shape[0] == 88 and roll.shape[1] == pytest.approx(bwv846.get_end_time() * 30, abs=1)
    assert set(np.unique(roll)) == {0.0, 1.0}
    back = midi_to_roll(roll_to_midi(torch.from_numpy(roll), fps=30), fps=30, frames=roll.shape[1], binary=True)
    np.testing.assert_array_equal(back, roll)


def test_frame_convention_velocity_and_range() -> None:
    midi = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(0)
    piano.notes = [
        pretty_midi.Note(127, 60, 0.10, 0.30),  # frames round(1.0)=1 .. round(3.0)=3 -> 1, 2
        pretty_midi.Note(64, 60, 0.26, 0.50),  # overlaps the first at frame 3..4; the louder wins where both sound
        pretty_midi.Note(90, 30, 0.0, 0.01),  # shorter than a frame: still one frame
        pretty_midi.Note(90, 20, 0.0, 1.0),  # below the piano: left out
    ]
    drums = pretty_midi.Instrument(0, is_drum=True)
    drums.notes = [pretty_midi.Note(100, 38, 0.0, 1.0)]
    midi.instruments += [piano, drums]
    roll = midi_to_roll(midi, fps=10)
    assert roll.dtype == np.float32 and roll.shape == (88, 5)
    np.testing.assert_allclose(roll[60 - 21], [0, 1, 1, 64 / 127, 64 / 127])
    np.testing.assert_allclose(roll[30 - 21], [90 / 127, 0, 0, 0, 0])
    assert roll[38 - 21].sum() == 0  # drums are not piano keys
    assert midi_to_roll(midi, fps=10, frames=3).shape == (88, 3)
    # velocities survive a round trip when taken from the roll
    notes = roll_to_midi(roll, fps=10, velocity=None).instruments[0].notes
    assert {(n.pitch, n.velocity) for n in notes} == {(60, 127), (30, 90)}
    assert roll_to_midi(roll, fps=10, program=41).instruments[0].program == 41
    assert midi_to_roll(pretty_midi.PrettyMIDI(), fps=10).shape == (88, 0)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="keys"):
        roll_to_midi(np.zeros((88, 4)), fps=10, low=50)
    with pytest.raises(ValueError, match=r"\[keys, T\]"):
        roll_to_midi(np.zeros(4), fps=10)
    with pytest.raises(ValueError, match="fps"):
        midi_to_roll(pretty_midi.PrettyMIDI(), fps=0)

"""midi_window: notes that outlast the window are clipped by default, left out with ``drop_outlasting``."""

from __future__ import annotations

import pretty_midi

from datamodules.midi import midi_window


def _midi() -> pretty_midi.PrettyMIDI:
    midi = pretty_midi.PrettyMIDI()
    violin = pretty_midi.Instrument(program=40)
    violin.notes += [
        pretty_midi.Note(90, 60, 1.0, 2.0),  # inside the window [1, 4)
        pretty_midi.Note(90, 62, 3.0, 5.0),  # starts inside, outlasts it
        pretty_midi.Note(90, 64, 0.5, 1.5),  # began before it
    ]
    midi.instruments.append(violin)
    return midi


def test_outlasting_notes_are_clipped_or_dropped() -> None:
    clipped = midi_window(_midi(), 1.0, 3.0).instruments[0].notes
    assert [(n.pitch, n.start, n.end) for n in clipped] == [(60, 0.0, 1.0), (62, 2.0, 3.0)]
    dropped = midi_window(_midi(), 1.0, 3.0, drop_outlasting=True).instruments[0].notes
    assert [(n.pitch, n.start, n.end) for n in dropped] == [(60, 0.0, 1.0)]

"""MIDI editing (Foley Music §4.4): transposition and instrument change keep notes in range; cropping clips."""

from __future__ import annotations

import pretty_midi
import pytest

from music import edit
from music.corpus import cache_path, load_corpus_midi


@pytest.fixture(scope="module")
def bwv846() -> pretty_midi.PrettyMIDI:
    return load_corpus_midi("bach/bwv846")


def _pitches(midi: pretty_midi.PrettyMIDI) -> list[int]:
    return [n.pitch for i in midi.instruments if not i.is_drum for n in i.notes]


def test_transpose_changes_the_key_and_leaves_the_input(bwv846: pretty_midi.PrettyMIDI) -> None:
    before = _pitches(bwv846)
    up = edit.transpose(bwv846, 5)  # C major -> F major
    assert _pitches(bwv846) == before  # input untouched
    assert _pitches(up) == [p + 5 for p in before]
    assert [n.start for n in up.instruments[0].notes] == [n.start for n in bwv846.instruments[0].notes]
    down = edit.transpose(up, -5)
    assert _pitches(down) == before


def test_out_of_range_rule() -> None:
    midi = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(0)
    piano.notes = [pretty_midi.Note(80, 100, 0, 1), pretty_midi.Note(80, 60, 1, 2)]
    drums = pretty_midi.Instrument(0, is_drum=True)
    drums.notes = [pretty_midi.Note(80, 36, 0, 0.1)]
    midi.instruments += [piano, drums]
    folded = edit.transpose(midi, 12)  # 112 is above the piano: one octave down again, same pitch class
    assert [n.pitch for n in folded.instruments[0].notes] == [100, 72]
    assert folded.instruments[1].notes[0].pitch == 36  # drums are not transposed
    dropped = edit.transpose(midi, 12, out_of_range="drop")
    assert [n.pitch for n in dropped.instruments[0].notes] == [72]
    with pytest.raises(ValueError, match="112"):
        edit.transpose(midi, 12, out_of_range="error")
    with pytest.raises(ValueError, match="out_of_range"):
        edit.transpose(midi, 1, out_of_range="wrap")
    assert edit.fit_pitch(30, 55, 103) == 66 and edit.fit_pitch(110, 55, 103) == 98


def test_change_instrument_fits_the_new_range(bwv846: pretty_midi.PrettyMIDI) -> None:
    violin = edit.change_instrument(bwv846, 40)
    low, high = edit.instrument_range(40)
    assert all(i.program == 40 for i in violin.instruments)
    pitches, before = _pitches(violin), _pitches(bwv846)
    assert min(pitches) >= low and max(pitches) <= high
    assert [p % 12 for p in pitches] == [p % 12 for p in before]  # the key is kept
    assert min(before) < low  # the piano's bass really had to move
    left_only = edit.change_instrument(bwv846, 42, tracks=[1], fit_range=False)
    assert [i.program for i in left_only.instruments] == [0, 42]
    assert _pitches(left_only) == before
    with pytest.raises(ValueError, match="track 5"):
        edit.change_instrument(bwv846, 40, tracks=[5])
    with pytest.raises(ValueError, match="0..127"):
        edit.change_instrument(bwv846, 128)


def test_crop(bwv846: pretty_midi.PrettyMIDI) -> None:
    clip = edit.crop(bwv846, 10.0, 16.0)
    inside = [n for i in bwv846.instruments for n in i.notes if n.end > 10.0 and n.start < 16.0]
    notes = [n for i in clip.instruments for n in i.notes]
    assert len(notes) == len(inside) > 10
    assert min(n.start for n in notes) >= 0 and max(n.end for n in notes) <= 6.0 + 1e-9
    assert sorted(n.start for n in notes) == pytest.approx(sorted(max(n.start, 10.0) - 10.0 for n in inside))
    with pytest.raises(ValueError, match="end > start"):
        edit.crop(bwv846, 5.0, 5.0)


def test_corpus_cache(bwv846: pretty_midi.PrettyMIDI) -> None:
    path = cache_path("bach/bwv846")
    assert path.is_file() and path.suffix == ".mid"
    assert sum(len(i.notes) for i in bwv846.instruments) > 500
    with pytest.raises(FileNotFoundError, match="no/such_work"):
        load_corpus_midi("no/such_work")

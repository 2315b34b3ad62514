"""Foley Music performance events: vocabulary layout, exact round trips on real music, no drift over a long piece."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pretty_midi
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from music import events as E
from music.corpus import load_corpus_midi


@pytest.fixture(scope="module")
def bwv846() -> pretty_midi.PrettyMIDI:
    return load_corpus_midi("bach/bwv846")


@pytest.fixture(scope="module")
def k545() -> pretty_midi.PrettyMIDI:
    return load_corpus_midi("mozart/k545")


def _onsets_by_pitch(midi: pretty_midi.PrettyMIDI) -> dict[int, np.ndarray]:
    by_pitch: dict[int, list[float]] = defaultdict(list)
    for instrument in midi.instruments:
        for note in instrument.notes:
            if not instrument.is_drum and 21 <= note.pitch <= 108:
                by_pitch[note.pitch].append(note.start)
    return {pitch: np.sort(starts) for pitch, starts in by_pitch.items()}


def test_vocabulary_layout_matches_foley_music() -> None:
    assert (E.NOTE_ON_OFFSET, E.NOTE_OFF_OFFSET, E.VELOCITY_OFFSET, E.TIME_SHIFT_OFFSET) == (0, 88, 176, 208)
    assert (E.SOS, E.EOS, E.PAD, E.VOCAB_SIZE) == (240, 241, 242, 243)
    assert E.TIME_SHIFT_BINS[0] == pytest.approx(0.0154, abs=1e-4)
    assert E.TIME_SHIFT_BINS[-1] == pytest.approx(1.17, abs=1e-2)
    assert np.allclose(E.TIME_SHIFT_BINS[1:] / E.TIME_SHIFT_BINS[:-1], 1.15)
    # velocity bins of the released code: 21 -> 0, 22 -> 1 (rounded up), 108 -> 31, decoded 31 -> bins[30]
    assert E.velocity_to_index(21) == 0 and E.velocity_to_index(5) == 0
    assert E.velocity_to_index(22) == 1 and E.index_to_velocity(1) == 23
    assert E.velocity_to_index(108) == 31 and E.velocity_to_index(127) == 31
    assert E.index_to_velocity(31) == E.index_to_velocity(30) == 106


@pytest.mark.parametrize("piece", ["bwv846", "k545"])
def test_round_trip_keeps_every_pitch_and_onset_over_a_whole_piece(piece: str, request: pytest.FixtureRequest) -> None:
    midi = request.getfixturevalue(piece)
    ids = E.encode(midi)
    assert all(0 <= i < E.SOS for i in ids)
    decoded = E.decode(ids)
    original, restored = _onsets_by_pitch(midi), _onsets_by_pitch(decoded)
    assert restored.keys() == original.keys()
    worst = 0.0
    for pitch, starts in original.items():
        assert len(restored[pitch]) == len(starts), f"pitch {pitch}"
        worst = max(worst, float(np.abs(restored[pitch] - starts).max()))
    assert worst <= 0.020
    assert worst <= E.TIME_SHIFT_BINS[0] / 2 + 1e-9  # the encoder's stated bound
    assert midi.get_end_time() > 20  # a whole piece, not a clip


def test_error_does_not_accumulate_over_ten_minutes() -> None:
    # 0.1 s steps are not sums of time-shift bins: a greedy encoder that drops remainders drifts by seconds
    midi = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(0)
    piano.notes = [pretty_midi.Note(80, 60 + i % 12, 0.1 * i + 0.05, 0.1 * i + 0.12) for i in range(6000)]
    midi.instruments.append(piano)
    decoded = E.decode(E.encode(midi), min_note_length=0.0)
    starts = np.array([n.start for n in decoded.instruments[0].notes])
    assert len(starts) == 6000
    assert np.abs(starts - 0.05 - 0.1 * np.arange(6000)).max() < 0.008
    ends = np.array([n.end for n in decoded.instruments[0].notes])
    assert np.abs(ends - 0.12 - 0.1 * np.arange(6000)).max() < 0.008


def test_event_order_velocity_and_leading_silence() -> None:
    midi = pretty_midi.PrettyMIDI()
    violin = pretty_midi.Instrument(40)
    violin.notes = [pretty_midi.Note(100, 69, 0.5, 1.0), pretty_midi.Note(40, 72, 1.0, 2.0)]
    midi.instruments.append(violin)
    drums = pretty_midi.Instrument(0, is_drum=True)
    drums.notes = [pretty_midi.Note(100, 36, 0.0, 0.1)]
    midi.instruments.append(drums)
    ids = E.encode(midi)
    names = E.describe(ids)
    shifts = [n for n in names if n.startswith("time_shift")]
    assert names.index("note_on_69") > names.index(shifts[0])  # 0.5 s of silence before the first note is kept
    # at 1.0 s the first note ends before the next one starts; every note-on follows its velocity
    assert names.index("note_off_69") < names.index("note_on_72")
    assert names[names.index("note_on_72") - 1] == f"velocity_{E.index_to_velocity(E.velocity_to_index(40))}"
    assert not any("36" in n for n in names)  # drums are not part of the vocabulary
    decoded = E.decode(torch.tensor(ids), program=40)
    notes = decoded.instruments[0].notes
    assert decoded.instruments[0].program == 40
    assert [n.pitch for n in notes] == [69, 72]
    assert notes[0].start == pytest.approx(0.5, abs=0.008) and notes[1].start == pytest.approx(1.0, abs=0.008)
    assert notes[0].velocity == E.index_to_velocity(E.velocity_to_index(100))


def test_decode_rules_special_tokens_and_errors() -> None:
    ids = [E.SOS, E.VELOCITY_OFFSET + 10, E.NOTE_ON_OFFSET + 39, E.TIME_SHIFT_OFFSET + 0, E.NOTE_OFF_OFFSET + 39]
    ids += [E.NOTE_ON_OFFSET + 43, E.EOS, E.NOTE_ON_OFFSET + 50, E.PAD]
    notes = E.decode(ids).instruments[0].notes
    assert [n.pitch for n in notes] == [60, 64]  # the note after EOS is ignored
    assert notes[0].end == pytest.approx(E.MIN_NOTE_LENGTH)  # a 15 ms note lasts the released minimum
    assert notes[1].end - notes[1].start == pytest.approx(E.DEFAULT_NOTE_LENGTH)  # never closed
    assert notes[0].velocity == E.index_to_velocity(10)
    assert E.decode([E.NOTE_ON_OFFSET]).instruments[0].notes[0].velocity == E.DEFAULT_VELOCITY
    with pytest.raises(ValueError, match="0..242"):
        E.decode([5, 243])
    with pytest.raises(ValueError, match="1-D"):
        E.decode(np.zeros((2, 3), dtype=int))


def test_to_fixed_length() -> None:
    assert E.to_fixed_length([1, 2], 6) == [E.SOS, 1, 2, E.EOS, E.PAD, E.PAD]
    assert E.to_fixed_length([1, 2, 3, 4], 4) == [E.SOS, 1, 2, E.EOS]
    assert E.to_fixed_length([], 2) == [E.SOS, E.EOS]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(21, 108), st.floats(0, 30), st.floats(0, 3), st.integers(1, 127)),
        min_size=1,
        max_size=60,
    )
)
def test_any_notes_round_trip_within_the_bound(notes: list[tuple[int, float, float, int]]) -> None:
    midi = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(0)
    piano.notes = [pretty_midi.Note(v, p, s, s + d) for p, s, d, v in notes]
    midi.instruments.append(piano)
    original, restored = _onsets_by_pitch(midi), _onsets_by_pitch(E.decode(E.encode(midi)))
    assert restored.keys() == original.keys()
    for pitch, starts in original.items():
        assert len(restored[pitch]) == len(starts)
        assert np.abs(restored[pitch] - starts).max() <= E.TIME_SHIFT_BINS[0] / 2 + 1e-9

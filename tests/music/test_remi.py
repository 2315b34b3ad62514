"""REMI through miditok: multi-track round trips keep every note (program, pitch, onset, velocity bin)."""

from __future__ import annotations

import copy
from collections import Counter

import pretty_midi
import pytest
import torch

from music import remi
from music.corpus import load_corpus_midi

PROGRAMS = (40, 41, 42, 43)  # the chorale's voices played by a string quartet + bass


@pytest.fixture(scope="module")
def band() -> pretty_midi.PrettyMIDI:
    """Bach's chorale BWV 66.6, one GM string per voice, plus a drum track on its beats: multi-track music."""
    midi = copy.deepcopy(load_corpus_midi("bach/bwv66.6"))
    for instrument, program in zip(midi.instruments, PROGRAMS):
        instrument.program = program
    beat = 60 / midi.get_tempo_changes()[1][0]
    drums = pretty_midi.Instrument(0, is_drum=True)
    n_beats = int(midi.get_end_time() / beat)
    drums.notes = [pretty_midi.Note(100, 36 if i % 2 == 0 else 38, i * beat, i * beat + 0.1) for i in range(n_beats)]
    midi.instruments.append(drums)
    return midi


def _notes_in_beats(midi: pretty_midi.PrettyMIDI) -> Counter:
    """(program or -1 for drums, pitch, onset in 8ths of a beat) of every note."""
    notes = Counter()
    for instrument in midi.instruments:
        program = -1 if instrument.is_drum else int(instrument.program)
        for note in instrument.notes:
            onset = midi.time_to_tick(note.start) / midi.resolution
            notes[(program, note.pitch, round(onset * 8))] += 1
    return notes


def test_round_trip_keeps_every_note(band: pretty_midi.PrettyMIDI) -> None:
    tokenizer = remi.default_tokenizer()
    ids = remi.encode(band)
    assert len(ids) > 500 and all(0 <= i < remi.vocab_size() for i in ids)
    names = tokenizer.tokens(ids)
    assert names[0] == "Bar_None" and any(n.startswith("Position_") for n in names)
    assert {n for n in names if n.startswith("Program_")} == {f"Program_{p}" for p in (*PROGRAMS, -1)}
    kept = list(ids)
    decoded = remi.decode(ids)
    assert ids == kept  # miditok's decode mutates its input; ours must not
    assert _notes_in_beats(decoded) == _notes_in_beats(band)
    assert {(i.program, i.is_drum) for i in decoded.instruments} == {(p, False) for p in PROGRAMS} | {(0, True)}
    # velocities come back within one of 32 bins
    original = sorted(n.velocity for i in band.instruments for n in i.notes)
    restored = sorted(n.velocity for i in decoded.instruments for n in i.notes)
    assert max(abs(a - b) for a, b in zip(original, restored)) <= 128 // 32 + 1


def test_decode_at_the_written_tempo_keeps_seconds() -> None:
    midi = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    piano = pretty_midi.Instrument(0)
    piano.notes = [pretty_midi.Note(80, 60 + i % 7, 0.25 * i, 0.25 * i + 0.2) for i in range(40)]
    midi.instruments.append(piano)
    piano.notes += [pretty_midi.Note(70, p, 10.0, 11.0) for p in (48, 52, 55)]  # a C major chord
    ids = remi.encode(midi)
    assert "Chord_C:maj" in remi.default_tokenizer().tokens(ids)  # REMI chords: root and quality
    exact = remi.decode(ids, tempo=120)
    starts = sorted({n.start for n in exact.instruments[0].notes})
    assert starts == pytest.approx([0.25 * i for i in range(41)], abs=1e-6)
    assert exact.get_tempo_changes()[1][0] == pytest.approx(120)


def test_special_tokens_empty_input_and_errors() -> None:
    tokenizer = remi.RemiTokenizer()
    assert len(tokenizer) == tokenizer.vocab_size == remi.vocab_size()
    midi = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    piano = pretty_midi.Instrument(0)
    piano.notes = [pretty_midi.Note(80, 62, 0.0, 0.5), pretty_midi.Note(80, 65, 0.5, 1.0)]
    midi.instruments.append(piano)
    ids = tokenizer.encode(midi)
    framed = torch.tensor([tokenizer.bos_id, *ids, tokenizer.eos_id, *ids, tokenizer.pad_id])
    notes = tokenizer.decode(framed).instruments[0].notes
    assert [n.pitch for n in notes] == [62, 65]  # everything after EOS is ignored
    assert tokenizer.encode(pretty_midi.PrettyMIDI()) == []
    assert tokenizer.decode([]).instruments == []
    with pytest.raises(ValueError, match="REMI ids"):
        tokenizer.decode([tokenizer.vocab_size])
    with pytest.raises(ValueError, match="1-D"):
        tokenizer.decode(torch.tensor([ids, ids]))

"""Drum grooves: the 9-class mapping, and round trips that keep hits, velocities and offsets."""

from __future__ import annotations

import numpy as np
import pretty_midi
import pytest

from music import groove as G
from music.corpus import load_corpus_midi


def _drums_from_piece(bpm: float) -> pretty_midi.PrettyMIDI:
    """A drum track that plays the rhythm of a real piece: Bach's chorale BWV 66.6, its onsets humanised.

    Each onset of each voice becomes a hit (soprano -> closed hi-hat, alto -> snare, tenor -> toms, bass -> kick),
    its velocity from the note's pitch and its timing pushed off the grid by a fixed, varied amount.
    """
    piece = load_corpus_midi("bach/bwv66.6")
    step = G.step_seconds(bpm)
    rng = np.random.default_rng(0)
    classes = [(42, 51), (38, 46), (43, 47, 50), (36, 49)]
    drums = pretty_midi.Instrument(0, is_drum=True)
    source_step = 60 / G.midi_bpm(piece) / 4
    used = set()
    for voice, instrument in enumerate(piece.instruments[:4]):
        for note in instrument.notes:
            index = int(round(note.start / source_step))  # the piece's 16th-note position
            pitch = classes[voice][note.pitch % len(classes[voice])]
            if (index, G.PITCH_CLASS[pitch]) in used:
                continue
            used.add((index, G.PITCH_CLASS[pitch]))
            offset = float(rng.uniform(-0.45, 0.45))
            start = (index + offset) * step
            if start < 0:
                continue
            drums.notes.append(pretty_midi.Note(int(30 + note.pitch % 90), pitch, start, start + 0.05))
    midi = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    midi.instruments.append(drums)
    return midi


def test_nine_class_mapping() -> None:
    assert G.DRUM_CLASSES == (
        "kick",
        "snare",
        "closed_hihat",
        "open_hihat",
        "low_tom",
        "mid_tom",
        "high_tom",
        "crash",
        "ride",
    )
    assert G.CLASS_PITCH == (36, 38, 42, 46, 43, 47, 50, 49, 51)
    # the Groove MIDI (Roland) mapping wins over Magenta's GM mapping where they differ
    assert G.PITCH_CLASS[45] == 5 and G.PITCH_CLASS[48] == 6 and G.PITCH_CLASS[58] == 4
    assert G.PITCH_CLASS[35] == 0 and G.PITCH_CLASS[39] == 1 and G.PITCH_CLASS[82] == 8  # GM fallback
    for index, pitches in enumerate(G.ROLAND_PITCHES):
        assert all(G.PITCH_CLASS[p] == index for p in pitches)


@pytest.mark.parametrize("bpm", [120.0, 97.0])
def test_midi_groove_midi_keeps_hits_velocities_offsets(bpm: float) -> None:
    midi = _drums_from_piece(bpm)
    notes = sorted((n.start, n.pitch, n.velocity) for n in midi.instruments[0].notes)
    assert len(notes) > 100
    groove = G.midi_to_groove(midi)  # tempo read from the MIDI
    assert groove.shape[0] == 3 and groove.shape[2] == 9 and groove.dtype == np.float32
    assert int(groove[G.HITS].sum()) == len(notes)
    assert groove[G.OFFSETS].min() >= -0.5 and groove[G.OFFSETS].max() < 0.5
    back = G.groove_to_midi(groove, bpm)
    restored = sorted((n.start, n.pitch, n.velocity) for n in back.instruments[0].notes)
    assert back.instruments[0].is_drum and len(restored) == len(notes)
    for (t0, p0, v0), (t1, p1, v1) in zip(notes, restored):
        assert p1 == p0 and v1 == v0  # the test's pitches are the classes' own
        assert t1 == pytest.approx(t0, abs=1e-5)
    assert G.midi_bpm(back) == pytest.approx(bpm)


def test_groove_midi_groove_is_exact() -> None:
    rng = np.random.default_rng(1)
    steps = 64
    hits = (rng.random((steps, 9)) < 0.25).astype(np.float32)
    velocities = hits * rng.integers(1, 128, (steps, 9)) / 127
    offsets = hits * rng.uniform(-0.5, 0.49, (steps, 9))
    groove = np.stack([hits, velocities, offsets]).astype(np.float32)
    groove[:, 0] = 0  # an offset of -0.5 on step 0 would fall before time 0
    groove[G.HITS, -1, 0] = 1.0  # fixes the length
    groove[G.VELOCITIES, -1, 0] = 0.5
    groove[G.OFFSETS, -1, 0] = 0.0
    back = G.midi_to_groove(G.groove_to_midi(groove, bpm=110), bpm=110)
    assert back.shape == groove.shape
    np.testing.assert_array_equal(back[G.HITS], groove[G.HITS])
    np.testing.assert_allclose(back[G.VELOCITIES], np.round(groove[G.VELOCITIES] * 127) / 127, atol=1e-6)
    np.testing.assert_allclose(back[G.OFFSETS], groove[G.OFFSETS], atol=1e-4)


def test_grid_rules_and_errors() -> None:
    midi = pretty_midi.PrettyMIDI(initial_tempo=120)  # 16th = 0.125 s
    drums = pretty_midi.Instrument(0, is_drum=True)
    drums.notes = [
        pretty_midi.Note(50, 38, 0.25, 0.3),  # step 2, on the grid
        pretty_midi.Note(90, 40, 0.26, 0.3),  # step 2 again, same class (snare rim), louder: kept
        pretty_midi.Note(70, 36, 0.0625 + 0.125, 0.3),  # exactly half-way between steps 1 and 2 -> step 2, -0.5
        pretty_midi.Note(70, 42, 10.0, 10.1),  # beyond `steps`: left out
    ]
    piano = pretty_midi.Instrument(0)
    piano.notes = [pretty_midi.Note(90, 60, 0.0, 1.0)]  # not drums: ignored
    midi.instruments += [drums, piano]
    groove = G.midi_to_groove(midi, steps=8)
    assert groove.shape == (3, 8, 9)
    assert groove[G.HITS].sum() == 2
    assert groove[G.VELOCITIES, 2, 1] == pytest.approx(90 / 127)
    assert groove[G.OFFSETS, 2, 1] == pytest.approx(0.08)
    assert groove[G.OFFSETS, 2, 0] == pytest.approx(-0.5)
    drums.notes.append(pretty_midi.Note(70, 100, 0.5, 0.6))
    with pytest.raises(ValueError, match="drum pitch 100"):
        G.midi_to_groove(midi)
    assert G.midi_to_groove(midi, steps=8, drop_unknown=True)[G.HITS].sum() == 2
    with pytest.raises(ValueError, match=r"\[3, T, 9\]"):
        G.groove_to_midi(np.zeros((3, 4, 8)), bpm=120)


def _swung_groove(bpm: float, swing: float) -> pretty_midi.PrettyMIDI:
    """Two bars of a swung ride / hi-hat groove: every second 8th note lands ``swing`` of the beat late (2/3 for a
    triplet swing), kick on 1 and 3 slightly early, snare on 2 and 4 laid back."""
    beat = 60.0 / bpm
    drums = pretty_midi.Instrument(0, is_drum=True)
    for k in range(8):
        start = k * beat
        drums.notes.append(pretty_midi.Note(100, 51, start, start + 0.05))  # ride on the beat
        drums.notes.append(pretty_midi.Note(70, 42, start + swing * beat, start + swing * beat + 0.05))  # swung 8th
        if k % 2 == 0:
            drums.notes.append(pretty_midi.Note(110, 36, start + 0.03 * beat + 0.0, start + 0.1))
        else:
            drums.notes.append(pretty_midi.Note(90, 38, start + 0.06 * beat, start + 0.1))
    drums.notes[0].start = 0.0
    midi = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    midi.instruments.append(drums)
    return midi


def test_groovae_convention_round_trip_on_a_swung_groove() -> None:
    bpm = 132.0
    midi = _swung_groove(bpm, 2 / 3)
    groove = G.midi_to_groove(midi)
    # the swung 8th (2/3 of a beat = 2.667 sixteenths) sits on step 3 of each beat, 1/3 step early
    swung = groove[G.OFFSETS, 3::4, G.PITCH_CLASS[42]]
    np.testing.assert_allclose(swung, -1 / 3, atol=1e-5)
    groovae = G.to_groovae(groove[G.OFFSETS])
    # GrooVAE: 2 * (grid - onset) / step, so an early hit is positive and twice as large; a late one negative
    np.testing.assert_allclose(groovae[3::4, G.PITCH_CLASS[42]], 2 / 3, atol=1e-5)
    np.testing.assert_allclose(groovae[4::8, G.PITCH_CLASS[38]], -2 * 0.06 * 4, atol=1e-5)  # laid-back snare
    assert groovae.min() >= -1.0 and groovae.max() <= 1.0
    back = G.from_groovae(groovae)
    np.testing.assert_array_equal(back, groove[G.OFFSETS])  # exact: only powers of two
    restored = np.stack([groove[G.HITS], groove[G.VELOCITIES], back])
    out = G.groove_to_midi(restored, bpm)
    onsets = sorted((round(n.start, 5), G.PITCH_CLASS[n.pitch]) for n in out.instruments[0].notes)
    truth = sorted((round(n.start, 5), G.PITCH_CLASS[n.pitch]) for n in midi.instruments[0].notes)
    assert onsets == truth
    # a tensor works the same way
    import torch

    tensor = torch.from_numpy(groove[G.OFFSETS])
    assert torch.equal(G.from_groovae(G.to_groovae(tensor)), tensor)


@pytest.mark.parametrize(("bpm", "step"), [(100.0, 15), (133.0, 2), (150.0, 21)])
def test_ties_at_half_steps_go_to_the_later_step_despite_float_noise(bpm: float, step: int) -> None:
    """(step + 0.5) * step_seconds / step_seconds is a hair below the half step for these tempos."""
    seconds = G.step_seconds(bpm)
    onset = (step + 0.5) * seconds
    assert onset / seconds < step + 0.5  # the noise this rule is about
    midi = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    drums = pretty_midi.Instrument(0, is_drum=True)
    drums.notes = [pretty_midi.Note(80, 38, onset, onset + 0.05)]
    midi.instruments.append(drums)
    groove = G.midi_to_groove(midi, bpm=bpm)
    assert groove.shape[1] == step + 2 and groove[G.HITS, step + 1, 1] == 1.0
    assert groove[G.OFFSETS, step + 1, 1] == -0.5
    assert G.grid_position(step + 0.5 - 1e-6) == (step, pytest.approx(0.5 - 1e-6, abs=1e-9))
    index, offset = G.grid_position(3.4999999999)  # within the tolerance: a tie
    assert index == 4 and offset == -0.5
    assert G.grid_position(0.49999999)[1] < 0.5 and np.float32(G.grid_position(0.49999999)[1]) < 0.5

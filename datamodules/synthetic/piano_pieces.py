"""Excerpts of real piano music (music21 corpus) as two-hand performances, for the synthetic top-view piano datasets.

Works: the corpus' keyboard pieces (Bach WTC I Prelude in C, Joplin's Maple Leaf Rag, Mozart K.545, Clara Schumann's
Polonaise op. 1 no. 1, C.P.E. Bach H.186, Schoenberg op. 19) plus Bach chorales played on the piano (soprano and alto
in the right hand, tenor and bass in the left). A score's upper staff (or voices) is the right hand, the lower the
left. An excerpt is a window of the work starting at a note onset, slightly re-tempoed (x0.9-1.1) and transposed
(+-2 semitones, kept on the 88 keys), with a human touch: velocities follow a phrase contour plus per-note spread,
onsets move by a few milliseconds; times are snapped to the MIDI file's tick grid. Time 0 is the first key press
(Audeo trims the silence before it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from music.corpus import load_corpus_midi

PIANO_WORKS = (
    "bach/bwv846",
    "joplin/maple_leaf_rag",
    "mozart/k545",
    "schumann_clara/polonaise_op1n1",
    "cpebach/h186",
    "schoenberg/opus19",
)
CHORALES = ("bach/bwv66.6", "bach/bwv1.6", "bach/bwv10.7", "bach/bwv101.7", "bach/bwv104.6", "bach/bwv11.6")
TICKS_PER_S = 960  # 480 ticks per beat at 120 bpm: note times on this grid survive writing the MIDI file exactly,
# and never fall on half a frame at 22 or 25 fps (so rolls from the file equal rolls from memory)
QUICK_WORKS = ("mozart/k545", "schoenberg/opus19", "bach/bwv66.6", "bach/bwv10.7")  # parse in < 1 s each


def works(minutes: float) -> tuple[str, ...]:
    """The works to draw excerpts from: quick-to-parse ones for tiny datasets (<= 0.5 min), else all."""
    return QUICK_WORKS if minutes <= 0.5 else PIANO_WORKS + CHORALES


@dataclass
class Excerpt:
    """A two-hand excerpt: ``midi`` has instruments "Right hand" and "Left hand" (GM piano), times from 0."""

    midi: Any
    work: str
    source_start_s: float
    tempo_scale: float
    transpose: int

    @property
    def duration(self) -> float:
        return max((n.end for i in self.midi.instruments for n in i.notes), default=0.0)

    def hand(self, side: str) -> Any:
        """A PrettyMIDI holding only the ``side`` ("right" / "left") hand."""
        import pretty_midi

        out = pretty_midi.PrettyMIDI()
        out.instruments = [i for i in self.midi.instruments if i.name.lower().startswith(side)]
        return out

    def meta(self) -> dict[str, Any]:
        return {
            "work": self.work,
            "source_start_s": round(self.source_start_s, 3),
            "tempo_scale": round(self.tempo_scale, 4),
            "transpose": self.transpose,
        }


def _hands(midi: Any, work: str) -> tuple[list[Any], list[Any]]:
    """Notes of the right and left hand: instruments split by mean pitch (upper half = right hand)."""
    parts = [i for i in midi.instruments if not i.is_drum and i.notes]
    if not parts:
        raise RuntimeError(f"piano_pieces: corpus work {work!r} has no notes")
    if len(parts) == 1:  # one staff: split at middle C
        notes = parts[0].notes
        return [n for n in notes if n.pitch >= 60], [n for n in notes if n.pitch < 60]
    parts.sort(key=lambda i: -np.mean([n.pitch for n in i.notes]))
    upper = (len(parts) + 1) // 2
    right = [n for i in parts[:upper] for n in i.notes]
    left = [n for i in parts[upper:] for n in i.notes]
    return right, left


def _merge_unisons(notes: list[Any]) -> list[Any]:
    """One hand cannot hold a key twice: overlapping notes of one pitch (voices in unison) become one note. (A MIDI
    file could not keep them apart either: the first note-off would end both.)"""
    merged: list[Any] = []
    last: dict[int, Any] = {}
    for note in sorted(notes, key=lambda n: (n.start, n.pitch)):
        previous = last.get(note.pitch)
        if previous is not None and note.start < previous.end:
            previous.end = max(previous.end, note.end)
            previous.velocity = max(previous.velocity, note.velocity)
            continue
        merged.append(note)
        last[note.pitch] = note
    return merged


def excerpt(work: str, seconds: float, rng: np.random.Generator) -> Excerpt:
    """A window of about ``seconds`` seconds (after re-tempo) of corpus ``work``, performed by two hands."""
    import pretty_midi

    source = load_corpus_midi(work)
    right, left = _hands(source, work)
    all_notes = right + left
    end = max(n.end for n in all_notes)
    scale = float(rng.uniform(0.9, 1.1))  # > 1 plays faster
    span = seconds * scale
    onsets = np.unique([n.start for n in all_notes])
    candidates = onsets[onsets <= max(end - span, 0.0)]
    start = float(candidates[rng.integers(len(candidates))]) if len(candidates) else float(onsets[0])
    low = min(n.pitch for n in all_notes)
    high = max(n.pitch for n in all_notes)
    shifts = [s for s in range(-2, 3) if low + s >= 21 and high + s <= 108] or [0]
    transpose = int(rng.choice(shifts))
    contour_period = rng.uniform(4.0, 9.0)
    base = rng.uniform(62, 80)
    midi = pretty_midi.PrettyMIDI(resolution=480, initial_tempo=120.0)
    for name, notes in (("Right hand", right), ("Left hand", left)):
        instrument = pretty_midi.Instrument(program=0, name=name)
        for n in sorted(notes, key=lambda n: (n.start, n.pitch)):
            if n.start < start - 1e-6 or n.start >= start + span:
                continue
            t0 = (n.start - start) / scale
            t1 = (min(n.end, start + span) - start) / scale
            t0 = max(0.0, t0 + float(rng.normal(0.0, 0.006))) if t0 > 0 else 0.0
            t1 = max(t1 + float(rng.normal(0.0, 0.006)), t0 + 0.05)
            t0, t1 = round(t0 * TICKS_PER_S) / TICKS_PER_S, round(t1 * TICKS_PER_S) / TICKS_PER_S
            velocity = (
                base + 12 * np.sin(2 * np.pi * t0 / contour_period) + rng.normal(0, 7) + (6 if name[0] == "R" else 0)
            )
            pitch = int(np.clip(n.pitch + transpose, 21, 108))
            instrument.notes.append(pretty_midi.Note(int(np.clip(velocity, 25, 120)), pitch, t0, t1))
        instrument.notes = _merge_unisons(instrument.notes)
        midi.instruments.append(instrument)
    first = min((n.start for i in midi.instruments for n in i.notes), default=0.0)
    for n in (n for i in midi.instruments for n in i.notes):  # time 0 = the first key press
        n.start, n.end = n.start - first, n.end - first
    return Excerpt(midi=midi, work=work, source_start_s=start, tempo_scale=scale, transpose=transpose)


def performance(works_: tuple[str, ...], seconds: float, rng: np.random.Generator) -> Excerpt:
    """An excerpt of a work drawn from ``works_``; works shorter than ``seconds`` give shorter excerpts."""
    work = str(works_[int(rng.integers(len(works_)))])
    return excerpt(work, seconds, rng)

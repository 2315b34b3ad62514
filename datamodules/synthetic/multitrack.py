"""Synthetic multi-track MIDI in the Lakh MIDI Dataset's tree (docs/DATASETS.md §14): songs of drums plus a piano or
guitar comping on the drum hits over the harmony of a Bach chorale (and an electric bass).

Writes ``lmd_full/<h>/<md5>.mid`` (``md5`` of the file's bytes, ``h`` its first hex digit, as Lakh names its files)
and ``SYNTHETIC.json`` (per file: genre, tempo, family, program, chorale, and why a file is not a usable song).

Rules: the drums are :func:`datamodules.synthetic.drums.drum_track` grooves (8 pattern families, fills closing every
4-bar phrase); the chorale's quarter note is stretched to the beat and transposed; on every kick or snare hit the
comping instrument plays the chord of the chorale's upper voices sounding at that beat, held until its next hit
(at most a beat), louder on louder hits. A piano (GM 0, 1, 2, 4 or 5) adds the chorale's bass note on kicks; a guitar
(GM 24, 25, 26, 27 or 29) strums (its chord's notes 12 ms apart, downwards on kicks, upwards on snares). The bass
(GM 33) plays the chorale's bass on every beat. Like a real Lakh tree, some files are not usable songs for
Drum2Music: every 7th is in 3/4, has no drums, or has no piano or guitar.
"""

from __future__ import annotations

import hashlib
import io
import zlib
from pathlib import Path

import numpy as np

from datamodules.synthetic.dance_music import chorale_harmony, sounding
from datamodules.synthetic.drums import GENRE_PATTERNS, KICK, SNARE, drum_track
from datamodules.synthetic.marker import write_marker

PIANOS = (0, 1, 2, 4, 5)
GUITARS = (24, 25, 26, 27, 29)
BASS = 33
CHORALES = ("bach/bwv66.6", "bach/bwv269", "bach/bwv347", "bach/bwv153.1", "bach/bwv86.6")
UNUSABLE = ("3/4", "no drums", "no comping")


def _chord(voices: list[np.ndarray], beat: float, low: int, transpose: int) -> list[int]:
    """The upper voices sounding at ``beat``, moved by octaves into ``low`` .. ``low + 23``."""
    pitches = [sounding(v, beat) for v in voices[:-1]]
    return sorted({low + (p + transpose - low) % 24 for p in pitches if p is not None})


def song(genre: str, bars: int, bpm: float, family: str, work: str, rng: np.random.Generator, unusable: str = ""):
    """A ``pretty_midi.PrettyMIDI`` song: drums, bass and the comping ``family`` (``piano`` / ``guitar``)."""
    import pretty_midi

    from music.groove import groove_to_midi

    drums = drum_track(genre, bars, bpm, rng)
    step = drums.step_seconds
    midi = groove_to_midi(drums.groove, bpm)
    voices, length = chorale_harmony(work)
    transpose = int(rng.integers(-5, 7))
    program = int(rng.choice(PIANOS if family == "piano" else GUITARS))
    comp = pretty_midi.Instrument(program=program, name=family)
    bass = pretty_midi.Instrument(program=BASS, name="bass")
    hits = drums.groove[0]
    comp_steps = np.flatnonzero((hits[:, KICK] > 0) | (hits[:, SNARE] > 0))
    for k, s in enumerate(comp_steps):
        beat = (s / 4.0) % max(length, 1.0)
        start = float(s * step + drums.groove[2, s, KICK if hits[s, KICK] else SNARE] * step)
        following = comp_steps[k + 1] if k + 1 < len(comp_steps) else s + 4
        end = start + min(following - s, 4) * step * 0.95
        loud = float(drums.groove[1, s, KICK if hits[s, KICK] else SNARE])
        velocity = int(np.clip(40 + 60 * loud + rng.normal(0, 4), 1, 127))
        if family == "piano":
            chord = _chord(voices, beat, 55, transpose)
            if hits[s, KICK]:
                low = sounding(voices[-1], beat)
                if low is not None:
                    chord = [36 + (low + transpose - 36) % 12, *chord]
            for pitch in chord:
                comp.notes.append(pretty_midi.Note(velocity, int(pitch), start, end))
        else:
            chord = _chord(voices, beat, 52, transpose)
            order = chord if hits[s, KICK] else chord[::-1]
            for n, pitch in enumerate(order):
                comp.notes.append(pretty_midi.Note(velocity, int(pitch), start + 0.012 * n, end))
    for beat_index in range(bars * 4):
        low = sounding(voices[-1], beat_index % max(length, 1.0))
        if low is not None:
            start = beat_index * 4 * step
            pitch = 28 + (low + transpose - 28) % 24
            bass.notes.append(pretty_midi.Note(int(rng.integers(80, 105)), pitch, start, start + 3 * step))
    if unusable == "no drums":
        midi.instruments = []
    midi.instruments.append(bass)
    if unusable != "no comping":
        midi.instruments.append(comp)
    if unusable == "3/4":
        midi.time_signature_changes = [pretty_midi.TimeSignature(3, 4, 0.0)]
    else:
        midi.time_signature_changes = [pretty_midi.TimeSignature(4, 4, 0.0)]
    return midi, program


def write(out: Path, minutes: float, seed: int) -> Path:
    """Write a synthetic Lakh-style tree of about ``minutes`` minutes of songs to ``out``; returns ``out``."""
    out = Path(out)
    rng = np.random.default_rng([seed, zlib.crc32(b"multitrack")])
    genres = sorted(GENRE_PATTERNS)
    total, spent, index = minutes * 60.0, 0.0, 0
    files = {}
    while spent < total or index < 7:
        genre = genres[int(rng.integers(len(genres)))]
        bpm = float(rng.uniform(80.0, 140.0))
        bars = int(rng.integers(8, 25))
        family = ("piano", "guitar")[index % 2] if index < 6 else str(rng.choice(["piano", "guitar"]))
        unusable = UNUSABLE[(index // 7) % len(UNUSABLE)] if index % 7 == 6 else ""
        work = CHORALES[int(rng.integers(len(CHORALES)))]
        midi, program = song(genre, bars, bpm, family, work, rng, unusable)
        buffer = io.BytesIO()
        midi.write(buffer)
        data = buffer.getvalue()
        md5 = hashlib.md5(data).hexdigest()
        path = out / "lmd_full" / md5[0] / f"{md5}.mid"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        files[f"lmd_full/{md5[0]}/{md5}.mid"] = {
            "genre": genre,
            "bpm": round(bpm, 4),
            "bars": bars,
            "family": family,
            "program": program,
            "work": work,
            "unusable": unusable or None,
        }
        spent += bars * 4 * 60.0 / bpm
        index += 1
    write_marker(
        out,
        "multitrack",
        minutes,
        seed,
        note="SYNTHETIC multi-track MIDI: drum grooves with piano or guitar comping on the drum hits over music21 "
        "chorale harmony, in the Lakh lmd_full layout (datamodules/synthetic/multitrack.py). Not real songs.",
        files=files,
    )
    return out


__all__ = ["GUITARS", "PIANOS", "song", "write"]

"""Music for the synthetic dancers: a drum groove (:mod:`datamodules.synthetic.drums`) plus electric bass and
electric piano playing the harmony of a Bach chorale, with the chorale's quarter note stretched to the dance beat.

The bass plays the chorale's bass voice on every beat (with an octave on the off-beat in busier genres); the piano
plays the upper voices as chords on the back beats (2 and 4) or as off-beat stabs (house / disco styles). The beat
times are exact (``beats``), which is what the dance rules and the beat checks use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datamodules.synthetic import repertoire
from datamodules.synthetic.drums import DrumTrack, drum_track

BASS, PIANO = 33, 4  # GM: Electric Bass (finger), Electric Piano 1
BUSY = {"BR", "PO", "LO", "HO", "WA"}
STABS = {"HO", "WA", "PO"}


@dataclass
class DanceMusic:
    """The rendered piece: MIDI (drums + bass + piano), audio, beat and downbeat times, the drum track."""

    midi: object
    audio: np.ndarray
    sample_rate: int
    bpm: float
    beats: np.ndarray
    downbeats: np.ndarray
    drums: DrumTrack
    work: str


def chorale_harmony(work: str) -> tuple[list[np.ndarray], float]:
    """The chorale's voices (``[N, 4]`` start, end, pitch, velocity in *beats*) and its length in beats."""
    from music.corpus import load_corpus_midi

    midi = load_corpus_midi(work)
    _, tempi = midi.get_tempo_changes()
    quarter = 60.0 / (float(tempi[0]) if len(tempi) else 120.0)
    voices = [v.copy() for v in repertoire.work_parts(work)]
    for v in voices:
        v[:, :2] /= quarter
    start = min(float(v[:, 0].min()) for v in voices)
    for v in voices:
        v[:, :2] -= start
    return voices, max(float(v[:, 1].max()) for v in voices)


def sounding(voice: np.ndarray, beat: float) -> int | None:
    """Pitch of ``voice`` sounding at ``beat`` (None in a rest)."""
    hit = np.flatnonzero((voice[:, 0] <= beat + 1e-6) & (voice[:, 1] > beat + 1e-6))
    return int(voice[hit[0], 2]) if len(hit) else None


def compose(genre: str, bpm: float, seconds: float, work: str, rng: np.random.Generator, sample_rate: int):
    """About ``seconds`` of dance music for AIST++ ``genre`` at ``bpm`` on the harmony of chorale ``work``."""
    import pretty_midi

    from music.groove import groove_to_midi
    from music.synth import render

    beat_s = 60.0 / bpm
    bars = max(2, int(round(seconds / (4 * beat_s))))
    drums = drum_track(genre, bars, bpm, rng)
    midi = groove_to_midi(drums.groove, bpm)
    voices, length = chorale_harmony(work)
    transpose = int(rng.integers(-5, 7))
    bass = pretty_midi.Instrument(program=BASS, name="bass")
    piano = pretty_midi.Instrument(program=PIANO, name="piano")
    for beat in range(bars * 4):
        source = beat % max(int(length), 1)  # loop the chorale when the piece is longer
        time = beat * beat_s
        low = sounding(voices[-1], source)
        if low is not None:
            pitch = 28 + (low + transpose - 28) % 24  # E1..D#3
            bass.notes.append(pretty_midi.Note(int(rng.integers(90, 110)), pitch, time, time + 0.45 * beat_s))
            if genre in BUSY:
                bass.notes.append(pretty_midi.Note(70, pitch + 12, time + 0.5 * beat_s, time + 0.8 * beat_s))
        chord = [sounding(v, source) for v in voices[:-1]]
        chord = sorted({55 + (p + transpose - 55) % 24 for p in chord if p is not None})
        offsets = (0.5,) if genre in STABS else ((0.0,) if beat % 2 == 1 else ())
        for offset in offsets:
            for pitch in chord:
                start = time + offset * beat_s
                piano.notes.append(pretty_midi.Note(int(rng.integers(60, 80)), pitch, start, start + 0.35 * beat_s))
    midi.instruments.extend([bass, piano])
    audio = render(midi, sample_rate)
    end = bars * 4 * beat_s
    audio = audio[: int(round((end + 1.0) * sample_rate))]
    audio = (audio * (0.8 / max(float(np.abs(audio).max()), 1e-6))).astype(np.float32)
    beats = np.arange(bars * 4) * beat_s
    return DanceMusic(midi, audio, sample_rate, float(bpm), beats, beats[::4], drums, work)


__all__ = ["DanceMusic", "chorale_harmony", "compose"]

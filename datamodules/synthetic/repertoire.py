"""Real music for the synthetic performers: parts of music21-corpus works, fitted to each instrument's range.

Works come through :func:`music.corpus.load_corpus_midi` (converted once and cached). Each part is a float array
``[N, 4]`` of ``(start_s, end_s, pitch, velocity)``, monophonic where the score part is. :func:`arrange` picks an
excerpt, a tempo and a transposition and gives each requested instrument one part moved by whole octaves into its
range (so the pitch classes, i.e. the harmony, are those of the work). Chorales are small and parse fast; string
quartet movements are used at larger sizes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datamodules.synthetic.instruments import get

CHORALES = (
    "bach/bwv66.6", "bach/bwv10.7", "bach/bwv101.7", "bach/bwv102.7", "bach/bwv103.6", "bach/bwv104.6",
    "bach/bwv108.6", "bach/bwv11.6", "bach/bwv110.7", "bach/bwv111.6", "bach/bwv113.8", "bach/bwv114.7",
    "bach/bwv115.6", "bach/bwv116.6", "bach/bwv117.4", "bach/bwv119.9", "bach/bwv12.7", "bach/bwv120.6",
    "bach/bwv121.6", "bach/bwv122.6", "bach/bwv123.6", "bach/bwv124.6", "bach/bwv125.6", "bach/bwv126.6",
)  # fmt: skip
QUARTETS = ("mozart/k80/movement1", "haydn/opus1no1/movement1", "mozart/k156/movement1")


@dataclass
class Excerpt:
    """An arranged excerpt: one part per instrument, the corpus work it came from and how it was changed."""

    work: str
    parts: list[np.ndarray]
    instruments: list[str]
    duration: float
    tempo_scale: float
    transpose: int


def work_parts(name: str) -> list[np.ndarray]:
    """The non-empty parts of corpus work ``name``: ``[N, 4]`` arrays (start, end, pitch, velocity), score order."""
    from music.corpus import load_corpus_midi

    midi = load_corpus_midi(name)
    parts = []
    for instrument in midi.instruments:
        if instrument.is_drum or not instrument.notes:
            continue
        notes = np.array([(n.start, n.end, n.pitch, n.velocity) for n in instrument.notes], dtype=np.float64)
        parts.append(notes[np.lexsort((-notes[:, 2], notes[:, 0]))])
    if not parts:
        raise RuntimeError(f"corpus work {name} has no notes")
    return parts


def monophonic(notes: np.ndarray) -> np.ndarray:
    """Keep the highest note of each chord and cut notes at the next onset (a solo line one player can play)."""
    if len(notes) == 0:
        return notes
    notes = notes[np.lexsort((-notes[:, 2], notes[:, 0]))]
    keep = np.r_[True, np.diff(notes[:, 0]) > 1e-6]
    notes = notes[keep].copy()
    notes[:-1, 1] = np.minimum(notes[:-1, 1], notes[1:, 0])
    return notes[notes[:, 1] - notes[:, 0] > 1e-3]


def fit_range(notes: np.ndarray, low: int, high: int) -> np.ndarray:
    """Move a part by the whole number of octaves that puts most notes in [low, high]; fold the rest by octaves."""
    pitch = notes[:, 2]
    shifts = np.arange(-4, 5) * 12
    inside = [np.sum((pitch + s >= low) & (pitch + s <= high)) - 1e-3 * abs(s) for s in shifts]
    out = notes.copy()
    out[:, 2] = pitch + shifts[int(np.argmax(inside))]
    while np.any(out[:, 2] < low):
        out[out[:, 2] < low, 2] += 12
    while np.any(out[:, 2] > high):
        out[out[:, 2] > high, 2] -= 12
    return out


def arrange(work: str, instruments: list[str], duration: float, rng: np.random.Generator) -> Excerpt:
    """An excerpt of ``work`` about ``duration`` seconds long with one monophonic part per instrument.

    The tempo is scaled at random (0.65-1.1x of the score's), the whole excerpt transposed by -5..+6 semitones, the
    start drawn at random; instruments beyond the work's number of parts double its parts in turn."""
    parts = [monophonic(p) for p in work_parts(work)]
    tempo_scale = float(rng.uniform(0.65, 1.1))
    transpose = int(rng.integers(-5, 7))
    end = max(float(p[:, 1].max()) for p in parts) / tempo_scale
    start = float(rng.uniform(0, max(end - duration, 0.0)))
    onsets = np.concatenate([p[:, 0] for p in parts]) / tempo_scale
    after = onsets[onsets >= start]
    start = float(after.min()) if len(after) else 0.0  # begin on a note
    # voices from high to low go to instruments from high to low (a tuba never plays the soprano line)
    by_register = sorted(range(len(instruments)), key=lambda k: -(get(instruments[k]).low + get(instruments[k]).high))
    voice = {k: round(r * (len(parts) - 1) / max(len(instruments) - 1, 1)) for r, k in enumerate(by_register)}
    if len(instruments) > len(parts):
        voice = {k: r % len(parts) for r, k in enumerate(by_register)}
    if len(instruments) == 1:  # a solo plays any voice (moved into its range)
        voice = {0: int(rng.integers(len(parts)))}
    chosen = []
    for k, key in enumerate(instruments):
        notes = parts[voice[k]].copy()
        notes[:, :2] = notes[:, :2] / tempo_scale - start
        notes = notes[(notes[:, 0] >= 0) & (notes[:, 0] < duration)]
        notes[:, 1] = np.minimum(notes[:, 1], duration)
        notes[:, 2] += transpose
        instrument = get(key)
        notes = fit_range(notes, instrument.low, instrument.high) if len(notes) else notes
        notes[:, 3] = np.clip(notes[:, 3] + rng.normal(0, 6, len(notes)), 40, 120).round()
        chosen.append(notes)
    length = max((float(p[:, 1].max()) for p in chosen if len(p)), default=0.0)
    return Excerpt(work, chosen, list(instruments), min(duration, length), tempo_scale, transpose)


def pick_work(rng: np.random.Generator, index: int, large: bool) -> str:
    """The corpus work for item ``index``: chorales always; string-quartet movements too when ``large``."""
    if large and index % 3 == 2:
        return QUARTETS[int(rng.integers(len(QUARTETS)))]
    return CHORALES[int(rng.integers(len(CHORALES)))]


def to_pretty_midi(parts: list[np.ndarray], programs: list[int]):  # -> pretty_midi.PrettyMIDI
    """A multi-track ``PrettyMIDI`` with one instrument per part (in order)."""
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    for notes, program in zip(parts, programs):
        track = pretty_midi.Instrument(program=int(program), name=pretty_midi.program_to_instrument_name(int(program)))
        track.notes = [
            pretty_midi.Note(velocity=int(v), pitch=int(p), start=float(s), end=float(e)) for s, e, p, v in notes
        ]
        midi.instruments.append(track)
    return midi


__all__ = ["CHORALES", "QUARTETS", "Excerpt", "arrange", "fit_range", "monophonic", "pick_work", "to_pretty_midi",
           "work_parts"]  # fmt: skip

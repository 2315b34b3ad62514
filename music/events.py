"""Foley Music's MIDI performance events (Foley Music §3.1; Oore et al.'s performance encoding, Performance RNN).

Vocabulary, identical to the released Foley Music code (``core/performance_rnn/sequence.py`` plus the dataset's
special tokens):

====================  =========  ==========================================================================
event                 ids        value
====================  =========  ==========================================================================
note-on               0-87       MIDI pitch 21-108 (``id + 21``)
note-off              88-175     MIDI pitch 21-108 (``id - 88 + 21``)
velocity              176-207    32 bins over velocities 21-108 (``VELOCITY_BINS``; see below)
time-shift            208-239    advance by ``TIME_SHIFT_BINS[k] = 1.15**k / 65`` s (15.4 ms ... 1.17 s)
SOS / EOS / PAD       240-242    start / end of sequence, padding
====================  =========  ==========================================================================

Velocities are quantised as in the released code: ``VELOCITY_BINS = arange(21, 109, 88 / 31)`` (31 values,
21.0 ... 106.2); a velocity is clamped to 21-108 and encoded as ``searchsorted(VELOCITY_BINS, v)`` (0-31, i.e. rounded
up to the next bin) and decoded as ``int(VELOCITY_BINS[min(index, 30)])``. Every note-on is preceded by its velocity
event. Decoding follows the released code too: velocity 64 until a velocity event, a note-off ends the last open note
of its pitch but no sooner than ``min_note_length`` (0.25 s) after its start, and a note never closed lasts
``default_note_length`` (1.0 s).

Three deliberate differences from the released *encoder* (the vocabulary and the decoder are unchanged):

- Time-shifts are chosen against the true event time, tracking the time the decoder will reach. The released code
  splits every inter-event interval greedily and drops each remainder below 15.4 ms, so its error grows along a
  piece; here every decoded event lies within ``TIME_SHIFT_BINS[0] / 2`` (7.7 ms) of its true time, however long
  the piece.
- Silence before the first note is encoded (the released encoder starts at the first note, which moves clips that
  begin with a rest out of sync with their video).
- The notes of every non-drum track are merged into one stream; the released encoder reads ``instruments[0]`` only,
  so a file whose part is split over several tracks (or whose first track is empty) would lose notes there. For the
  one-track MIDI of a URMP or MUSIC performance both read the same notes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

PITCH_LOW = 21
PITCH_HIGH = 108
NUM_PITCHES = PITCH_HIGH - PITCH_LOW + 1  # 88
NUM_VELOCITIES = 32
NUM_TIME_SHIFTS = 32

NOTE_ON_OFFSET = 0
NOTE_OFF_OFFSET = NOTE_ON_OFFSET + NUM_PITCHES  # 88
VELOCITY_OFFSET = NOTE_OFF_OFFSET + NUM_PITCHES  # 176
TIME_SHIFT_OFFSET = VELOCITY_OFFSET + NUM_VELOCITIES  # 208
SOS = TIME_SHIFT_OFFSET + NUM_TIME_SHIFTS  # 240
EOS = SOS + 1  # 241
PAD = EOS + 1  # 242
VOCAB_SIZE = PAD + 1  # 243

TIME_SHIFT_BINS = 1.15 ** np.arange(NUM_TIME_SHIFTS) / 65  # seconds
VELOCITY_BINS = np.arange(21, 109, 88 / 31)  # 31 values, as in the released code
DEFAULT_VELOCITY = 64
MIN_NOTE_LENGTH = 0.25  # seconds (half a beat at 120 bpm)
DEFAULT_NOTE_LENGTH = 1.0  # seconds (two beats at 120 bpm)

_ON, _OFF, _VELOCITY = 2, 0, 1


def velocity_to_index(velocity: float) -> int:
    """Velocity bin 0-31 of a MIDI velocity (clamped to 21-108), as the released encoder does."""
    velocity = min(max(float(velocity), 21.0), 108.0)
    return int(np.searchsorted(VELOCITY_BINS, velocity))


def index_to_velocity(index: int) -> int:
    """MIDI velocity decoded from bin ``index`` (0-31)."""
    return int(VELOCITY_BINS[min(int(index), len(VELOCITY_BINS) - 1)])


def time_advance() -> np.ndarray:
    """Seconds each event id moves the clock (``[VOCAB_SIZE]``: the bin of a time shift, 0 for every other id)."""
    advance = np.zeros(VOCAB_SIZE, dtype=np.float32)
    advance[TIME_SHIFT_OFFSET : TIME_SHIFT_OFFSET + NUM_TIME_SHIFTS] = TIME_SHIFT_BINS
    return advance


def _shifts(remaining: float) -> tuple[list[int], float]:
    """Time-shift bins that advance by about ``remaining`` seconds, and the time actually advanced.

    Greedy with the largest bin not beyond the remaining time; a last remainder of at least half the smallest bin
    is covered by the smallest bin, so the decoded time ends within half the smallest bin of the target.
    """
    bins, advanced = [], 0.0
    half = TIME_SHIFT_BINS[0] / 2
    while remaining - advanced >= half:
        k = max(int(np.searchsorted(TIME_SHIFT_BINS, remaining - advanced, side="right")) - 1, 0)
        bins.append(k)
        advanced += float(TIME_SHIFT_BINS[k])
    return bins, advanced


def encode(midi: Any) -> list[int]:
    """Event ids of all non-drum notes with pitches 21-108 (every instrument merged), without SOS/EOS.

    Events at the same time keep the released order: notes sorted by onset, each contributing velocity, note-on
    and (at its end) note-off, with a stable sort by time.
    """
    notes = [
        note
        for instrument in midi.instruments
        if not instrument.is_drum
        for note in instrument.notes
        if PITCH_LOW <= note.pitch <= PITCH_HIGH and note.end >= note.start
    ]
    notes.sort(key=lambda n: n.start)
    events: list[tuple[float, int, int]] = []
    for note in notes:
        events.append((note.start, _VELOCITY, VELOCITY_OFFSET + velocity_to_index(note.velocity)))
        events.append((note.start, _ON, NOTE_ON_OFFSET + note.pitch - PITCH_LOW))
        events.append((note.end, _OFF, NOTE_OFF_OFFSET + note.pitch - PITCH_LOW))
    events.sort(key=lambda e: e[0])
    ids: list[int] = []
    now = 0.0  # the time the decoder will have reached
    for time, _, token in events:
        if time - now >= TIME_SHIFT_BINS[0] / 2:
            bins, advanced = _shifts(time - now)
            ids.extend(TIME_SHIFT_OFFSET + k for k in bins)
            now += advanced
        ids.append(token)
    return ids


def _as_ids(ids: Any) -> list[int]:
    if hasattr(ids, "detach"):
        ids = ids.detach().cpu().numpy()
    array = np.asarray(ids)
    if array.ndim != 1:
        raise ValueError(f"event ids must be one sequence (1-D), got shape {array.shape}")
    if array.size and (array.min() < 0 or array.max() >= VOCAB_SIZE):
        raise ValueError(f"event ids must lie in 0..{VOCAB_SIZE - 1}, got {array.min()}..{array.max()}")
    return [int(i) for i in array]


def decode(
    ids: Iterable[int] | Any,
    program: int = 0,
    min_note_length: float = MIN_NOTE_LENGTH,
    default_note_length: float = DEFAULT_NOTE_LENGTH,
) -> Any:
    """One-instrument ``pretty_midi.PrettyMIDI`` (General-MIDI ``program``) from event ids (list, array or tensor).

    SOS and PAD are skipped and decoding stops at the first EOS (what a model emits after it is not music).
    """
    import pretty_midi

    time, velocity = 0.0, DEFAULT_VELOCITY
    notes: list[Any] = []
    sounding: dict[int, Any] = {}
    for token in _as_ids(ids):
        if token == EOS:
            break
        if token < NOTE_OFF_OFFSET:
            pitch = token - NOTE_ON_OFFSET + PITCH_LOW
            note = pretty_midi.Note(velocity, pitch, time, time)
            note.end = None
            notes.append(note)
            sounding[pitch] = note
        elif token < VELOCITY_OFFSET:
            note = sounding.pop(token - NOTE_OFF_OFFSET + PITCH_LOW, None)
            if note is not None:
                note.end = max(time, note.start + min_note_length)
        elif token < TIME_SHIFT_OFFSET:
            velocity = index_to_velocity(token - VELOCITY_OFFSET)
        elif token < SOS:
            time += float(TIME_SHIFT_BINS[token - TIME_SHIFT_OFFSET])
    for note in notes:
        if note.end is None:
            note.end = note.start + default_note_length
    midi = pretty_midi.PrettyMIDI(resolution=220, initial_tempo=120.0)
    instrument = pretty_midi.Instrument(program=int(program))
    instrument.notes = notes
    midi.instruments.append(instrument)
    return midi


def to_fixed_length(ids: Sequence[int], length: int) -> list[int]:
    """``[SOS] + ids + [EOS]`` cut or padded with PAD to exactly ``length`` ids (a cut sequence still ends in EOS).

    As in the released data loader; a model's input is then ``seq[:-1]`` and its target ``seq[1:]``.
    """
    if length < 2:
        raise ValueError(f"length must be at least 2 (SOS and EOS), got {length}")
    seq = [SOS, *(int(i) for i in ids), EOS]
    if len(seq) > length:
        seq = seq[:length]
        seq[-1] = EOS
    return seq + [PAD] * (length - len(seq))


def describe(ids: Iterable[int] | Any) -> list[str]:
    """Human-readable names of event ids, e.g. ``['velocity_26', 'note_on_60', 'time_shift_0.100', ...]``."""
    names = []
    for token in _as_ids(ids):
        if token < NOTE_OFF_OFFSET:
            names.append(f"note_on_{token + PITCH_LOW}")
        elif token < VELOCITY_OFFSET:
            names.append(f"note_off_{token - NOTE_OFF_OFFSET + PITCH_LOW}")
        elif token < TIME_SHIFT_OFFSET:
            names.append(f"velocity_{index_to_velocity(token - VELOCITY_OFFSET)}")
        elif token < SOS:
            names.append(f"time_shift_{TIME_SHIFT_BINS[token - TIME_SHIFT_OFFSET]:.3f}")
        else:
            names.append({SOS: "SOS", EOS: "EOS", PAD: "PAD"}[token])
    return names


__all__ = [
    "DEFAULT_NOTE_LENGTH",
    "DEFAULT_VELOCITY",
    "EOS",
    "MIN_NOTE_LENGTH",
    "NOTE_OFF_OFFSET",
    "NOTE_ON_OFFSET",
    "NUM_PITCHES",
    "NUM_TIME_SHIFTS",
    "NUM_VELOCITIES",
    "PAD",
    "PITCH_HIGH",
    "PITCH_LOW",
    "SOS",
    "TIME_SHIFT_BINS",
    "TIME_SHIFT_OFFSET",
    "VELOCITY_BINS",
    "VELOCITY_OFFSET",
    "VOCAB_SIZE",
    "decode",
    "time_advance",
    "describe",
    "encode",
    "index_to_velocity",
    "to_fixed_length",
    "velocity_to_index",
]

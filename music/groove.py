"""Drum grooves as hits / velocities / offsets on a 16th-note grid over 9 drum classes (GrooVAE; RhythmicNet's drums).

A groove is a float32 array ``[3, T, 9]``: channel 0 the hits (1.0 where a drum of that class starts in that step),
channel 1 the velocities (``velocity / 127``, 0 without a hit), channel 2 the offsets (how far the hit lies from the
grid, in 16th-note steps, in ``[-0.5, 0.5)``, 0 without a hit). Step ``i`` is at ``start + i * 60 / bpm / 4`` s.
Several hits of one class in one step keep the loudest (as GrooVAE does). A hit exactly half-way between two steps
belongs to the later one (offset -0.5): the step is ``floor(position + 0.5 + 1e-9)``, so that floating-point noise
in the onset time does not decide.

Offset convention. The offsets here are ``onset - grid`` in 16th steps, in ``[-0.5, 0.5)``: positive = late, as the
RhythmicNet paper (§3, Rhythm2Drum) describes them. GrooVAE's ``GrooveConverter`` (Magenta) and RhythmicNet's
released code store ``2 * (grid - onset) / step`` in ``[-1, 1]`` for a tanh head: the opposite sign and twice the
scale. The suite keeps this module's convention on disk and in the DataModules; a model that wants the GrooVAE one
converts at its boundary with :func:`to_groovae` / :func:`from_groovae` (exact inverses of each other).

The 9 classes are the Groove MIDI Dataset's reduced Roland mapping (Magenta's ``ROLAND_DRUM_PITCH_CLASSES``):
kick 36; snare 38, 37, 40; closed hi-hat 42, 22, 44; open hi-hat 46, 26; low tom 43, 58; mid tom 47, 45;
high tom 50, 48; crash 49, 52, 55, 57; ride 51, 53, 59. The first pitch of each class is the one written back.
Other General-MIDI percussion pitches take the class of Magenta's 9-class GM mapping (``DEFAULT_DRUM_TYPE_PITCHES``),
so that e.g. a hand clap counts as a snare; pitches in neither list (below 22 or above 87) raise an error unless
``drop_unknown=True``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

DRUM_CLASSES = ("kick", "snare", "closed_hihat", "open_hihat", "low_tom", "mid_tom", "high_tom", "crash", "ride")
NUM_CLASSES = len(DRUM_CLASSES)
ROLAND_PITCHES = (
    (36,),
    (38, 37, 40),
    (42, 22, 44),
    (46, 26),
    (43, 58),
    (47, 45),
    (50, 48),
    (49, 52, 55, 57),
    (51, 53, 59),
)
GM_PITCHES = (  # Magenta's DEFAULT_DRUM_TYPE_PITCHES: the fallback for pitches the Roland list lacks
    (36, 35),
    (38, 27, 28, 31, 32, 33, 34, 37, 39, 40, 56, 65, 66, 75, 85),
    (42, 44, 54, 68, 69, 70, 71, 73, 78, 80, 22),
    (46, 67, 72, 74, 79, 81, 26),
    (45, 29, 41, 43, 61, 64, 84),
    (48, 47, 60, 63, 77, 86, 87),
    (50, 30, 62, 76, 83),
    (49, 52, 55, 57, 58),
    (51, 53, 59, 82),
)
CLASS_PITCH = tuple(pitches[0] for pitches in ROLAND_PITCHES)  # 36 38 42 46 43 47 50 49 51
PITCH_CLASS: dict[int, int] = {}
for _index, _pitches in enumerate(GM_PITCHES):
    PITCH_CLASS.update(dict.fromkeys(_pitches, _index))
for _index, _pitches in enumerate(ROLAND_PITCHES):  # the Roland mapping wins where the two disagree
    PITCH_CLASS.update(dict.fromkeys(_pitches, _index))

HITS, VELOCITIES, OFFSETS = 0, 1, 2


def step_seconds(bpm: float) -> float:
    """Length of one 16th-note step in seconds."""
    if bpm <= 0:
        raise ValueError(f"bpm must be positive, got {bpm}")
    return 60.0 / bpm / 4.0


def midi_bpm(midi: Any) -> float:
    """The MIDI's first tempo in beats per minute (120 when it states none)."""
    _, tempi = midi.get_tempo_changes()
    return float(tempi[0]) if len(tempi) else 120.0


_HALF_BELOW = float(np.nextafter(np.float32(0.5), np.float32(0.0)))  # the largest float32 offset below 0.5


def grid_position(position: float) -> tuple[int, float]:
    """The step of an onset ``position`` (in 16th steps from step 0) and its offset in ``[-0.5, 0.5)``.

    Ties at exact half steps go to the later step: ``floor(position + 0.5 + 1e-9)``; the offset is clipped into the
    range (an onset a hair earlier than a half step keeps the earlier step with the float32 offset just below 0.5).
    """
    index = int(np.floor(position + 0.5 + 1e-9))
    offset = min(max(position - index, -0.5), _HALF_BELOW)
    return index, offset


def to_groovae(offsets: Any) -> Any:
    """Offsets of this module (``onset - grid`` in steps, ``[-0.5, 0.5)``) in GrooVAE's / RhythmicNet code's
    convention, ``2 * (grid - onset) / step`` in ``[-1, 1]``; array or tensor, same type out."""
    return -2.0 * offsets


def from_groovae(offsets: Any) -> Any:
    """Inverse of :func:`to_groovae`: GrooVAE offsets (``[-1, 1]``, positive = early) to this module's."""
    return -0.5 * offsets


def midi_to_groove(
    midi: Any,
    bpm: float | None = None,
    steps: int | None = None,
    start: float = 0.0,
    drop_unknown: bool = False,
) -> np.ndarray:
    """Groove ``[3, steps, 9]`` of the MIDI's drum notes (instruments with ``is_drum``).

    Args:
        midi: a ``pretty_midi.PrettyMIDI``.
        bpm: tempo of the grid; default the MIDI's first tempo.
        steps: number of 16th steps; default up to the step of the last drum hit. Hits outside are left out.
        start: time of step 0 in seconds.
        drop_unknown: ignore percussion pitches outside both mappings instead of raising ``ValueError``.
    """
    step = step_seconds(midi_bpm(midi) if bpm is None else bpm)
    hits = []
    for instrument in midi.instruments:
        if not instrument.is_drum:
            continue
        for note in instrument.notes:
            drum = PITCH_CLASS.get(int(note.pitch))
            if drum is None:
                if drop_unknown:
                    continue
                raise ValueError(
                    f"drum pitch {note.pitch} at {note.start:.3f} s has no class in the 9-class groove mapping "
                    "(pass drop_unknown=True to ignore it)"
                )
            position = (note.start - start) / step
            index, offset = grid_position(position)
            hits.append((index, drum, offset, note.velocity))
    if steps is None:
        steps = max((index + 1 for index, *_ in hits), default=0)
    groove = np.zeros((3, steps, NUM_CLASSES), dtype=np.float32)
    for index, drum, offset, velocity in hits:
        if not 0 <= index < steps:
            continue
        value = min(max(velocity, 0), 127) / 127.0
        if groove[HITS, index, drum] and groove[VELOCITIES, index, drum] >= value:
            continue
        groove[:, index, drum] = (1.0, value, offset)
    return groove


def groove_to_midi(
    groove: Any,
    bpm: float,
    start: float = 0.0,
    threshold: float = 0.5,
    note_steps: float = 1.0,
) -> Any:
    """``pretty_midi.PrettyMIDI`` with one drum instrument from a groove ``[3, T, 9]`` (array or tensor).

    A hit is written where ``hits > threshold``, at ``start + (step + offset) * step_seconds(bpm)``, with velocity
    ``round(velocity * 127)`` (at least 1) and the class's first Roland pitch, lasting ``note_steps`` 16th steps.
    The MIDI's tempo is ``bpm``.
    """
    import pretty_midi

    groove = np.asarray(groove.detach().cpu() if hasattr(groove, "detach") else groove, dtype=np.float64)
    if groove.ndim != 3 or groove.shape[0] != 3 or groove.shape[2] != NUM_CLASSES:
        raise ValueError(f"groove must be [3, T, {NUM_CLASSES}], got shape {groove.shape}")
    step = step_seconds(bpm)
    offsets = np.clip(groove[OFFSETS], -0.5, 0.5)
    drums = pretty_midi.Instrument(program=0, is_drum=True, name="drums")
    for index, drum in zip(*np.nonzero(groove[HITS] > threshold)):
        time = max(start + (index + offsets[index, drum]) * step, 0.0)
        velocity = int(np.clip(round(groove[VELOCITIES, index, drum] * 127), 1, 127))
        drums.notes.append(pretty_midi.Note(velocity, CLASS_PITCH[drum], time, time + note_steps * step))
    drums.notes.sort(key=lambda n: (n.start, n.pitch))
    midi = pretty_midi.PrettyMIDI(initial_tempo=float(bpm))
    midi.instruments.append(drums)
    return midi


__all__ = [
    "CLASS_PITCH",
    "DRUM_CLASSES",
    "GM_PITCHES",
    "HITS",
    "NUM_CLASSES",
    "OFFSETS",
    "PITCH_CLASS",
    "ROLAND_PITCHES",
    "VELOCITIES",
    "from_groovae",
    "grid_position",
    "groove_to_midi",
    "midi_bpm",
    "midi_to_groove",
    "step_seconds",
    "to_groovae",
]

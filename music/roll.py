"""Piano rolls at a fixed frame rate (Audeo's Video2Roll/Roll2Midi targets; the callback's piano-roll image).

A roll is a float32 array ``[keys, T]``: row ``k`` is MIDI pitch ``low + k``, column ``t`` the frame covering
``[t / fps, (t + 1) / fps)``. A note sounding from ``start`` to ``end`` seconds fills frames
``round(start * fps)`` up to (excluding) ``round(end * fps)``, at least one frame. Values are ``velocity / 127``
(``binary=True``: 1.0); ``roll > 0`` means the key is down. The full piano is ``low=21, high=108`` (88 keys);
Audeo's 51-key range is ``low=36, high=86``.

Written here rather than with ``pretty_midi.PrettyMIDI.get_piano_roll``: that one samples note intervals at
``1 / fps`` with its own truncation, has no key range or velocity/binary choice, and has no inverse.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def midi_to_roll(
    midi: Any,
    fps: float,
    low: int = 21,
    high: int = 108,
    frames: int | None = None,
    binary: bool = False,
) -> np.ndarray:
    """Piano roll ``[high - low + 1, T]`` of all non-drum notes with pitches in ``[low, high]``.

    ``T`` is ``frames`` when given (the roll is cut or zero-padded to it), else the frame where the last note ends.
    Where notes of the same pitch overlap, the louder one wins. Drum notes and notes outside the range are left out.
    """
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if not 0 <= low <= high <= 127:
        raise ValueError(f"need 0 <= low <= high <= 127, got low={low}, high={high}")
    notes = [
        (int(round(n.start * fps)), int(round(n.end * fps)), n.pitch - low, n.velocity)
        for instrument in midi.instruments
        if not instrument.is_drum
        for n in instrument.notes
        if low <= n.pitch <= high
    ]
    if frames is None:
        frames = max((max(end, start + 1) for start, end, _, _ in notes), default=0)
    roll = np.zeros((high - low + 1, frames), dtype=np.float32)
    for start, end, key, velocity in notes:
        end = max(end, start + 1)
        value = 1.0 if binary else min(max(velocity, 0), 127) / 127.0
        segment = roll[key, max(start, 0) : min(end, frames)]
        np.maximum(segment, value, out=segment)
    return roll


def roll_to_midi(
    roll: Any,
    fps: float,
    low: int = 21,
    velocity: int | None = 100,
    program: int = 0,
    is_drum: bool = False,
) -> Any:
    """One-instrument ``pretty_midi.PrettyMIDI`` from a roll ``[keys, T]`` (row ``k`` = pitch ``low + k``).

    Each run of frames with ``roll > 0`` becomes one note from ``onset / fps`` to ``offset / fps`` seconds, so
    ``midi_to_roll(roll_to_midi(r, fps, low), fps, low, low + keys - 1, frames=T, binary=True) == (r > 0)`` exactly.
    Notes get ``velocity``; ``velocity=None`` takes each note's velocity from the roll at its onset
    (``round(value * 127)``, for rolls made by :func:`midi_to_roll`). Repeated notes with no gap between them merge,
    as they must in a roll without onset information.
    """
    import pretty_midi

    roll = np.asarray(roll.detach().cpu() if hasattr(roll, "detach") else roll, dtype=np.float32)
    if roll.ndim != 2:
        raise ValueError(f"roll must be [keys, T], got shape {roll.shape}")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if low < 0 or low + roll.shape[0] - 1 > 127:
        raise ValueError(f"keys {low}..{low + roll.shape[0] - 1} fall outside MIDI 0..127")
    active = roll > 0
    padded = np.pad(active, ((0, 0), (1, 1))).astype(np.int8)
    change = np.diff(padded, axis=1)
    instrument = pretty_midi.Instrument(program=program, is_drum=is_drum)
    keys, onsets = np.nonzero(change == 1)
    _, offsets = np.nonzero(change == -1)  # row-major order pairs each run's onset with its offset
    for key, onset, offset in zip(keys.tolist(), onsets.tolist(), offsets.tolist()):
        if velocity is None:
            note_velocity = int(np.clip(round(float(roll[key, onset]) * 127), 1, 127))
        else:
            note_velocity = int(velocity)
        instrument.notes.append(pretty_midi.Note(note_velocity, int(low + key), onset / fps, offset / fps))
    instrument.notes.sort(key=lambda n: (n.start, n.pitch))
    midi = pretty_midi.PrettyMIDI()
    midi.instruments.append(instrument)
    return midi


__all__ = ["midi_to_roll", "roll_to_midi"]

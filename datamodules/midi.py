"""MIDI loading with pretty_midi, clip windows of a performance and URMP note lists as MIDI.

:func:`load_midi` raises ONE clear error naming the file when it is missing, unreadable (corrupt) or holds no notes
(unless ``allow_empty``). :func:`midi_window` cuts ``[start, start + duration)`` out of a performance and moves it to
time 0, which is what a clip's symbolic target is (events via ``music.events.encode``, roll via ``music.roll``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pretty_midi

NOTE_VELOCITY = 100  # URMP Notes_*.txt carry no dynamics; every note gets this MIDI velocity


def load_midi(path: str | Path, allow_empty: bool = False) -> pretty_midi.PrettyMIDI:
    """The MIDI file ``path`` as ``pretty_midi.PrettyMIDI``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MIDI file {path} does not exist")
    if path.stat().st_size == 0:
        raise ValueError(f"cannot read MIDI file {path}: it has 0 bytes (an interrupted download or copy?)")
    try:
        midi = pretty_midi.PrettyMIDI(str(path))
    except Exception as error:  # noqa: BLE001 - mido/pretty_midi raise many types (OSError, EOFError, KeyError...)
        raise ValueError(
            f"cannot read MIDI file {path} (corrupt or not MIDI): {type(error).__name__}: {error}"
        ) from error
    if not allow_empty and not any(instrument.notes for instrument in midi.instruments):
        raise ValueError(f"MIDI file {path} has no notes")
    return midi


def midi_window(
    midi: pretty_midi.PrettyMIDI,
    start: float,
    duration: float,
    keep_sustained: bool = False,
    drop_outlasting: bool = False,
) -> pretty_midi.PrettyMIDI:
    """Notes of ``midi`` in ``[start, start + duration)``, shifted so the window starts at 0.

    Notes with an onset in the window are kept, their ends clipped to the window. With ``keep_sustained`` notes
    that began before the window but still sound in it are kept too, from time 0 (for piano-roll targets; event
    targets want onsets only). With ``drop_outlasting`` notes that end after the window are left out instead of
    clipped (as a reader built on pretty_midi's ``adjust_times`` does; docs/FOLEY_MUSIC.md). Instruments keep
    program, drum flag and name; empty instruments are kept too so the track layout is stable. Control changes and
    pitch bends in the window are carried over."""
    end = start + duration
    out = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    for instrument in midi.instruments:
        copy = pretty_midi.Instrument(program=instrument.program, is_drum=instrument.is_drum, name=instrument.name)
        for note in instrument.notes:
            if drop_outlasting and note.end > end:
                continue
            if start <= note.start < end or (keep_sustained and note.start < start < note.end):
                onset = max(note.start, start) - start
                offset = min(note.end, end) - start
                if offset > onset:
                    copy.notes.append(pretty_midi.Note(note.velocity, note.pitch, onset, offset))
        for change in instrument.control_changes:
            if start <= change.time < end:
                copy.control_changes.append(pretty_midi.ControlChange(change.number, change.value, change.time - start))
        for bend in instrument.pitch_bends:
            if start <= bend.time < end:
                copy.pitch_bends.append(pretty_midi.PitchBend(bend.pitch, bend.time - start))
        copy.notes.sort(key=lambda n: (n.start, n.pitch))
        out.instruments.append(copy)
    return out


def midi_end(midi: pretty_midi.PrettyMIDI) -> float:
    """End time of the last note (0 for a MIDI without notes)."""
    return max((note.end for instrument in midi.instruments for note in instrument.notes), default=0.0)


def hz_to_midi(frequency: np.ndarray) -> np.ndarray:
    return np.round(69 + 12 * np.log2(np.asarray(frequency, dtype=np.float64) / 440.0)).astype(int)


def notes_to_midi(path: str | Path, program: int = 0) -> pretty_midi.PrettyMIDI:
    """A URMP ``Notes_*.txt`` (lines ``onset_s  pitch_Hz  duration_s``) as a one-instrument MIDI (GM ``program``).

    Pitches are the notes' mean F0 rounded to the nearest MIDI number; rows with pitch <= 0 are rests and skipped.
    A missing, unreadable or note-less file raises an error naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"URMP note file {path} does not exist")
    try:
        rows = np.loadtxt(path, ndmin=2, dtype=np.float64)
    except (ValueError, OSError) as error:
        raise ValueError(
            f"cannot parse URMP note file {path} (expected 'onset pitch_Hz duration' rows): {error}"
        ) from error
    if rows.size and rows.shape[1] < 3:
        raise ValueError(f"URMP note file {path} has {rows.shape[1]} columns, expected 3 (onset, pitch_Hz, duration)")
    if rows.size and not np.all(np.isfinite(rows[:, :3])):
        raise ValueError(f"URMP note file {path} contains NaN or Inf values")
    rows = rows[rows[:, 1] > 0] if rows.size else rows
    if len(rows) == 0:
        raise ValueError(f"URMP note file {path} has no notes")
    midi = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    instrument = pretty_midi.Instrument(program=int(program), name=path.stem)
    for (onset, _, duration), pitch in zip(rows[:, :3], hz_to_midi(rows[:, 1])):
        if duration > 0 and 0 <= pitch <= 127:
            instrument.notes.append(pretty_midi.Note(NOTE_VELOCITY, int(pitch), float(onset), float(onset + duration)))
    instrument.notes.sort(key=lambda n: (n.start, n.pitch))
    midi.instruments.append(instrument)
    return midi


__all__ = ["NOTE_VELOCITY", "hz_to_midi", "load_midi", "midi_end", "midi_window", "notes_to_midi"]

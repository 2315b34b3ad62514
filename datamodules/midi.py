"""MIDI loading with pretty_midi and clip windows of a performance.

:func:`load_midi` raises ONE clear error naming the file when it is missing, unreadable (corrupt) or holds no notes
(unless ``allow_empty``). :func:`midi_window` cuts ``[start, start + duration)`` out of a performance and moves it to
time 0, which is what a clip's symbolic target is (events via ``music.events.encode``, roll via ``music.roll``).
"""

from __future__ import annotations

from pathlib import Path

import pretty_midi


def load_midi(path: str | Path, allow_empty: bool = False) -> pretty_midi.PrettyMIDI:
    """The MIDI file ``path`` as ``pretty_midi.PrettyMIDI``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MIDI file {path} does not exist")
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
    midi: pretty_midi.PrettyMIDI, start: float, duration: float, keep_sustained: bool = False
) -> pretty_midi.PrettyMIDI:
    """Notes of ``midi`` in ``[start, start + duration)``, shifted so the window starts at 0.

    Notes with an onset in the window are kept, their ends clipped to the window. With ``keep_sustained`` notes
    that began before the window but still sound in it are kept too, from time 0 (for piano-roll targets; event
    targets want onsets only). Instruments keep program, drum flag and name; empty instruments are kept too so the
    track layout is stable. Control changes and pitch bends in the window are carried over."""
    end = start + duration
    out = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    for instrument in midi.instruments:
        copy = pretty_midi.Instrument(program=instrument.program, is_drum=instrument.is_drum, name=instrument.name)
        for note in instrument.notes:
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


__all__ = ["load_midi", "midi_end", "midi_window"]

"""Music editing on MIDI (Foley Music §4.4: change the key, change the instrument) and cutting clips out of a piece.

Every function returns a new ``pretty_midi.PrettyMIDI`` and leaves its input unchanged.

Range rule: a note pushed outside the allowed pitch range (the piano's 21-108 for :func:`transpose`, the new
instrument's range for :func:`change_instrument` with ``fit_range=True``) is moved by whole octaves until it fits, so it
keeps its pitch class and the music stays in its key; ``out_of_range="drop"`` removes such notes instead and
``"error"`` raises ``ValueError``. Drum tracks are never transposed or re-instrumented.
"""

from __future__ import annotations

import copy
from typing import Any

# Written ranges (MIDI pitches, inclusive) of General-MIDI programs the datasets use; other programs get the piano's.
INSTRUMENT_RANGES: dict[int, tuple[int, int]] = {
    0: (21, 108),  # acoustic grand piano
    21: (53, 89),  # accordion
    24: (40, 88),  # acoustic guitar (nylon)
    25: (40, 88),  # acoustic guitar (steel)
    32: (28, 67),  # acoustic bass
    33: (28, 67),  # electric bass (finger)
    40: (55, 103),  # violin
    41: (48, 91),  # viola
    42: (36, 76),  # cello
    43: (28, 67),  # contrabass
    56: (52, 82),  # trumpet
    57: (40, 72),  # trombone
    58: (28, 58),  # tuba
    60: (41, 77),  # french horn
    65: (49, 81),  # alto sax
    68: (58, 91),  # oboe
    70: (34, 75),  # bassoon
    71: (50, 94),  # clarinet
    73: (60, 96),  # flute
}
PIANO_RANGE = (21, 108)
_MODES = ("fold", "drop", "error")


def instrument_range(program: int) -> tuple[int, int]:
    """Lowest and highest pitch of General-MIDI ``program`` (the piano's range when the table lacks it)."""
    return INSTRUMENT_RANGES.get(int(program), PIANO_RANGE)


def fit_pitch(pitch: int, low: int, high: int) -> int:
    """``pitch`` moved by whole octaves into ``[low, high]`` (which must span at least an octave)."""
    if high - low < 11:
        raise ValueError(f"pitch range {low}..{high} is narrower than an octave")
    while pitch < low:
        pitch += 12
    while pitch > high:
        pitch -= 12
    return pitch


def _fit_notes(instrument: Any, low: int, high: int, out_of_range: str, what: str) -> None:
    if out_of_range not in _MODES:
        raise ValueError(f"out_of_range must be one of {_MODES}, got {out_of_range!r}")
    kept = []
    for note in instrument.notes:
        if low <= note.pitch <= high:
            kept.append(note)
        elif out_of_range == "fold":
            note.pitch = fit_pitch(note.pitch, low, high)
            kept.append(note)
        elif out_of_range == "error":
            raise ValueError(f"{what}: note {note.pitch} at {note.start:.3f} s falls outside {low}..{high}")
    instrument.notes = kept


def transpose(
    midi: Any, semitones: int, low: int = PIANO_RANGE[0], high: int = PIANO_RANGE[1], out_of_range: str = "fold"
) -> Any:
    """Shift every non-drum note by ``semitones`` (change of key), keeping pitches in ``[low, high]`` (module rule)."""
    result = copy.deepcopy(midi)
    for instrument in result.instruments:
        if instrument.is_drum:
            continue
        for note in instrument.notes:
            note.pitch += int(semitones)
        _fit_notes(instrument, low, high, out_of_range, f"transpose by {semitones}")
    return result


def change_instrument(
    midi: Any,
    program: int,
    tracks: list[int] | None = None,
    fit_range: bool = True,
    out_of_range: str = "fold",
) -> Any:
    """Give the non-drum tracks (all, or those with indices ``tracks``) General-MIDI ``program``.

    With ``fit_range`` the notes are brought into the new instrument's range (:data:`INSTRUMENT_RANGES`) by the
    module's rule, e.g. a piano bass line played by a violin moves up by octaves.
    """
    if not 0 <= int(program) <= 127:
        raise ValueError(f"program must be a General-MIDI program 0..127, got {program}")
    result = copy.deepcopy(midi)
    chosen = range(len(result.instruments)) if tracks is None else tracks
    for index in chosen:
        if not 0 <= index < len(result.instruments):
            raise ValueError(f"track {index} does not exist (the MIDI has {len(result.instruments)} tracks)")
        instrument = result.instruments[index]
        if instrument.is_drum:
            continue
        instrument.program = int(program)
        if fit_range:
            low, high = instrument_range(program)
            _fit_notes(instrument, low, high, out_of_range, f"program {program}")
    return result


def crop(midi: Any, start: float, end: float) -> Any:
    """The music between ``start`` and ``end`` seconds, moved to begin at 0.

    Notes sounding across a boundary are cut at it; control changes and pitch bends before ``start`` are kept at
    time 0 only as the latest value of each controller (so a held sustain pedal stays down).
    """
    if end <= start:
        raise ValueError(f"crop needs end > start, got {start}..{end}")
    import pretty_midi

    result = pretty_midi.PrettyMIDI(resolution=midi.resolution, initial_tempo=_tempo_at(midi, start))
    for source in midi.instruments:
        instrument = pretty_midi.Instrument(source.program, source.is_drum, source.name)
        for note in source.notes:
            if (note.end > start and note.start < end) or (note.start == note.end and start <= note.start < end):
                onset, offset = max(note.start, start) - start, min(note.end, end) - start
                instrument.notes.append(pretty_midi.Note(note.velocity, note.pitch, onset, offset))
        latest: dict[int, Any] = {}
        for change in sorted(source.control_changes, key=lambda c: c.time):
            if change.time < start:
                latest[change.number] = change
            elif change.time < end:
                instrument.control_changes.append(
                    pretty_midi.ControlChange(change.number, change.value, change.time - start)
                )
        instrument.control_changes[:0] = [pretty_midi.ControlChange(c.number, c.value, 0.0) for c in latest.values()]
        bends_before = [b for b in source.pitch_bends if b.time < start]
        if bends_before:
            instrument.pitch_bends.append(pretty_midi.PitchBend(max(bends_before, key=lambda b: b.time).pitch, 0.0))
        instrument.pitch_bends += [
            pretty_midi.PitchBend(b.pitch, b.time - start) for b in source.pitch_bends if start <= b.time < end
        ]
        if instrument.notes or instrument.control_changes:
            result.instruments.append(instrument)
    return result


def _tempo_at(midi: Any, time: float) -> float:
    times, tempi = midi.get_tempo_changes()
    if not len(tempi):
        return 120.0
    index = max(int((times <= time).sum()) - 1, 0)
    return float(tempi[index])


__all__ = [
    "INSTRUMENT_RANGES",
    "PIANO_RANGE",
    "change_instrument",
    "crop",
    "fit_pitch",
    "instrument_range",
    "transpose",
]

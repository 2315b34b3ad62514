"""How a player's fingers make each pitch: the rules that tie the synthetic keypoints to the notes.

For every note a :class:`Fingering` says what each hand does:

- bowed and plucked strings: the string (the open string with the smallest non-negative interval to the pitch), the
  hand position (shifts by whole tones up the neck past the first position), which finger stops the string (lower
  fingers stay down, as string players keep them) and how far that finger reaches (a semitone more or less);
- woodwinds: which of the seven tone holes the fingers close (a simplified Boehm system over the pitch class above
  the instrument's lowest fingered note) and the register key under the left thumb;
- brass: the valve combination that lowers the nearest partial of the harmonic series (0..6 semitones: none, 2, 1,
  1+2, 2+3, 1+3, 1+2+3), pressed by the valve hand (trombone: the slide position 1..7 instead);
- accordion: where the right hand sits on the keyboard and which finger presses the key.

So the fingering hand's keypoints are a deterministic function of the pitch (plus small random variation added by the
performer), which is what makes "pitch from keypoints" learnable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from datamodules.synthetic.instruments import Instrument

RELAXED = np.array([0.25, 0.3, 0.3, 0.3, 0.3])
PRESSED = 0.85
LIFTED = 0.25
# semitones above the open string (or hand position) stopped by fingers 1..4
NOMINAL = {"vn": (2, 4, 5, 7), "va": (2, 4, 5, 7), "plucked": (1, 2, 3, 4), "low": (2, 3, 4, 5)}
# closed tone holes L1 L2 L3 R1 R2 R3 R4(pinky key) per semitone above the lowest fingered note
HOLES = np.array(
    [
        [1, 1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 0, 1, 0],
        [1, 1, 1, 0, 0, 1, 0], [1, 1, 1, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0, 1], [1, 1, 0, 0, 0, 0, 0],
        [1, 0, 0, 1, 0, 0, 0], [1, 0, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0],
    ],
    dtype=np.float64,
)  # fmt: skip
PARTIALS = np.array([12, 19, 24, 28, 31, 34, 36, 38, 40, 42, 43, 44, 46, 47, 48])  # harmonic series above f0
VALVES = np.array([[0, 0, 0], [0, 1, 0], [1, 0, 0], [1, 1, 0], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=np.float64)


@dataclass
class Fingering:
    """What the hands do for one note. ``left``/``right`` flex are thumb..pinky in [0, 1]; ``shift`` moves the
    fingering hand along the instrument (semitones of hand position, or slide positions), ``string`` selects the
    string (moves the hand across the neck and tilts it); ``spread`` is the extra reach of the stopping finger."""

    left: np.ndarray = field(default_factory=lambda: RELAXED.copy())
    right: np.ndarray = field(default_factory=lambda: RELAXED.copy())
    left_spread: np.ndarray = field(default_factory=lambda: np.zeros(5))
    right_spread: np.ndarray = field(default_factory=lambda: np.zeros(5))
    shift: float = 0.0
    string: float = 0.0


def _stopped(instrument: Instrument, pitch: int) -> Fingering:
    """Strings: string, hand position and stopping finger (the fingering hand is the left one)."""
    opens = np.array(instrument.tuning)
    interval = pitch - opens
    candidates = np.where(interval >= 0)[0]
    string = int(candidates[np.argmin(interval[candidates])]) if len(candidates) else int(np.argmin(opens))
    offset = max(int(interval[string]), 0)
    if instrument.family == "plucked":
        nominal = NOMINAL["plucked"]
    else:
        nominal = NOMINAL.get(instrument.key, NOMINAL["low"])
    shift = 2 * int(np.ceil(max(0, offset - nominal[-1]) / 2))
    local = offset - shift
    fingering = Fingering(shift=float(shift), string=float(string) - (len(opens) - 1) / 2)
    flex = np.full(5, LIFTED)
    flex[0] = 0.35  # the thumb rests under the neck
    if local > 0:
        finger = int(np.argmin([abs(local - n) for n in nominal]))  # 0..3 = fingers 1..4
        flex[1 : finger + 2] = 0.7  # lower fingers stay down
        flex[finger + 1] = PRESSED + 0.1
        fingering.left_spread[finger + 1] = np.radians(7.0) * (local - nominal[finger])
    fingering.left = flex
    fingering.right = np.array([0.55, 0.6, 0.55, 0.5, 0.45])  # holding the bow / pick
    return fingering


def _woodwind(instrument: Instrument, pitch: int) -> Fingering:
    """Tone holes: L1-L3 on the left index..ring, R1-R3 on the right, R4 the right pinky key; left thumb = register."""
    above = pitch - instrument.tuning[0]
    register, semitone = divmod(above, 12)
    holes = HOLES[semitone] if register >= 0 else np.ones(7)
    fingering = Fingering()
    left = np.full(5, LIFTED)
    left[1:4] = np.where(holes[:3] > 0, PRESSED, LIFTED)
    left[0] = {-1: 0.9, 0: 0.9, 1: 0.5}.get(register, 0.15)  # thumb hole closed low, octave key / open higher
    left[4] = 0.9 if register < 0 else 0.35
    right = np.full(5, LIFTED)
    right[0] = 0.45  # the right thumb supports the instrument
    right[1:4] = np.where(holes[3:6] > 0, PRESSED, LIFTED)
    right[4] = PRESSED if holes[6] > 0 or register < 0 else LIFTED
    fingering.left, fingering.right = left, right
    fingering.right_spread[4] = np.radians(12.0) * (register < 0)
    return fingering


def _brass(instrument: Instrument, pitch: int) -> tuple[Fingering, int]:
    """Valve combination (or slide position) lowering the nearest partial at or above ``pitch``."""
    partials = instrument.tuning[0] + PARTIALS
    above = np.where((partials >= pitch) & (partials - pitch <= 6))[0]
    lowering = int(partials[above[0]] - pitch) if len(above) else 0
    fingering = Fingering(shift=float(lowering))
    grip = np.array([0.5, 0.75, 0.75, 0.75, 0.75])
    valves = np.array([0.3, *np.where(VALVES[lowering] > 0, PRESSED + 0.1, LIFTED), 0.3])
    if instrument.key == "hn":  # horn valves are under the left hand; the right hand sits in the bell
        fingering.left, fingering.right = valves, np.array([0.3, 0.3, 0.3, 0.3, 0.3])
    elif instrument.key == "tbn":  # slide: the right hand holds the slide brace, its position is ``shift``
        fingering.left, fingering.right = grip, np.array([0.6, 0.4, 0.4, 0.6, 0.6])
    else:
        fingering.left, fingering.right = grip, valves
    return fingering, lowering


def _accordion(instrument: Instrument, pitch: int) -> Fingering:
    """Right hand on the treble keyboard: a hand position every 5 keys, one finger per key inside it."""
    above = pitch - instrument.low
    position, finger = divmod(above, 5)
    right = np.full(5, LIFTED)
    right[finger] = PRESSED + 0.1
    fingering = Fingering(shift=float(position * 5), right=right)
    fingering.left = np.array([0.4, 0.5, 0.5, 0.5, 0.5])  # on the bass buttons
    return fingering


def fingering(instrument: Instrument, pitch: int) -> Fingering:
    """The :class:`Fingering` of ``pitch`` (MIDI number) on ``instrument``."""
    pitch = int(pitch)
    if instrument.family in ("bowed", "plucked"):
        return _stopped(instrument, pitch)
    if instrument.family == "woodwind":
        return _woodwind(instrument, pitch)
    if instrument.family == "brass":
        return _brass(instrument, pitch)[0]
    if instrument.family == "accordion":
        return _accordion(instrument, pitch)
    raise ValueError(f"no fingering rules for instrument family {instrument.family!r}")


__all__ = ["Fingering", "HOLES", "PARTIALS", "RELAXED", "VALVES", "fingering"]

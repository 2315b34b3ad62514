"""Drum grooves for the synthetic dance music: one-bar patterns over the 9 GrooVAE drum classes (``music.groove``),
varied bar to bar, with a tom/snare fill closing every 4-bar phrase and a crash on the next downbeat.

Patterns are written here from common drum-kit grooves (rock, funk, hip-hop, house, breakbeat, disco, swing, latin);
each AIST++ genre draws from a few of them. A groove is ``music.groove``'s ``[3, steps, 9]`` array (hits, velocities,
offsets) on a 16th-note grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from music.groove import DRUM_CLASSES, NUM_CLASSES

KICK, SNARE, CLOSED, OPEN, LOW_TOM, MID_TOM, HIGH_TOM, CRASH, RIDE = range(NUM_CLASSES)
STEPS_PER_BAR = 16
# class -> 16-step velocity string: digits 1-9 = velocity 1/9..9/9, "." = no hit
PATTERNS: dict[str, dict[int, str]] = {
    "rock": {
        KICK: "9.......9.6.....", SNARE: "....9.......9...", CLOSED: "7.5.7.5.7.5.7.5.",
    },
    "funk": {
        KICK: "9..7......8..6..", SNARE: "....9..3.3..9..3", CLOSED: "7575757575757575",
    },
    "hiphop": {
        KICK: "9......8..8.....", SNARE: "....9.......9...", CLOSED: "6.6.6.6.6.6.6...", OPEN: "..............7.",
    },
    "house": {
        KICK: "9...9...9...9...", SNARE: "....8.......8...", OPEN: "..7...7...7...7.", CLOSED: "5.......5.......",
    },
    "breakbeat": {
        KICK: "9.........8.....", SNARE: "....9.......9..6", CLOSED: "6.6.6.6.6.6.6.6.", RIDE: "4...4...4...4...",
    },
    "disco": {
        KICK: "9...9...9...9...", SNARE: "....9.......9...", CLOSED: "6565656565656565", OPEN: "..7.......7.....",
    },
    "swing": {
        RIDE: "8...7.58...7.5..", CLOSED: "....6.......6...", KICK: "5.......5.......", SNARE: "..........3.....",
    },
    "latin": {
        KICK: "9...9...9...9...", SNARE: "...7..7....7..7.", CLOSED: "5.5.5.5.5.5.5.5.", HIGH_TOM: "......4.......4.",
    },
}  # fmt: skip
# AIST++ genre code -> patterns its music uses
GENRE_PATTERNS: dict[str, tuple[str, ...]] = {
    "BR": ("breakbeat", "funk"), "PO": ("funk", "disco"), "LO": ("funk", "disco"), "MH": ("hiphop", "funk"),
    "LH": ("hiphop", "breakbeat"), "HO": ("house", "disco"), "WA": ("disco", "house"), "KR": ("hiphop", "rock"),
    "JS": ("rock", "latin"), "JB": ("swing", "latin"),
}  # fmt: skip
FILLS = (
    {SNARE: "9898", LOW_TOM: "....", MID_TOM: "....", HIGH_TOM: "...."},
    {HIGH_TOM: "98..", MID_TOM: "..98", LOW_TOM: "....", SNARE: "...."},
    {SNARE: "8.9.", HIGH_TOM: ".8..", LOW_TOM: "...9", MID_TOM: "...."},
    {HIGH_TOM: "9...", MID_TOM: ".9..", LOW_TOM: "..9.", SNARE: "...9"},
)


@dataclass
class DrumTrack:
    """A drum part: the groove ``[3, steps, 9]``, its tempo, and which 16th steps belong to a fill."""

    groove: np.ndarray
    bpm: float
    fill: np.ndarray

    @property
    def step_seconds(self) -> float:
        return 60.0 / self.bpm / 4.0

    def fill_times(self) -> np.ndarray:
        """Times (s) of the fills' hits: where the dancer adds accents."""
        steps = np.flatnonzero(self.fill & (self.groove[0].max(axis=1) > 0))
        return steps * self.step_seconds


def _apply(groove: np.ndarray, start: int, pattern: dict[int, str], rng: np.random.Generator, human: float) -> None:
    for drum, text in pattern.items():
        for step, char in enumerate(text):
            if char == ".":
                continue
            velocity = np.clip(int(char) / 9.0 + rng.normal(0, 0.05), 0.1, 1.0)
            groove[:, start + step, drum] = (1.0, velocity, np.clip(rng.normal(0, human), -0.2, 0.2))


def drum_track(genre: str, bars: int, bpm: float, rng: np.random.Generator) -> DrumTrack:
    """``bars`` bars of a groove for AIST++ ``genre``: a main pattern, a variant every other phrase (added/dropped
    ghost notes, open hi-hat), a 1-beat (sometimes 2-beat) fill ending every 4-bar phrase, crashes on phrase starts."""
    if genre not in GENRE_PATTERNS:
        raise ValueError(f"unknown AIST++ genre {genre!r}; known: {sorted(GENRE_PATTERNS)}")
    names = GENRE_PATTERNS[genre]
    main, alt = PATTERNS[names[0]], PATTERNS[names[int(rng.integers(len(names)))]]
    steps = bars * STEPS_PER_BAR
    groove = np.zeros((3, steps, NUM_CLASSES), dtype=np.float32)
    fill = np.zeros(steps, dtype=bool)
    human = 0.04
    for bar in range(bars):
        start = bar * STEPS_PER_BAR
        phrase, position = divmod(bar, 4)
        _apply(groove, start, alt if phrase % 2 and position in (1, 3) else main, rng, human)
        if rng.random() < 0.3:  # a ghost snare or an extra kick now and then
            extra = int(rng.choice([2, 6, 7, 9, 10, 14, 15]))
            drum = SNARE if rng.random() < 0.5 else KICK
            groove[:, start + extra, drum] = (1.0, 0.3, 0.0)
        if position == 0:
            groove[:, start, CRASH] = (1.0, 0.9, 0.0)
        if position == 3 or bar == bars - 1:
            beats = 2 if rng.random() < 0.3 else 1
            for beat in range(beats):
                first = start + STEPS_PER_BAR - 4 * (beats - beat)
                groove[:, first : first + 4, :] = 0.0
                _apply(groove, first, FILLS[int(rng.integers(len(FILLS)))], rng, 0.0)
                groove[:, first : first + 4 : 2, KICK] = np.array([1.0, 0.7, 0.0])[:, None]
            fill[start + STEPS_PER_BAR - 4 * beats : start + STEPS_PER_BAR] = True
    return DrumTrack(groove, float(bpm), fill)


__all__ = ["DRUM_CLASSES", "DrumTrack", "GENRE_PATTERNS", "PATTERNS", "drum_track"]

"""Six music genres for the synthetic music-video data (MV100K layout): their music, look and words.

A genre fixes what a listener and a viewer tell apart: instrumentation (General-MIDI programs rendered by FluidSynth),
tempo range, mode, harmonic rhythm and progressions, bass / comping / drum patterns, melodic rhythm; the video's
colour palette, shape style, motion pace and cut rate (in beats, so faster music cuts faster); mood words and the
AudioSet / Freebase ids used for captions. :func:`compose` writes one piece: a chord progression from the genre's
stock (diatonic, voice-led from the previous chord), a bass line, a comping part, a melody that stresses chord tones
on strong beats and moves by scale steps between them, and a drum part with a crash every four bars and a fill
before it. Each genre has two or three lead instruments (:attr:`Genre.leads`); the caller picks the piece's lead.
A piece runs through the three energy sections of an arc (:data:`ARCS`: rising, falling, arch, dip), whole bars each:
a quiet section (level 0) drops the drums, holds the comping and bass and halves the melody's notes, and velocities
scale with the level. Everything else is drawn from the given random generator, so a seed gives the same piece.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

MODES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
}
NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
KICK, SNARE, CLAP, CLOSED_HAT, PEDAL_HAT, OPEN_HAT, CRASH, RIDE, LOW_TOM, HIGH_TOM = (
    36,
    38,
    39,
    42,
    44,
    46,
    49,
    51,
    45,
    50,
)


@dataclass(frozen=True)
class Genre:
    """What makes a genre recognisable, in sound and in picture."""

    name: str
    tempo: tuple[int, int]
    modes: tuple[str, ...]
    progressions: tuple[tuple[int, ...], ...]  # scale degrees (0 = tonic), one chord per ``chord_beats``
    chord_beats: int
    sevenths: bool
    lead: tuple[int, str]  # (GM program, words)
    comp: tuple[int, str]
    bass: tuple[int, str]
    bass_style: str  # roots8 | offbeat | walking | syncopated | long | halves
    comp_style: str  # power8 | pad | stabs | hold | chorale
    melody_steps: tuple[float, ...]  # note lengths in beats to draw from
    rest_prob: float
    drums: str  # none | rock | four | swing | boombap
    swing: float  # fraction of a beat where the off-beat eighth falls (0.5 = straight)
    palette: tuple[tuple[int, int, int], ...]  # RGB
    shapes: tuple[str, ...]
    motion: float  # shape speed, screen widths per beat
    pulse: float  # how strongly the picture pulses on beats
    cut_beats: int
    moods: tuple[str, ...]
    audioset: tuple[str, ...] = field(default=("/m/04rlf",))
    extra_leads: tuple[tuple[int, str], ...] = ()  # other lead instruments a piece of the genre may feature

    @property
    def leads(self) -> tuple[tuple[int, str], ...]:
        """Every lead instrument of the genre (``lead`` first): a video's lead is drawn among these."""
        return (self.lead, *self.extra_leads)


GENRES: dict[str, Genre] = {
    g.name: g
    for g in (
        Genre(
            "classical", (60, 84), ("major", "minor"), ((0, 3, 4, 0), (0, 5, 3, 4), (0, 1, 4, 0), (5, 3, 4, 0)), 2,
            False, (40, "violin"), (48, "string ensemble"), (42, "cello"), "halves", "chorale", (0.5, 1.0, 1.0, 2.0),
            0.05, "none", 0.5,
            ((212, 175, 55), (128, 0, 32), (245, 235, 210), (90, 60, 30), (180, 140, 90)), ("ellipse", "circle"),
            0.05, 0.15, 8, ("elegant", "calm", "graceful"), ("/m/04rlf", "/m/0ggq0m"),
            extra_leads=((73, "flute"), (68, "oboe")),
        ),
        Genre(
            "rock", (112, 144), ("minor", "mixolydian"), ((0, 6, 5, 6), (0, 5, 2, 6), (0, 3, 6, 0)), 4,
            False, (30, "distorted electric guitar"), (29, "overdriven rhythm guitar"), (33, "electric bass"), "roots8",
            "power8", (0.5, 0.5, 1.0, 1.5), 0.1, "rock", 0.5,
            ((200, 20, 20), (20, 20, 20), (240, 240, 240), (120, 0, 0), (255, 90, 0)), ("rect", "line"),
            0.18, 0.7, 2, ("energetic", "aggressive", "driving"), ("/m/04rlf", "/m/06by7"),
            extra_leads=((18, "rock organ"), (22, "harmonica")),
        ),
        Genre(
            "electronic", (120, 130), ("minor",), ((0, 5, 2, 6), (0, 3, 5, 4), (5, 3, 0, 4)), 4,
            False, (81, "sawtooth synth lead"), (89, "warm synth pad"), (38, "synth bass"), "offbeat",
            "pad", (0.25, 0.25, 0.5), 0.05, "four", 0.5,
            ((255, 0, 200), (0, 255, 255), (40, 0, 80), (0, 80, 255), (180, 0, 255)), ("ring", "line", "rect"),
            0.25, 1.0, 4, ("euphoric", "danceable", "hypnotic"), ("/m/04rlf", "/m/02lkt"),
            extra_leads=((80, "square synth lead"), (85, "voice synth lead")),
        ),
        Genre(
            "jazz", (100, 150), ("major", "dorian"), ((1, 4, 0, 0), (0, 5, 1, 4), (2, 5, 1, 4)), 4,
            True, (11, "vibraphone"), (0, "piano"), (32, "upright bass"), "walking", "stabs", (0.5, 0.5, 1.0, 1.5),
            0.15, "swing", 0.64,
            ((20, 40, 90), (230, 160, 50), (60, 60, 80), (250, 210, 140), (10, 20, 40)), ("circle", "ellipse"),
            0.08, 0.3, 8, ("smooth", "relaxed", "sophisticated"), ("/m/04rlf", "/m/03_d0"),
            extra_leads=((66, "tenor saxophone"), (56, "trumpet")),
        ),
        Genre(
            "hip hop", (80, 96), ("minor", "dorian"), ((0, 0, 5, 6), (0, 3, 0, 4), (0, 5, 3, 4)), 4,
            True, (10, "music box"), (4, "electric piano"), (38, "synth bass"), "syncopated", "hold",
            (0.5, 1.0, 1.5, 2.0), 0.35, "boombap", 0.58,
            ((90, 20, 120), (255, 140, 0), (255, 215, 0), (30, 30, 30), (0, 160, 140)), ("rect", "circle"),
            0.1, 0.8, 4, ("laid-back", "groovy", "urban"), ("/m/04rlf", "/m/0glt670"),
            extra_leads=((73, "flute"), (78, "whistle")),
        ),
        Genre(
            "ambient", (60, 76), ("lydian", "major"), ((0, 3, 0, 4), (0, 5, 3, 0), (3, 0, 4, 0)), 8,
            False, (8, "celesta"), (91, "choir pad"), (89, "warm synth pad"), "long", "hold", (1.0, 2.0, 3.0),
            0.15, "none", 0.5,
            ((160, 220, 210), (200, 180, 230), (240, 240, 250), (120, 170, 200), (250, 220, 200)), ("blob",),
            0.02, 0.05, 16, ("dreamy", "peaceful", "atmospheric"), ("/m/04rlf",),
            extra_leads=((9, "glockenspiel"), (75, "pan flute")),
        ),
    )
}  # fmt: skip


@dataclass
class Piece:
    """One generated piece: the MIDI and what a caption / the video needs to know about it."""

    midi: Any
    genre: Genre
    tempo: float
    tonic: int
    mode: str
    beats: np.ndarray  # beat times (s)
    duration: float
    lead: tuple[int, str] = (0, "")  # (GM program, words); (0, "") = the genre's own ``lead``
    arc: str = "steady"  # a name of :data:`ARCS`
    sections: tuple[tuple[float, float, int], ...] = ()  # (start s, end s, energy level) covering [0, duration)

    @property
    def lead_words(self) -> str:
        return self.lead[1] or self.genre.lead[1]

    def energy(self) -> np.ndarray:
        """Energy level (0 quiet, 1 medium, 2 full) of every whole second ``[t, t + 1)``, taken at ``t + 0.5``."""
        seconds = max(1, int(np.floor(self.duration + 1e-6)))
        out = np.full(seconds, 2, dtype=np.int64)
        for start, end, level in self.sections:
            mid = np.arange(seconds) + 0.5
            out[(mid >= start) & (mid < end)] = level
        return out

    @property
    def key_name(self) -> str:
        return f"{NOTE_NAMES[self.tonic % 12]} {self.mode}"

    def instruments(self) -> list[str]:
        names = [self.lead_words, self.genre.comp[1], self.genre.bass[1]]
        if self.genre.drums != "none":
            names.append(
                {"swing": "brushed jazz drums", "boombap": "boom-bap drum beat"}.get(self.genre.drums, "drums")
            )
        return names

    def tempo_word(self) -> str:
        return "slow" if self.tempo < 80 else "medium" if self.tempo < 110 else "fast"

    def aspects(self) -> list[str]:
        return [
            self.genre.name,
            *self.instruments(),
            f"{self.tempo_word()} tempo",
            f"{self.mode} key",
            *self.genre.moods,
            f"{self.arc} energy",
        ]

    def caption(self) -> str:
        lead, *others = self.instruments()
        listing = ", ".join(others[:-1]) + f" and {others[-1]}"
        moods = self.genre.moods
        return (
            f"{_article(moods[0]).capitalize()} {moods[0]} {self.genre.name} piece at {int(round(self.tempo))} bpm in "
            f"{self.key_name}, led by {_article(lead)} {lead} over {listing}. The mood is {moods[1]} and {moods[2]}; "
            f"{ARCS[self.arc][1]}."
        )


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" and not word.startswith(("eu", "uni", "use")) else "a"


# Energy arcs: the levels (0 quiet: no drums, soft and sparse; 1 medium; 2 full) of a piece's three sections, and
# how a caption says it.
ARCS: dict[str, tuple[tuple[int, ...], str]] = {
    "rising": ((0, 1, 2), "the energy builds from a quiet start to a full finish"),
    "falling": ((2, 1, 0), "it starts at full energy and winds down to a quiet end"),
    "arch": ((0, 2, 0), "a quiet opening, a full middle section and a quiet close"),
    "dip": ((2, 0, 2), "a full start, a quiet breakdown and a full return"),
    "steady": ((2,), "the energy stays high throughout"),
}
VELOCITY_SCALE = (0.6, 0.8, 1.0)  # per energy level


def plan_sections(arc: str, n_beats: int, beat: float, seconds: float) -> tuple[tuple[float, float, int], ...]:
    """The arc's sections as (start s, end s, level): whole bars, as equal in length as the bars allow."""
    levels = ARCS[arc][0]
    bars = max(1, int(np.ceil(n_beats / 4)))
    edges = sorted({int(round(x)) for x in np.linspace(0, bars, len(levels) + 1)})
    out = []
    for (a, b), level in zip(zip(edges[:-1], edges[1:]), levels):
        out.append((min(4 * a * beat, seconds), min(4 * b * beat, seconds), level))
    start, end, level = out[-1]
    out[-1] = (start, max(end, seconds), level)
    return tuple((a, b, lv) for a, b, lv in out if b > a)


def _chord(degree: int, scale: tuple[int, ...], tonic: int, sevenths: bool) -> list[int]:
    """Pitch classes (relative to C) of the diatonic triad / seventh chord on ``degree``, root first."""
    steps = (0, 2, 4, 6) if sevenths else (0, 2, 4)
    return [(tonic + scale[(degree + s) % 7] + 12 * ((degree + s) // 7)) % 12 for s in steps]


def _near(pc: int, target: float, low: int, high: int) -> int:
    """The pitch of class ``pc`` nearest to ``target`` within [low, high]."""
    candidates = [p for p in range(low, high + 1) if p % 12 == pc]
    return min(candidates, key=lambda p: abs(p - target))


def _voice(chord: list[int], previous: list[int] | None, low: int, high: int) -> list[int]:
    """Close voicing of ``chord`` moving as little as possible from ``previous``."""
    centre = float(np.mean(previous)) if previous else (low + high) / 2
    return sorted(_near(pc, centre + 3 * (i - len(chord) / 2), low, high) for i, pc in enumerate(chord))


def compose(
    genre: Genre,
    seconds: float,
    rng: np.random.Generator,
    lead: tuple[int, str] | None = None,
    arc: str | None = None,
) -> Piece:
    """A new piece of ``genre`` lasting ``seconds`` (notes are cut there), its melody played by ``lead`` (default: the
    genre's own ``lead``; the choice draws nothing from ``rng``) over the energy sections of ``arc`` (default: drawn
    from ``rng`` among the varying arcs). Energy level 0 drops the drums, holds the comping and bass and thins the
    melody; every level scales the velocities by :data:`VELOCITY_SCALE`."""
    import pretty_midi

    tempo = float(rng.integers(genre.tempo[0], genre.tempo[1] + 1))
    mode = str(genre.modes[int(rng.integers(len(genre.modes)))])
    scale = MODES[mode]
    tonic = int(rng.integers(0, 12))
    beat = 60.0 / tempo
    n_beats = int(np.ceil(seconds / beat)) + 1
    beats = np.arange(n_beats) * beat
    progression = genre.progressions[int(rng.integers(len(genre.progressions)))]
    second = genre.progressions[int(rng.integers(len(genre.progressions)))]
    if arc is None:
        varying = [name for name, (levels, _) in ARCS.items() if len(set(levels)) > 1]
        arc = varying[int(rng.integers(len(varying)))]
    if arc not in ARCS:
        raise ValueError(f"unknown energy arc {arc!r}; known: {sorted(ARCS)}")
    lead_instrument = tuple(lead) if lead is not None else genre.lead
    sections = plan_sections(arc, n_beats, beat, seconds)

    def level_at(beat_position: float) -> int:
        t = beat_position * beat
        return next((lv for a, b, lv in sections if a <= t < b), sections[-1][2])

    midi = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    lead = pretty_midi.Instrument(lead_instrument[0], name="lead")
    comp = pretty_midi.Instrument(genre.comp[0], name="comp")
    bass = pretty_midi.Instrument(genre.bass[0], name="bass")
    drums = pretty_midi.Instrument(0, is_drum=True, name="drums")

    def note(instrument: Any, pitch: int, start_beat: float, length: float, velocity: float) -> None:
        start = _swing(start_beat, genre.swing) * beat
        end = min(_swing(start_beat + length, genre.swing) * beat, seconds)
        if start >= seconds or end - start < 0.03:
            return
        v = int(np.clip(velocity * VELOCITY_SCALE[level_at(start_beat)] + rng.normal(0, 5), 20, 127))
        instrument.notes.append(pretty_midi.Note(v, int(pitch), float(start), float(end)))

    chords: list[tuple[float, list[int]]] = []
    voicing: list[int] | None = None
    b = 0
    while b < n_beats:
        index = b // genre.chord_beats
        stock = progression if (index // len(progression)) % 2 == 0 else second
        degree = stock[index % len(stock)]
        pcs = _chord(degree, scale, tonic, genre.sevenths)
        chords.append((b, pcs))
        voicing = _voice(pcs, voicing, 52, 74)
        quiet = level_at(b) == 0
        _comp(note, comp, genre, pcs, voicing, b, genre.chord_beats, quiet)
        _bass(note, bass, genre, pcs, b, genre.chord_beats, scale, tonic, rng, quiet)
        b += genre.chord_beats
    _melody(note, lead, genre, chords, scale, tonic, n_beats, rng, level_at)
    if genre.drums != "none":
        _drums(note, drums, genre, n_beats, rng, level_at)
    midi.instruments.extend(i for i in (lead, comp, bass, drums) if i.notes)
    return Piece(midi, genre, tempo, tonic, mode, beats[beats < seconds], seconds, lead_instrument, arc, sections)


def _swing(position: float, swing: float) -> float:
    """Beat position with off-beat eighths delayed to ``swing`` of the beat."""
    whole = np.floor(position)
    frac = position - whole
    if abs(frac - 0.5) < 1e-6:
        return whole + swing
    return position


def _comp(note, comp, genre: Genre, pcs, voicing, start: int, length: int, quiet: bool = False) -> None:
    style = "hold" if quiet and genre.comp_style in ("power8", "stabs") else genre.comp_style
    if style == "power8":
        root = _near(pcs[0], 45, 40, 52)
        for k in range(length * 2):
            for p in (root, root + 7, root + 12):
                note(comp, p, start + 0.5 * k, 0.45, 92 if k % 2 == 0 else 80)
    elif style == "stabs":
        for offset, length_ in ((1.0, 0.4), (2.5, 0.8)):
            if offset < length:
                for p in voicing:
                    note(comp, p, start + offset, length_, 62)
    elif style == "chorale":
        for p in voicing:
            note(comp, p, start, length, 58)
    else:  # pad / hold: sustained chord
        for p in voicing:
            note(comp, p, start, length, 55 if style == "pad" else 60)


def _bass(note, bass, genre: Genre, pcs, start: int, length: int, scale, tonic: int, rng, quiet: bool = False) -> None:
    root = _near(pcs[0], 38, 28, 47)
    style = "long" if quiet else genre.bass_style
    if style == "roots8":
        for k in range(length * 2):
            note(bass, root, start + 0.5 * k, 0.45, 95)
    elif style == "offbeat":
        for k in range(length):
            note(bass, root, start + k + 0.5, 0.4, 100)
            note(bass, root + 12 if k % 2 else root, start + k + 0.75, 0.2, 80)
    elif style == "walking":
        targets = [root, _near(pcs[1], root + 4, 28, 52), _near(pcs[2], root + 7, 28, 52)]
        for k in range(length):
            pitch = targets[k] if k < 3 else root + int(rng.choice([-1, 1, 2]))
            note(bass, pitch, start + k, 0.9, 85)
    elif style == "syncopated":
        for offset, length_ in ((0.0, 0.75), (1.5, 0.5), (2.75, 0.75)):
            if offset < length:
                note(bass, root, start + offset, length_, 100)
    elif style == "halves":
        for k in range(0, length, 2):
            note(bass, root if k == 0 else _near(pcs[2], root + 7, 28, 52), start + k, 1.9, 70)
    else:  # long
        note(bass, root, start, length, 60)


def _melody(note, lead, genre: Genre, chords, scale, tonic: int, n_beats: int, rng, level_at) -> None:
    pool = [p for p in range(60, 88) if (p - tonic) % 12 in scale]
    position = float(rng.integers(len(pool) // 3, 2 * len(pool) // 3))
    t = 0.0
    chord_at = {int(b): pcs for b, pcs in chords}
    current = chords[0][1]
    while t < n_beats:
        level = level_at(t)
        length = float(rng.choice(genre.melody_steps)) * (2.0 if level == 0 else 1.0)  # quiet: half as many notes
        current = chord_at.get(int(t) - int(t) % genre.chord_beats, current)
        if rng.random() < genre.rest_prob + (0.25 if level == 0 else 0.0):
            t += length
            continue
        position = float(np.clip(position + rng.choice([-2, -1, -1, 1, 1, 2, 0]), 0, len(pool) - 1))
        pitch = pool[int(position)]
        if abs(t - round(t)) < 1e-6 and int(t) % 2 == 0:  # strong beat: nearest chord tone
            pitch = min((p for p in pool if p % 12 in current), key=lambda p: abs(p - pitch), default=pitch)
            position = float(pool.index(pitch))
        note(lead, pitch, t, length * 0.95, 88 if int(t) % 4 == 0 else 78)
        t += length


def _backbeat(note, drums, b0: float, hats: tuple[int, int], kicks: tuple[float, ...], kick_velocity: int) -> None:
    """One bar of a backbeat groove from beat ``b0``: eighth-note closed hi-hat (velocities on / off the beat), kicks
    on the beats ``kicks``, snare on beats 2 and 4."""
    for k in range(8):
        note(drums, CLOSED_HAT, b0 + 0.5 * k, 0.2, hats[k % 2])
    for k in kicks:
        note(drums, KICK, b0 + k, 0.2, kick_velocity)
    for k in (1, 3):
        note(drums, SNARE, b0 + k, 0.2, 110)


def _drums(note, drums, genre: Genre, n_beats: int, rng, level_at) -> None:
    """The genre's groove, bar by bar; bars of energy level 0 have no drums (the drums drop out and come back)."""
    bars = int(np.ceil(n_beats / 4))
    for bar in range(bars):
        b0 = 4 * bar
        if level_at(b0) == 0:
            continue
        fill = bar % 4 == 3 or (bar + 1 < bars and level_at(b0 + 4) != level_at(b0))
        if bar % 4 == 0 or (bar > 0 and level_at(b0 - 4) == 0):  # every four bars, and when the drums come back
            note(drums, CRASH, b0, 1.0, 100)
        if genre.drums == "rock":
            _backbeat(note, drums, b0, (85, 65), (0, 2, 2.5), 110)
        elif genre.drums == "four":
            for k in range(4):
                note(drums, KICK, b0 + k, 0.2, 115)
                note(drums, OPEN_HAT, b0 + k + 0.5, 0.2, 80)
            for k in (1, 3):
                note(drums, CLAP, b0 + k, 0.2, 100)
            for k in range(16):
                note(drums, CLOSED_HAT, b0 + 0.25 * k, 0.1, 55 if k % 2 else 70)
        elif genre.drums == "swing":
            for k in (0, 1, 1.5, 2, 3, 3.5):
                note(drums, RIDE, b0 + k, 0.3, 75 if k == int(k) else 60)
            for k in (1, 3):
                note(drums, PEDAL_HAT, b0 + k, 0.2, 70)
            note(drums, KICK, b0, 0.2, 60)
        elif genre.drums == "boombap":
            _backbeat(note, drums, b0, (75, 55), (0, 1.75, 2.5), 115)
        if fill:  # a fill over the last beat, into the next bar's crash
            for i, k in enumerate((3.0, 3.25, 3.5, 3.75)):
                note(drums, (HIGH_TOM, HIGH_TOM, LOW_TOM, SNARE)[i], b0 + k, 0.2, 90 + 5 * i)

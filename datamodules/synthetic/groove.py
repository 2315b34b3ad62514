"""Synthetic Groove MIDI Dataset v1.0.0 (docs/DATASETS.md §13): rule-played drum performances in the GMD tree.

Writes ``info.csv`` (the 11 GMD columns; ``audio_filename`` left empty, as for the real rows without audio) and
``drummerN/<session>/<id>_<style>_<bpm>_<beat|fill>_<ts>.mid``: one drum track (MIDI channel 10) with the Roland
TD-11 pitches the real files use (head / rim / cross-stick snare 38 / 40 / 37, hi-hat bow / edge / pedal 42 / 22 / 44,
open hi-hat 46 / 26, toms 48 / 50, 45 / 47, 43 / 58, crashes 49 / 55 / 57 / 52, ride 51 / 59 / 53), a tempo of
``bpm`` (60-200) and the time signature (mostly 4-4, waltzes in 3-4), plus ``SYNTHETIC.json``.

Playing rules: each style has its one-bar pattern (:data:`datamodules.synthetic.drums.PATTERNS`, or a waltz), its
feel (8th- or 16th-note swing, a laid-back or pushed backbeat), its accents (hi-hat on the beats or off them, rim
shots on accented snares, cross-stick in soft styles) and its tempo range; each drummer has a timing spread and a
dynamic range. Bars vary (ghost notes, extra or dropped kicks, an open hi-hat closing the bar, a short fill closing
every 4-bar phrase with a crash on the next downbeat); ``fill`` files are a bar of groove and a bar-long tom/snare
fill.
"""

from __future__ import annotations

import csv
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datamodules.groove_midi import COLUMNS  # the info.csv columns the reader expects
from datamodules.synthetic.drums import (
    CLOSED,
    CRASH,
    FILLS,
    HIGH_TOM,
    KICK,
    LOW_TOM,
    MID_TOM,
    OPEN,
    PATTERNS,
    RIDE,
    SNARE,
)
from datamodules.synthetic.marker import write_marker

OWN_PATTERNS: dict[str, dict[int, str]] = {  # besides drums.PATTERNS: jazz ride ("spang-a-lang"), waltzes (3-4)
    "jazz": {RIDE: "8...8.6.8...8.6.", CLOSED: "....6.......6...", KICK: "3...3...3...3...", SNARE: "..........3....."},
    "jazzwaltz": {RIDE: "8...8.6.8.6.", CLOSED: "....6...6...", KICK: "3...........", SNARE: "......2....."},
    "waltz": {KICK: "9.......7...", SNARE: "....6...6...", CLOSED: "7.4.6.4.6.4."},
}  # fmt: skip


@dataclass(frozen=True)
class Style:
    """How a GMD style is played: pattern, beats per bar, tempo range, swing of the 8ths / 16ths (where the second
    8th / 16th falls as a fraction of its pair: 0.5 straight, 2/3 triplet), backbeat push (16th steps, + = late),
    hi-hat accents ("on" the beats, "off" them, or "flat"), soft snare (cross-stick)."""

    pattern: str
    beats: int
    tempo: tuple[int, int]
    swing8: float = 0.5
    swing16: float = 0.5
    push: float = 0.0
    accents: str = "on"
    soft: bool = False


STYLES: dict[str, Style] = {
    "rock": Style("rock", 4, (90, 160)),
    "rock/indie": Style("rock", 4, (110, 180), accents="off"),
    "funk/groove1": Style("funk", 4, (85, 120), push=-0.04, accents="off"),
    "hiphop": Style("hiphop", 4, (70, 100), swing16=0.6, push=0.12),
    "soul/groove3": Style("disco", 4, (90, 125), push=0.08, accents="off"),
    "jazz/swing": Style("jazz", 4, (110, 200), swing8=2 / 3, soft=True),
    "jazz/waltz": Style("jazzwaltz", 3, (100, 180), swing8=2 / 3, soft=True),
    "latin/samba": Style("latin", 4, (90, 200), accents="flat"),
    "latin/bossa": Style("latin", 4, (60, 90), soft=True, accents="flat"),
    "country/waltz": Style("waltz", 3, (90, 160)),
    "dance/disco": Style("disco", 4, (110, 130), accents="off"),
    "blues/shuffle": Style("rock", 4, (60, 110), swing8=2 / 3, push=0.05),
}
# the 22 Roland TD-11 pitches of the GMD: per class, (normal, accented / variant, ...)
PITCHES = {
    KICK: (36,), SNARE: (38, 40, 37), CLOSED: (42, 22, 44), OPEN: (46, 26), LOW_TOM: (43, 58), MID_TOM: (45, 47),
    HIGH_TOM: (48, 50), CRASH: (49, 55, 57, 52), RIDE: (51, 59, 53),
}  # fmt: skip
SESSIONS = ("session1", "session2", "eval_session")


def _pattern(style: Style) -> dict[int, str]:
    return OWN_PATTERNS.get(style.pattern) or PATTERNS[style.pattern]


def _position(step: int, style: Style) -> float:
    """Where a 16th step of the bar is played (in 16th steps) under the style's swing and backbeat push."""
    within = step % 4
    shift = 0.0
    if within == 2:
        shift += 4 * style.swing8 - 2  # second 8th of the beat
    elif within in (1, 3):
        base = 4 * style.swing8 - 2 if within == 3 else 0.0
        shift += base + 2 * style.swing16 - 1  # second 16th of its pair
    return step + shift


def _velocity(drum: int, step: int, level: int, style: Style, dynamics: float, rng: np.random.Generator) -> int:
    value = level / 9.0
    if drum in (CLOSED, RIDE, OPEN):
        on_beat = step % 4 == 0
        if style.accents == "on":
            value *= 1.0 if on_beat else 0.7
        elif style.accents == "off":
            value *= 0.7 if on_beat else 1.0
    if step == 0:
        value *= 1.1  # the downbeat
    value = value * dynamics + rng.normal(0, 0.05)
    return int(np.clip(round(value * 127), 8, 127))


def _pitch(drum: int, velocity: int, style: Style, rng: np.random.Generator) -> int:
    choices = PITCHES[drum]
    if drum == SNARE:
        if style.soft and velocity < 90:
            return 37  # cross-stick
        return 40 if velocity > 112 else 38  # rim shot on the hardest hits
    if drum == CLOSED:
        if style.pattern.startswith("jazz"):
            return 44  # the pedal hi-hat on 2 and 4
        return 22 if velocity > 105 else 42
    if drum == RIDE:
        return 53 if velocity > 115 else (59 if rng.random() < 0.15 else 51)
    return int(choices[int(rng.integers(len(choices)))]) if rng.random() < 0.3 else int(choices[0])


def _bar(style: Style, rng: np.random.Generator) -> dict[int, str]:
    """One bar of the style's pattern with this bar's variation (ghost notes, kicks added / dropped, open hi-hat)."""
    steps = 4 * style.beats
    bar = {drum: list(text[:steps].ljust(steps, ".")) for drum, text in _pattern(style).items()}
    for drum in (KICK, SNARE):
        bar.setdefault(drum, ["."] * steps)
    if rng.random() < 0.5:  # a ghost snare
        bar[SNARE][int(rng.choice([s for s in range(steps) if s % 4 in (1, 3)]))] = "2"
    if rng.random() < 0.4:  # an extra kick on an off-beat 16th or 8th
        bar[KICK][int(rng.choice([s for s in range(2, steps) if s % 2 == 0 and s % 4]))] = "7"
    if rng.random() < 0.2:  # a kick left out (never the downbeat)
        kicks = [s for s, c in enumerate(bar[KICK]) if c != "." and s]
        if kicks:
            bar[KICK][int(rng.choice(kicks))] = "."
    if rng.random() < 0.3 and not style.pattern.startswith("jazz"):  # open hi-hat closing the bar
        bar.setdefault(OPEN, ["."] * steps)[steps - 2] = "7"
        if CLOSED in bar:
            bar[CLOSED][steps - 2] = "."
    return {drum: "".join(chars) for drum, chars in bar.items()}


def _fill(style: Style, beats: int, rng: np.random.Generator) -> dict[int, str]:
    """A fill over the last ``beats`` beats of a bar: one-beat tom / snare figures, kicks under them."""
    steps = 4 * style.beats
    bar = {drum: ["."] * steps for drum in (SNARE, LOW_TOM, MID_TOM, HIGH_TOM, KICK)}
    for beat in range(style.beats - beats, style.beats):
        figure = FILLS[int(rng.integers(len(FILLS)))]
        for drum, text in figure.items():
            for k, char in enumerate(text):
                if char != ".":
                    bar[drum][4 * beat + k] = char
        bar[KICK][4 * beat] = "7"
    return {drum: "".join(chars) for drum, chars in bar.items()}


def perform(style: Style, bars: int, bpm: float, fill_file: bool, rng: np.random.Generator):
    """A ``pretty_midi.PrettyMIDI`` of ``bars`` bars of ``style`` at ``bpm`` (a fill file: groove bar + fill bar)."""
    import pretty_midi

    step = 60.0 / bpm / 4.0
    spread = float(rng.uniform(0.03, 0.08))  # the drummer's timing spread (16th steps)
    dynamics = float(rng.uniform(0.8, 1.05))
    steps = 4 * style.beats
    drums = pretty_midi.Instrument(program=0, is_drum=True, name="drums")
    for bar in range(bars):
        last = bar == bars - 1
        if fill_file:
            score = _bar(style, rng) if bar < bars - 1 else _fill(style, style.beats, rng)
        else:
            score = _bar(style, rng)
            if bar % 4 == 3 and not last:
                fill = _fill(style, 1 if rng.random() < 0.7 else 2, rng)
                first = min(s for text in fill.values() for s, c in enumerate(text) if c != ".")
                score = {d: t[:first] + "." * (steps - first) for d, t in score.items()}
                for drum, text in fill.items():
                    merged = score.get(drum, "." * steps)
                    score[drum] = merged[:first] + text[first:]
        if bar % 4 == 0 and (bar or not fill_file):
            score[CRASH] = "9" + score.get(CRASH, "." * steps)[1:]
            score[CLOSED] = "." + score.get(CLOSED, "." * steps)[1:]
        for drum in sorted(score):
            for s, char in enumerate(score[drum]):
                if char == ".":
                    continue
                position = _position(s, style)
                if drum == SNARE and s % 4 == 0:
                    position += style.push
                position += rng.normal(0, spread)
                start = max((bar * steps + position) * step, 0.0)
                velocity = _velocity(drum, s, int(char), style, dynamics, rng)
                pitch = _pitch(drum, velocity, style, rng)
                drums.notes.append(pretty_midi.Note(velocity, pitch, start, start + 0.1))
    drums.notes.sort(key=lambda n: (n.start, n.pitch))
    midi = pretty_midi.PrettyMIDI(initial_tempo=float(bpm))
    midi.time_signature_changes.append(pretty_midi.TimeSignature(style.beats, 4, 0.0))
    midi.instruments.append(drums)
    return midi


def write(out: Path, minutes: float, seed: int) -> Path:
    """Write a synthetic Groove MIDI dataset of about ``minutes`` minutes of drumming to ``out``; returns ``out``."""
    out = Path(out)
    rng = np.random.default_rng([seed, zlib.crc32(b"groove")])
    names = sorted(STYLES)
    total = minutes * 60.0
    drummers = int(np.clip(round(minutes * 2), 2, 10))
    rows, spent, index = [], 0.0, 0
    counters: dict[str, int] = {}
    while spent < total or index < 6:
        style_name = names[int(rng.integers(len(names)))] if index >= 3 else ("rock", "funk/groove1", "hiphop")[index]
        style = STYLES[style_name]
        fill_file = index % 4 == 3
        bpm = int(rng.integers(style.tempo[0], style.tempo[1] + 1))
        bars = 2 if fill_file else int(rng.integers(6, 17))
        drummer = f"drummer{int(rng.integers(drummers)) + 1}"
        session = f"{drummer}/{SESSIONS[int(rng.integers(len(SESSIONS)))]}"
        counters[session] = counters.get(session, 0) + 1
        identifier = f"{session}/{counters[session]}"
        signature = f"{style.beats}-4"
        beat_type = "fill" if fill_file else "beat"
        filename = f"{identifier}_{style_name.replace('/', '-')}_{bpm}_{beat_type}_{signature}.mid"
        midi = perform(style, bars, float(bpm), fill_file, rng)
        path = out / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        midi.write(str(path))
        duration = bars * style.beats * 60.0 / bpm
        spent += duration
        rows.append(
            {
                "drummer": drummer,
                "session": session,
                "id": identifier,
                "style": style_name,
                "bpm": str(bpm),
                "beat_type": beat_type,
                "time_signature": signature,
                "midi_filename": filename,
                "audio_filename": "",
                "duration": f"{duration:.6f}",
                "split": "",
            }
        )
        index += 1
    # official-style split: about 80 / 10 / 10, every split with at least one 4-4 beat
    four = [k for k, r in enumerate(rows) if r["time_signature"] == "4-4" and r["beat_type"] == "beat"]
    roles = ["train"] * len(rows)
    order = [int(k) for k in rng.permutation(len(rows))]
    held = max(1, int(round(0.1 * len(rows))))
    for k in order[:held]:
        roles[k] = "validation"
    for k in order[held : 2 * held]:
        roles[k] = "test"
    for role, k in zip(("train", "validation", "test"), [four[int(j)] for j in rng.permutation(len(four))][:3]):
        roles[k] = role
    for row, role in zip(rows, roles):
        row["split"] = role
    with open(out / "info.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    write_marker(
        out,
        "groove",
        minutes,
        seed,
        note="SYNTHETIC Groove MIDI: rule-played drum performances (style patterns, swing, accents, fills) in the GMD "
        "v1.0.0 layout (datamodules/synthetic/groove.py). Not a real recording; no audio.",
        styles={name: vars(style) for name, style in STYLES.items()},
    )
    return out


__all__ = ["PITCHES", "STYLES", "Style", "perform", "write"]

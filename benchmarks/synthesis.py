"""FluidSynth real-time factor of :func:`music.synth.render` (seconds of computation per second of audio).

The test piece is a seeded random solo-piano performance (pretty_midi): eighth notes at 120 bpm, two-note chords,
for ``seconds`` of music, rendered with the default General-MIDI SoundFont at each sample rate.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pretty_midi

from music.synth import default_soundfont, real_time_factor


def piece(seconds: float, seed: int = 0, program: int = 0) -> pretty_midi.PrettyMIDI:
    rng = np.random.default_rng(seed)
    midi = pretty_midi.PrettyMIDI()
    instrument = pretty_midi.Instrument(program=program)
    for start in np.arange(0.0, seconds, 0.25):
        for pitch in rng.integers(48, 84, size=2):
            velocity = int(rng.integers(60, 110))
            instrument.notes.append(pretty_midi.Note(velocity, int(pitch), float(start), float(start) + 0.4))
    midi.instruments.append(instrument)
    return midi


def bench(seconds: float = 30.0, sample_rates: tuple[int, ...] = (16000, 44100)) -> dict[str, Any]:
    midi = piece(seconds)
    results: dict[str, Any] = {"music_seconds": seconds, "soundfont": default_soundfont().name}
    for rate in sample_rates:
        rtf = real_time_factor(midi, sample_rate=rate)
        results[f"rtf_{rate}"] = rtf
        results[f"x_realtime_{rate}"] = 1.0 / rtf
    return results

"""Symbolic music: the representations the five papers predict, and rendering them to audio.

Public API (submodules load on first use, so ``import music`` stays cheap):

- :mod:`music.events` -- Foley Music's performance events (VOCAB_SIZE 243): ``encode(midi)``, ``decode(ids)``.
- :mod:`music.roll` -- piano rolls: ``midi_to_roll(midi, fps, low=21, high=108)``, ``roll_to_midi(roll, fps, ...)``.
- :mod:`music.groove` -- drum grooves (hits / velocities / offsets at 16th notes, 9 drum classes) <-> MIDI.
- :mod:`music.remi` -- REMI tokens for multi-track music (miditok).
- :mod:`music.edit` -- transpose and change the instrument of a MIDI (Foley Music §4.4).
- :mod:`music.synth` -- ``render(midi, sample_rate=16000, soundfont=None)``: FluidSynth, float32 mono.
- :mod:`music.corpus` -- ``load_corpus_midi(name)``: music21 corpus works as MIDI, cached on disk.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["corpus", "edit", "events", "groove", "remi", "roll", "synth"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

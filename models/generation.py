"""The small protocol between models, the media callback and ``python cli.py generate``.

A model that can make music implements ``generate_examples(batch)`` (used at validation/test end by
:class:`callbacks.media.MediaLogger`) and ``generate_from_video(video, keypoints=None)`` (used by ``cli.py generate``).
Both return :class:`Example` objects: symbolic output as a ``pretty_midi.PrettyMIDI``, waveform output as float32
audio, or both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np


@dataclass
class Example:
    """One generated (or reference) piece of music, named for logging and file output."""

    name: str
    midi: Any | None = None  # pretty_midi.PrettyMIDI
    audio: np.ndarray | None = None  # float32 mono waveform
    sample_rate: int = 16000
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.midi is None and self.audio is None:
            raise ValueError(f"Example {self.name!r} has neither MIDI nor audio")
        if self.audio is not None:
            self.audio = np.asarray(self.audio, dtype=np.float32).reshape(-1)


@runtime_checkable
class GeneratesExamples(Protocol):
    """Models whose validation/test batches can be turned into music for TensorBoard."""

    def generate_examples(self, batch: dict[str, Any]) -> list[Example]: ...


@runtime_checkable
class GeneratesFromVideo(Protocol):
    """Models that turn a silent video (and optionally its pre-extracted keypoints) into a soundtrack."""

    def generate_from_video(self, video: str, keypoints: str | None = None) -> Example: ...


def write_soundtrack(example: Example, video: Path, out: Path) -> dict[str, Path]:
    """Write ``example`` as ``out``'s ``.mid`` (if symbolic) and ``.wav``, and ``out`` = ``video`` with that sound.

    Symbolic examples are rendered with FluidSynth (:func:`music.synth.render`) at the example's sample rate.
    Every file is written atomically (temporary name, then rename).
    """
    from datamodules.mux import mux_audio
    from music.synth import render

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    if example.midi is not None:
        midi_path = out.with_suffix(".mid")
        tmp = midi_path.with_name(f".{midi_path.name}.tmp")
        example.midi.write(str(tmp))
        tmp.replace(midi_path)
        paths["midi"] = midi_path
    audio = example.audio if example.audio is not None else render(example.midi, sample_rate=example.sample_rate)
    wav_path = out.with_suffix(".wav")
    write_wav(wav_path, audio, example.sample_rate)
    paths["wav"] = wav_path
    paths["video"] = mux_audio(video, audio, example.sample_rate, out)
    return paths


def write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> Path:
    """Atomically write float32 mono ``audio`` as 16-bit PCM WAV."""
    import soundfile as sf

    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp.wav")
    sf.write(str(tmp), np.clip(audio, -1.0, 1.0), sample_rate, subtype="PCM_16")
    tmp.replace(path)
    return path

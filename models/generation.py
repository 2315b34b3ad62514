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

ROLES = ("generated", "reference")


@dataclass
class Example:
    """One piece of music, named for logging and file output: ``role`` says whether the model generated it
    (``"generated"``) or it is the ground truth it is compared with (``"reference"``)."""

    name: str
    midi: Any | None = None  # pretty_midi.PrettyMIDI
    audio: np.ndarray | None = None  # float32 mono waveform
    sample_rate: int = 16000
    extra: dict[str, Any] = field(default_factory=dict)
    role: str = "generated"

    def __post_init__(self) -> None:
        if self.midi is None and self.audio is None:
            raise ValueError(f"Example {self.name!r} has neither MIDI nor audio")
        if self.role not in ROLES:
            raise ValueError(f"Example {self.name!r}: role must be one of {ROLES}, got {self.role!r}")
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

    Symbolic examples are rendered with FluidSynth (:func:`music.synth.render`) at the example's sample rate. The
    soundtrack (WAV and MP4) lasts exactly as long as the video (:func:`fit_duration`: silence added, or the
    synthesizer's tail after the last frame cut); the video stream is never cut. Every file is written atomically
    (temporary name, then rename).
    """
    from datamodules.mux import mux_audio
    from models.video_windows import video_info
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
    audio = fit_duration(audio, video_info(video)[1], example.sample_rate)
    wav_path = out.with_suffix(".wav")
    write_wav(wav_path, audio, example.sample_rate)
    paths["wav"] = wav_path
    paths["video"] = mux_audio(video, audio, example.sample_rate, out)
    return paths


def fit_duration(audio: np.ndarray, seconds: float, sample_rate: int, fade: float = 0.02) -> np.ndarray:
    """``audio`` made exactly ``round(seconds * sample_rate)`` samples long: padded with silence, or cut with a
    ``fade``-second linear fade-out (no click at the cut)."""
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    length = int(round(seconds * sample_rate))
    if len(audio) <= length:
        return np.pad(audio, (0, length - len(audio)))
    out = audio[:length].copy()
    ramp = min(length, int(round(fade * sample_rate)))
    if ramp > 0:
        out[length - ramp :] *= np.linspace(1.0, 0.0, ramp, dtype=np.float32)
    return out


def write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> Path:
    """Atomically write float32 mono ``audio`` as 16-bit PCM WAV."""
    import soundfile as sf

    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp.wav")
    sf.write(str(tmp), np.clip(audio, -1.0, 1.0), sample_rate, subtype="PCM_16")
    tmp.replace(path)
    return path

"""Turning one clip of a recording into the batch fields of design.md (shared by every DataModule).

- :func:`keypoint_clip`: raw keypoints at the source rate -> missing joints interpolated (MI Net §3), resampled to
  the clip's fps, converted to the requested layout, normalised -> float ``[T, J, 3]``;
- :func:`symbolic_fields`: the clip's MIDI window -> ``events`` (Foley Music vocabulary, ``[SOS] ... [EOS]`` padded
  to ``max_events``) + ``events_mask`` and a piano ``roll`` ``[K, T]`` at the clip's fps;
- :func:`audio_field`: the clip's audio at the model's sample rate.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Literal, Optional

import numpy as np
import pretty_midi
import torch

from datamodules.audio import load_audio
from datamodules.keypoints import interpolate_missing, missing_mask, normalize, resample
from datamodules.layouts import convert, get_layout
from datamodules.midi import midi_window

KEYPOINT_CONTEXT_SECONDS = 2.0  # extra source frames read on each side so gaps at clip borders interpolate well

Normalization = Literal["bbox", "image", "none"]


def keypoint_clip(
    read: Callable[[int, int], np.ndarray],
    src_layout: str,
    src_fps: float,
    start: float,
    duration: float,
    fps: float,
    layout: Optional[str] = None,
    normalization: Normalization = "bbox",
    image_size: Optional[tuple[float, float]] = None,
    interpolate: bool = True,
) -> torch.Tensor:
    """Keypoints of ``[start, start + duration)`` at ``fps`` in ``layout`` (default: the source layout).

    ``read(first, count)`` returns source frames ``first .. first + count - 1`` as ``[count, J, 3]`` (frames outside
    the recording all-missing); source frame i is at time ``i / src_fps``."""
    margin = int(math.ceil(KEYPOINT_CONTEXT_SECONDS * src_fps)) if interpolate else 1
    first = max(0, int(math.floor(start * src_fps)) - margin)
    last = int(math.ceil((start + duration) * src_fps)) + margin
    raw = np.asarray(read(first, last - first), dtype=np.float32)
    if raw.ndim != 3 or raw.shape[1] != get_layout(src_layout).num_joints or raw.shape[2] != 3:
        raise ValueError(
            f"keypoint reader returned shape {raw.shape}, expected [T, {get_layout(src_layout).num_joints}, 3]"
        )
    if interpolate and (~missing_mask(raw)).any():
        raw = interpolate_missing(raw, src_layout)
    clip = resample(raw, src_fps, fps, start=start - first / src_fps, num_frames=int(round(duration * fps)))
    if layout is not None and get_layout(layout).name != get_layout(src_layout).name:
        clip = convert(clip, src_layout, layout)
    clip = normalize(clip, normalization, image_size=image_size)
    return torch.from_numpy(np.ascontiguousarray(clip, dtype=np.float32))


def symbolic_fields(
    midi: pretty_midi.PrettyMIDI,
    start: float,
    duration: float,
    fps: float,
    max_events: int = 512,
    roll_low: int = 21,
    roll_high: int = 108,
    fields: tuple[str, ...] = ("events", "roll"),
    binary_roll: bool = False,
    drop_outlasting: bool = False,
) -> dict[str, torch.Tensor]:
    """``events`` long ``[max_events]`` + ``events_mask`` bool (True on real tokens, SOS/EOS included) from the notes
    starting in the window, and ``roll`` float ``[K, T]`` (T = duration * fps, velocity / 127, or 0/1 with
    ``binary_roll``: MI Net §3.3 ignores the dynamics) of the notes sounding in it. ``drop_outlasting`` leaves the
    notes that end after the window out of ``events`` (Foley Music's released clip reader) instead of clipping them."""
    out: dict[str, torch.Tensor] = {}
    if "events" in fields:
        from music.events import PAD, encode, to_fixed_length

        window = midi_window(midi, start, duration, drop_outlasting=drop_outlasting)
        ids = torch.tensor(to_fixed_length(encode(window), max_events), dtype=torch.long)
        out["events"] = ids
        out["events_mask"] = ids != PAD
    if "roll" in fields:
        from music.roll import midi_to_roll

        window = midi_window(midi, start, duration, keep_sustained=True)
        frames = int(round(duration * fps))
        out["roll"] = torch.from_numpy(
            midi_to_roll(window, fps, low=roll_low, high=roll_high, frames=frames, binary=binary_roll)
        )
    return out


def audio_field(path: str | Path, start: float, duration: float, sample_rate: int) -> torch.Tensor:
    """Float ``[round(duration * sample_rate)]`` mono audio of the clip (zero-padded past the file's end)."""
    return torch.from_numpy(load_audio(path, sample_rate, start=start, duration=duration))


__all__ = ["KEYPOINT_CONTEXT_SECONDS", "audio_field", "keypoint_clip", "symbolic_fields"]

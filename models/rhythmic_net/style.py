"""RhythmicNet's style rules (§3, "Rhythm"): sharp movements between the beats, and the rhythm on a 16th grid.

The beats alone give a metronome; the dancer's sharp moves add the taps between them. Rules (no learning):

1. keypoints resampled to ``style_fps`` (15, code);
2. a directogram per frame (Davis & Agrawala 2018): the joints' frame-to-frame motion binned by direction into
   ``bins`` (12, code) angle bins, each bin summing the motion magnitudes;
3. kinematic offsets: the mean over bins of the positive first difference of the directogram (a jump in motion in
   some direction = a sharp move);
4. an STFT of the offset envelope (``n_fft`` 16, hop 4): the magnitude of the highest frequency bin per STFT frame
   measures how abruptly the motion changes; frames in the top ``top_fraction`` (10 %) over the whole video are
   style events (the code's variant, bin 0 and the top 10 % per second, is ``bin_index=0``,
   ``per_second=True``); each STFT frame stands for ``hop`` frames (upsampled x4).

:func:`rhythm_grid` lays beats and style events on a 16th-note grid anchored at the first beat, with the median
beat interval as the beat length: a step is a tap (1) when a beat or a style event falls nearest to it.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _xy(keypoints: Any) -> np.ndarray:
    array = np.asarray(keypoints, dtype=np.float64)
    if array.ndim != 3 or array.shape[-1] < 2:
        raise ValueError(f"style: keypoints must be [T, V, C>=2], got shape {array.shape}")
    if array.shape[0] < 2:
        raise ValueError(f"style: needs at least 2 frames, got {array.shape[0]}")
    return array[..., :2]


def resample(keypoints: Any, fps: float, target_fps: float) -> np.ndarray:
    """Keypoints ``[T, V, C]`` at ``fps`` linearly resampled to ``target_fps``."""
    array = np.asarray(keypoints, dtype=np.float64)
    if fps <= 0 or target_fps <= 0:
        raise ValueError(f"style: fps must be positive, got {fps}, {target_fps}")
    duration = (array.shape[0] - 1) / fps
    times = np.arange(0.0, duration + 1e-9, 1.0 / target_fps)
    source = np.arange(array.shape[0]) / fps
    flat = array.reshape(array.shape[0], -1)
    out = np.stack([np.interp(times, source, flat[:, i]) for i in range(flat.shape[1])], axis=1)
    return out.reshape(len(times), *array.shape[1:])


def directogram(keypoints: Any, bins: int = 12) -> np.ndarray:
    """``[T, bins]``: per frame, the joints' motion magnitudes summed by direction bin (frame 0: zeros)."""
    xy = _xy(keypoints)
    motion = np.diff(xy, axis=0)  # [T-1, V, 2]
    angle = np.mod(np.arctan2(motion[..., 1], motion[..., 0]), 2 * np.pi)
    index = np.minimum((angle / (2 * np.pi) * bins).astype(int), bins - 1)
    magnitude = np.linalg.norm(motion, axis=-1)
    out = np.zeros((xy.shape[0], bins))
    for t in range(motion.shape[0]):
        np.add.at(out[t + 1], index[t], magnitude[t])
    return out


def kinematic_offsets(directogram_: np.ndarray) -> np.ndarray:
    """``[T]``: the mean over bins of the positive first difference (frame 0: 0)."""
    flux = np.maximum(np.diff(directogram_, axis=0), 0.0).mean(axis=1)
    return np.concatenate([[0.0], flux])


def style_events(
    keypoints: Any,
    fps: float,
    style_fps: float = 15.0,
    bins: int = 12,
    n_fft: int = 16,
    hop: int = 4,
    bin_index: int = -1,
    top_fraction: float = 0.1,
    per_second: bool = False,
) -> np.ndarray:
    """Times (s) of the style events of keypoints ``[T, V, C]`` at ``fps`` (see the module docstring)."""
    if not 0 < top_fraction <= 1:
        raise ValueError(f"style: top_fraction must be in (0, 1], got {top_fraction}")
    frames = resample(_xy(keypoints), fps, style_fps)
    envelope = kinematic_offsets(directogram(frames, bins))
    padded = np.pad(envelope, (n_fft // 2, n_fft // 2))
    starts = np.arange(0, len(padded) - n_fft + 1, hop)
    window = np.hanning(n_fft)
    spectrum = np.abs(np.fft.rfft(np.stack([padded[s : s + n_fft] * window for s in starts]), axis=1))
    strength = spectrum[:, bin_index]
    chosen = np.zeros(len(strength), dtype=bool)
    groups = [np.arange(len(strength))]
    if per_second:
        per = max(1, int(round(style_fps / hop)))
        groups = [np.arange(i, min(i + per, len(strength))) for i in range(0, len(strength), per)]
    for group in groups:
        keep = max(1, int(np.ceil(top_fraction * len(group))))
        order = group[np.argsort(strength[group])[::-1][:keep]]
        chosen[order[strength[order] > 0]] = True
    # STFT frame k is centred on envelope frame k * hop: it stands for those hop frames (upsampled x hop)
    return np.flatnonzero(chosen) * hop / style_fps


def rhythm_grid(beats: Any, style: Any, duration: float, steps_per_beat: int = 4) -> tuple[np.ndarray, float, float]:
    """Taps ``[N]`` (int 0 / 1) on a 16th grid covering ``[0, duration)``, the grid's first step time and its step
    (s). The grid is anchored at the first beat, its beat the median beat interval; beats and style events each tap
    the nearest step."""
    beats = np.sort(np.asarray(beats, dtype=np.float64).reshape(-1))
    if len(beats) < 2:
        raise ValueError(f"style: a rhythm grid needs at least 2 beats, got {len(beats)}")
    step = float(np.median(np.diff(beats))) / steps_per_beat
    start = beats[0] - np.floor(beats[0] / step) * step
    count = max(1, int(np.ceil((duration - start) / step)))
    taps = np.zeros(count, dtype=np.int64)
    for times in (beats, np.asarray(style, dtype=np.float64).reshape(-1)):
        index = np.round((times - start) / step).astype(int)
        taps[index[(index >= 0) & (index < count)]] = 1
    return taps, float(start), step


__all__ = ["directogram", "kinematic_offsets", "resample", "rhythm_grid", "style_events"]

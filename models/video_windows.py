"""A whole video as consecutive fixed-length windows: the visual input of a clip model for ``cli.py generate``.

A model trained on clips of ``clip_seconds`` sees a video of any length as ``ceil(duration / clip_seconds)``
windows starting at ``k * clip_seconds``; the last one runs past the video's end and is padded there (keypoints
missing, feature rows repeating the last one), so the windows always cover the whole video. The model generates one
part per window, places part k at ``k * clip_seconds`` and cuts the result at :attr:`VideoWindows.duration`;
:func:`models.generation.write_soundtrack` then fits the audio to the video's length.

Keypoints come from a given source (an OpenPose JSON folder at the video's rate, a Foley Music ``.npy`` at 22 fps or
an AIST++ ``.pkl`` at 60 fps: docs/DATASETS.md) or are extracted offline from the video with
``prepare --task keypoints`` (:mod:`datamodules.prepare`); frame features come from :mod:`datamodules.features`
(1 row per second).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch
from torch import Tensor

log = logging.getLogger(__name__)

PathLike = Union[str, Path]


@dataclass
class VideoWindows:
    """The windows of one video: ``inputs`` ``[W, T, J, 3]`` keypoints or ``[W, T, D]`` features; window k starts at
    ``k * clip_seconds``; ``duration`` is the video's length in seconds."""

    inputs: Tensor
    duration: float
    clip_seconds: float

    @property
    def count(self) -> int:
        return int(self.inputs.shape[0])

    def start(self, k: int) -> float:
        """Start time (seconds) of window ``k``."""
        return k * self.clip_seconds


def video_info(video: PathLike) -> tuple[float, float]:
    """(native fps, duration in seconds) of a video file."""
    from datamodules.video import open_video

    video = Path(video)
    if not video.is_file():
        raise FileNotFoundError(f"video {video} does not exist")
    reader = open_video(video)
    return float(reader.fps), float(reader.duration)


def window_count(duration: float, clip_seconds: float) -> int:
    """Windows of ``clip_seconds`` needed to cover ``duration`` seconds (at least one)."""
    if clip_seconds <= 0:
        raise ValueError(f"clip_seconds must be positive, got {clip_seconds}")
    return max(1, math.ceil(duration / clip_seconds - 1e-6))


def keypoint_source_fps(source: PathLike, video_fps: float) -> float:
    """Frame rate of a keypoint source: an OpenPose JSON folder has one file per video frame; a Foley Music pose file
    (``.npy``) is at 22 fps; an AIST++ ``keypoints2d`` file (``.pkl``) at 60 fps (docs/DATASETS.md)."""
    from datamodules.aistpp import AIST_FPS
    from datamodules.urmp import FOLEY_POSE_FPS

    return {".npy": FOLEY_POSE_FPS, ".pkl": AIST_FPS}.get(Path(source).suffix, float(video_fps))


def extract_keypoints(video: PathLike) -> Path:
    """Keypoints of ``video`` extracted offline with ``prepare --task keypoints`` (OpenPose, else MediaPipe) into
    ``<video dir>/<stem>_keypoints/<stem>/`` (OpenPose JSON; reused when present)."""
    from datamodules.prepare import run

    video = Path(video)
    base = video.with_name(f"{video.stem}_keypoints")
    folder = base / video.stem
    if not (folder.is_dir() and any(folder.glob("*_keypoints.json"))):
        log.warning("no keypoints given for %s; extracting them offline into %s", video, folder)
        run("keypoints", video, base, progress=False)
    if not folder.is_dir():
        raise RuntimeError(f"keypoint extraction of {video} wrote nothing to {folder}")
    return folder


def padded_reader(sequence: np.ndarray) -> Callable[[int, int], np.ndarray]:
    """``(first, count) -> [count, J, 3]`` over ``sequence``, frames outside it all-missing (zeros)."""

    def read(first: int, count: int) -> np.ndarray:
        out = np.zeros((count, sequence.shape[1], 3), dtype=np.float32)
        lo, hi = max(first, 0), min(first + count, len(sequence))
        if hi > lo:
            out[lo - first : hi - first] = sequence[lo:hi]
        return out

    return read


def keypoint_windows(
    video: PathLike,
    clip_seconds: float,
    fps: float,
    layout: str,
    keypoints: Optional[PathLike] = None,
    normalization: str = "bbox",
) -> VideoWindows:
    """Keypoint windows ``[W, round(clip_seconds * fps), J, 3]`` of ``video`` in ``layout``, from ``keypoints`` (any
    source :func:`datamodules.keypoints.read_keypoints` reads) or extracted offline (:func:`extract_keypoints`);
    coordinates normalised as the DataModules do (:func:`datamodules.fields.keypoint_clip`)."""
    from datamodules.fields import keypoint_clip
    from datamodules.keypoints import read_keypoints

    video_fps, duration = video_info(video)
    source = extract_keypoints(video) if keypoints is None else Path(keypoints)
    sequence, source_layout = read_keypoints(source)
    read = padded_reader(sequence)
    source_fps = keypoint_source_fps(source, video_fps)
    windows = [
        keypoint_clip(
            read,
            source_layout,
            source_fps,
            k * clip_seconds,
            clip_seconds,
            fps,
            layout=layout,
            normalization=normalization,
        )
        for k in range(window_count(duration, clip_seconds))
    ]
    return VideoWindows(torch.stack(windows), duration, float(clip_seconds))


def feature_windows(video: PathLike, kind: str, clip_seconds: float) -> VideoWindows:
    """Frame-feature windows ``[W, round(clip_seconds), D]`` of ``video`` from the ``kind`` extractor of
    :mod:`datamodules.features` (1 row per second); the last window repeats the video's last row."""
    from datamodules.features import video_features

    _, duration = video_info(video)
    features = torch.from_numpy(video_features(Path(video), (kind,))[kind]).float()
    return row_windows(features, duration, clip_seconds)


def row_windows(rows: torch.Tensor, duration: float, clip_seconds: float) -> VideoWindows:
    """``[T, D]`` rows at 1 per second as the windows ``[W, round(clip_seconds), D]`` covering a ``duration``-s
    video; the last row is repeated past its end."""
    count, per_window = window_count(duration, clip_seconds), max(1, int(round(clip_seconds)))
    needed = count * per_window
    if rows.shape[0] < needed:
        rows = torch.cat([rows, rows[-1:].expand(needed - rows.shape[0], -1)])
    return VideoWindows(rows[:needed].reshape(count, per_window, -1), duration, float(clip_seconds))


__all__ = [
    "VideoWindows",
    "extract_keypoints",
    "feature_windows",
    "keypoint_source_fps",
    "keypoint_windows",
    "padded_reader",
    "row_windows",
    "video_info",
    "window_count",
]

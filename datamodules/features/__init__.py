"""Per-second visual features of videos, computed offline by ``python cli.py prepare --task features``.

Kinds (``FEATURE_KINDS``; the folder name under an MV100K root's ``features/``):

- ``effnet_lite0``: EfficientNet-Lite0 ImageNet embedding (1280-d) of the frame on screen at ``t + 0.5`` s
  (:mod:`datamodules.features.efficientnet`), standing in for V2Meow's CLIP features;
- ``flow``: Farneback optical-flow statistics of second t (45-d, :mod:`datamodules.features.flow`), standing in for
  V2Meow's I3D-flow features.

All are float32 ``[T, D]`` at 1 fps with ``T = floor(duration)`` (a video shorter than 1 s gives one row).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

FEATURE_DIMS = {"effnet_lite0": 1280, "flow": 45}
FEATURE_KINDS = tuple(FEATURE_DIMS)

_cache: dict[str, Any] = {}


def extractor(kind: str) -> Any:
    """The (cached) extractor of ``kind``."""
    if kind not in FEATURE_DIMS:
        raise ValueError(f"unknown feature kind {kind!r}; known: {', '.join(FEATURE_KINDS)}")
    if kind not in _cache:
        if kind == "effnet_lite0":
            from datamodules.features.efficientnet import EfficientNetLite0

            _cache[kind] = EfficientNetLite0()
        else:
            from datamodules.features.flow import FarnebackFlowFeatures

            _cache[kind] = FarnebackFlowFeatures()
    return _cache[kind]


def seconds_of(duration: float) -> int:
    """Rows of a 1-fps feature track for a video lasting ``duration`` seconds."""
    return max(1, int(math.floor(duration + 1e-6)))


def video_features(
    path: Union[str, Path], kinds: tuple[str, ...] = FEATURE_KINDS, video: Optional[Any] = None
) -> dict[str, np.ndarray]:
    """``{kind: float32 [T, D]}`` of one video file at 1 fps."""
    from datamodules.video import VideoFile

    video = video or VideoFile(path)
    seconds = seconds_of(video.duration)
    out = {}
    for kind in kinds:
        ext = extractor(kind)
        if kind == "effnet_lite0":
            indices = np.minimum(
                np.floor((np.arange(seconds) + 0.5) * video.fps + 1e-6).astype(np.int64), video.num_frames - 1
            )
            out[kind] = ext.embed(video.read_frames(indices))
        else:
            out[kind] = ext.video(video, seconds)
        if out[kind].shape != (seconds, FEATURE_DIMS[kind]) or not np.all(np.isfinite(out[kind])):
            raise RuntimeError(
                f"{kind} features of {path}: bad result {out[kind].shape} (expected [{seconds}, {FEATURE_DIMS[kind]}])"
            )
    return out


__all__ = ["FEATURE_DIMS", "FEATURE_KINDS", "extractor", "seconds_of", "video_features"]

"""Per-second visual features of videos, computed offline by ``python cli.py prepare --task features``.

Kinds (``FEATURE_KINDS``; the folder name under an MV100K root's ``features/``):

- ``effnet_lite0``: EfficientNet-Lite0 ImageNet embedding (1280-d) of the frame on screen at ``t + 0.5`` s
  (:mod:`datamodules.features.efficientnet`), standing in for V2Meow's CLIP features;
- ``flow``: Farneback optical-flow statistics of second t (45-d, :mod:`datamodules.features.flow`), standing in for
  V2Meow's I3D-flow features;
- ``effnet_tokens``: 49 discrete ids (vocabulary 8192) per frame at ``t + 0.5`` s, EfficientNet-Lite0's 7 x 7 patch
  features through a fixed random-projection quantiser (:mod:`datamodules.features.effnet_tokens`), standing in for
  V2Meow's ViT-VQGAN tokens.

The feature kinds (``FEATURE_DIMS``) are float32 ``[T, D]``, the token kinds (``TOKEN_DIMS``, vocabulary sizes in
``TOKEN_VOCAB``) int16 ``[T, P]``, all at 1 fps with ``T = floor(duration)`` (a video shorter than 1 s gives one row).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

FEATURE_DIMS = {"effnet_lite0": 1280, "flow": 45}
FEATURE_KINDS = tuple(FEATURE_DIMS)
TOKEN_DIMS = {"effnet_tokens": 49}
TOKEN_VOCAB = {"effnet_tokens": 8192}
KIND_DIMS = FEATURE_DIMS | TOKEN_DIMS  # every kind video_features computes

_cache: dict[str, Any] = {}


def extractor(kind: str) -> Any:
    """The (cached) extractor of ``kind``."""
    if kind not in KIND_DIMS:
        raise ValueError(f"unknown feature kind {kind!r}; known: {', '.join(KIND_DIMS)}")
    if kind not in _cache:
        if kind == "effnet_lite0":
            from datamodules.features.efficientnet import EfficientNetLite0

            _cache[kind] = EfficientNetLite0()
        elif kind == "effnet_tokens":
            from datamodules.features.effnet_tokens import EfficientNetTokens

            _cache[kind] = EfficientNetTokens(extractor("effnet_lite0"))
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
    """``{kind: [T, D]}`` of one video file at 1 fps: float32 for feature kinds, int16 ids for token kinds."""
    from datamodules.video import VideoFile

    video = video or VideoFile(path)
    seconds = seconds_of(video.duration)
    out, frame_features = {}, None
    for kind in kinds:
        ext = extractor(kind)
        if kind in ("effnet_lite0", "effnet_tokens"):
            if frame_features is None:  # one network pass serves both kinds, a chunk of frames at a time
                indices = np.minimum(
                    np.floor((np.arange(seconds) + 0.5) * video.fps + 1e-6).astype(np.int64), video.num_frames - 1
                )
                frames = video.read_frames(indices)
                pooled, ids = [], []
                for k in range(0, len(frames), 64):
                    chunk_pooled, maps = extractor("effnet_lite0").pooled_and_head(frames[k : k + 64])
                    pooled.append(chunk_pooled)
                    if "effnet_tokens" in kinds:
                        ids.append(extractor("effnet_tokens").quantize(maps))
                frame_features = {"effnet_lite0": np.concatenate(pooled), "effnet_tokens": ids and np.concatenate(ids)}
            out[kind] = frame_features[kind]
        else:
            out[kind] = ext.video(video, seconds)
        if out[kind].shape != (seconds, KIND_DIMS[kind]) or not np.all(np.isfinite(out[kind])):
            raise RuntimeError(
                f"{kind} features of {path}: bad result {out[kind].shape} (expected [{seconds}, {KIND_DIMS[kind]}])"
            )
    return out


__all__ = [
    "FEATURE_DIMS", "FEATURE_KINDS", "KIND_DIMS", "TOKEN_DIMS", "TOKEN_VOCAB", "extractor", "seconds_of",
    "video_features",
]  # fmt: skip

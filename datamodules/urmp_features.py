"""URMP clips with per-second visual features of their video (``visual_features`` [B, T, D]) beside the usual fields:
the input of appearance / optical-flow models (Foley Music Table 4's RGB and optical-flow rows).

Features are the suite's offline extractors (:mod:`datamodules.features`): ``effnet_lite0`` (EfficientNet-Lite0
ImageNet embedding of the frame at ``t + 0.5`` s, 1280-d) and ``flow`` (Farneback optical-flow statistics of second
``t``, 45-d), one row per second of video. They are computed once per video in ``setup`` and cached as
``<features_root>/<kind>/<video stem>.npy`` (written atomically); ``features_root`` defaults to
``<dataset root>/features``. A clip ``[start, start + clip_seconds)`` takes rows ``floor(start) ..`` (one per second,
the last row repeated past the video's end); several kinds are concatenated along D in the order asked.

The video is the track's ``VidSep_*`` when present, else the ensemble ``Vid_*`` (what URMP ships), so the features
see every player of the piece, not only the track's.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from torch.utils.data import Dataset

from datamodules.urmp import URMPDataModule

log = logging.getLogger(__name__)


def feature_file(features_root: Path, kind: str, video: Path) -> Path:
    return Path(features_root) / kind / f"{Path(video).stem}.npy"


def ensure_features(video: Path, kinds: tuple[str, ...], features_root: Path) -> dict[str, Path]:
    """The cached ``{kind: .npy}`` of ``video``, computing (and atomically writing) the missing ones."""
    from datamodules.features import video_features

    paths = {kind: feature_file(features_root, kind, video) for kind in kinds}
    missing = tuple(kind for kind, path in paths.items() if not path.is_file())
    if missing:
        if not Path(video).is_file():
            raise FileNotFoundError(f"URMP features: video {video} does not exist")
        for kind, array in video_features(video, missing).items():
            path = paths[kind]
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.npy")
            np.save(tmp, np.asarray(array, dtype=np.float32))
            tmp.replace(path)
    return paths


class ClipsWithFeatures(Dataset):
    """A clip dataset whose samples gain ``visual_features`` ``[seconds, D]`` sliced from cached per-video features."""

    def __init__(self, clips: Any, kinds: tuple[str, ...], features_root: Path, clip_seconds: float) -> None:
        self.clips = clips
        self.kinds = kinds
        self.features_root = Path(features_root)
        self.rows = max(1, int(round(clip_seconds)))
        self._cache: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.clips)

    def __getattr__(self, name: str) -> Any:  # set_epoch, recordings, ... of the wrapped dataset
        if name == "clips":
            raise AttributeError(name)
        return getattr(self.clips, name)

    def _features(self, video: str) -> np.ndarray:
        if video not in self._cache:
            parts = []
            for kind in self.kinds:
                path = feature_file(self.features_root, kind, Path(video))
                if not path.is_file():
                    raise FileNotFoundError(f"URMP features: {path} missing (setup computes it from {video})")
                parts.append(np.load(path))
            length = min(len(p) for p in parts)
            self._cache[video] = np.concatenate([p[:length] for p in parts], axis=1)
        return self._cache[video]

    def __getitem__(self, index: int) -> dict[str, Any]:
        sample = self.clips[index]
        meta = sample["meta"]
        if not meta.get("video"):
            raise FileNotFoundError(f"URMP features: clip {meta.get('key')} has no video")
        features = self._features(str(meta["video"]))
        first = int(math.floor(float(meta["start"]) + 1e-6))
        rows = np.minimum(np.arange(first, first + self.rows), len(features) - 1)
        sample["visual_features"] = torch.from_numpy(np.ascontiguousarray(features[rows], dtype=np.float32))
        return sample


class URMPFeaturesDataModule(URMPDataModule):
    """:class:`URMPDataModule` plus ``visual_features`` (module docstring). Extra args:

    feature_kinds: ``effnet_lite0`` and/or ``flow``. features_root: the feature cache (default ``<root>/features``).
    All other arguments are URMPDataModule's.
    """

    def __init__(
        self, *args: Any, feature_kinds: tuple[str, ...] = ("effnet_lite0",), features_root: Optional[str] = None, **kw
    ) -> None:
        super().__init__(*args, **kw)
        from datamodules.features import FEATURE_DIMS

        unknown = [k for k in feature_kinds if k not in FEATURE_DIMS]
        if unknown or not feature_kinds:
            raise ValueError(f"URMPFeaturesDataModule: feature_kinds {feature_kinds}; known: {sorted(FEATURE_DIMS)}")
        self.feature_kinds = tuple(feature_kinds)
        self.features_root = None if features_root is None else Path(features_root)
        self.feature_dim = sum(FEATURE_DIMS[k] for k in self.feature_kinds)

    def build_dataset(self, root: Path, split: str) -> ClipsWithFeatures:
        clips = super().build_dataset(root, split)
        cache = self.features_root or root / "features"
        videos = sorted({str(rec.video) for rec in clips.recordings if rec.video is not None})
        missing = [rec.key for rec in clips.recordings if rec.video is None]
        if missing:
            raise FileNotFoundError(f"URMPFeaturesDataModule: no video (Vid_*/VidSep_*) for tracks {missing} in {root}")
        log.info("URMPFeaturesDataModule: %s features of %d videos in %s", self.feature_kinds, len(videos), cache)
        for video in videos:
            ensure_features(Path(video), self.feature_kinds, cache)
        return ClipsWithFeatures(clips, self.feature_kinds, cache, self.clip_seconds)


__all__ = ["ClipsWithFeatures", "URMPFeaturesDataModule", "ensure_features"]

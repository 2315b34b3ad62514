"""Clip sampling shared by all DataModules: random clips for training, contiguous deterministic clips for val/test.

A dataset is a list of *recordings*, each a time span ``(start, end)`` in seconds of some media (a track, a video, a
Foley CSV row). :class:`ClipDataset` turns them into fixed-length clips:

- ``train=True``: item ``i`` picks recording ``r`` (recordings hold as many items as whole clips fit into them, so
  long recordings are sampled more, at least one each) and a uniformly random start in ``[start, end - clip]``, drawn
  from :func:`datamodules.loaders.sample_rng` of (seed, epoch, index): every epoch draws different clips, and the same
  on any worker, rank or resumed run;
- ``train=False``: the contiguous clips ``start, start + hop, ...`` that fit, in order (a recording shorter than one
  clip gives one clip at its start, which the reader pads).

Starts are snapped to a frame grid (``grid`` = frames per second) so that ``start * fps`` is an exact frame index.
"""

from __future__ import annotations

import bisect
import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
import torch
from torch.utils.data import Dataset

from datamodules.loaders import sample_rng


@dataclass(frozen=True)
class Clip:
    """One clip: ``recording`` indexes the dataset's recordings; ``start``/``duration`` in seconds."""

    recording: int
    start: float
    duration: float

    def frames(self, fps: float) -> tuple[int, int]:
        """(first frame index, number of frames) of this clip at ``fps`` (frame k is at time k / fps)."""
        return int(round(self.start * fps)), int(round(self.duration * fps))


def _snap(t: float, grid: Optional[float]) -> float:
    return t if not grid else math.floor(t * grid + 1e-6) / grid


def contiguous_clips(
    spans: Sequence[tuple[float, float]],
    clip_seconds: float,
    hop_seconds: Optional[float] = None,
    grid: Optional[float] = None,
    min_seconds: float = 0.0,
) -> list[Clip]:
    """Deterministic clips ``start, start + hop, ...`` of every span that fit entirely; a span shorter than one clip
    but at least ``min_seconds`` long gives one clip at its start."""
    if clip_seconds <= 0:
        raise ValueError(f"clip length must be positive, got {clip_seconds}")
    hop = clip_seconds if hop_seconds is None else hop_seconds
    if hop <= 0:
        raise ValueError(f"clip hop must be positive, got {hop}")
    clips = []
    for r, (start, end) in enumerate(spans):
        length = end - start
        if length < clip_seconds:
            if length >= min_seconds and length > 0:
                clips.append(Clip(r, _snap(start, grid), clip_seconds))
            continue
        count = int(math.floor((length - clip_seconds) / hop + 1e-9)) + 1
        clips.extend(Clip(r, _snap(start + k * hop, grid), clip_seconds) for k in range(count))
    return clips


def random_start(
    start: float, end: float, clip_seconds: float, grid: Optional[float] = None, u: Optional[float] = None
) -> float:
    """Uniform random clip start in ``[start, end - clip_seconds]`` (``start`` when the span is shorter than a clip);
    ``u`` in [0, 1) is the random draw (default: torch's global generator)."""
    room = end - start - clip_seconds
    if room <= 0:
        return _snap(start, grid)
    if u is None:
        u = float(torch.rand(()).item())
    return _snap(start + u * room, grid)


class ClipDataset(Dataset):
    """Fixed-length clips of recordings; ``load(recording, start, duration) -> dict`` reads one clip.

    Args:
        spans: per recording, its usable ``(start, end)`` in seconds.
        load: reads a clip; a picklable callable (e.g. a bound method) so DataLoader workers can use it. Subclasses
            may override :meth:`load_clip` instead.
        clip_seconds: clip length.
        train: random clips (True) or contiguous deterministic clips (False).
        hop_seconds: hop between contiguous clips (default: the clip length, no overlap).
        grid: frames per second that clip starts snap to.
        clips_per_epoch: training epoch length (default: the number of whole clips in all recordings).
        min_seconds: the shortest recording kept for val/test when shorter than a clip.
    """

    def __init__(
        self,
        spans: Sequence[tuple[float, float]],
        load: Optional[Callable[[int, float, float], dict[str, Any]]] = None,
        clip_seconds: float = 6.0,
        train: bool = True,
        hop_seconds: Optional[float] = None,
        grid: Optional[float] = None,
        clips_per_epoch: Optional[int] = None,
        min_seconds: float = 0.0,
    ) -> None:
        self.spans = [(float(a), float(b)) for a, b in spans]
        if not self.spans:
            raise ValueError("ClipDataset: no recordings to draw clips from")
        for a, b in self.spans:
            if not (np.isfinite(a) and np.isfinite(b)) or b <= a:
                raise ValueError(f"ClipDataset: invalid recording span ({a}, {b})")
        self._load = load
        self.seed, self.epoch = 0, 0  # training clips are drawn from sample_rng(seed, epoch, index)
        self.clip_seconds = float(clip_seconds)
        self.train = train
        self.grid = grid
        if train:
            weights = [max(1, int((b - a) // self.clip_seconds)) for a, b in self.spans]
            self._cumulative = np.cumsum(weights).tolist()
            self.length = int(clips_per_epoch) if clips_per_epoch else self._cumulative[-1]
            self.clips: list[Clip] = []
        else:
            self.clips = contiguous_clips(self.spans, self.clip_seconds, hop_seconds, grid, min_seconds)
            self.length = len(self.clips)
            if not self.clips:
                raise ValueError(
                    f"ClipDataset: no recording holds a {self.clip_seconds:g}-s clip (longest: "
                    f"{max(b - a for a, b in self.spans):g} s)"
                )

    def __len__(self) -> int:
        return self.length

    def clip(self, index: int) -> Clip:
        """The clip of item ``index`` (random for training)."""
        if index < 0 or index >= self.length:
            raise IndexError(f"clip index {index} outside 0..{self.length - 1}")
        if not self.train:
            return self.clips[index]
        recording = bisect.bisect_right(self._cumulative, index % self._cumulative[-1])
        start, end = self.spans[recording]
        u = float(sample_rng(self.seed, self.epoch, index).random())  # same clip after a resume, on any worker
        return Clip(recording, random_start(start, end, self.clip_seconds, self.grid, u), self.clip_seconds)

    def set_epoch(self, epoch: int) -> None:
        """Called by :class:`datamodules.loaders.ResumableSampler`: training clips change from epoch to epoch."""
        self.epoch = int(epoch)

    def load_clip(self, recording: int, start: float, duration: float) -> dict[str, Any]:
        if self._load is None:
            raise NotImplementedError("ClipDataset needs a `load` callable or a load_clip override")
        return self._load(recording, start, duration)

    def __getitem__(self, index: int) -> dict[str, Any]:
        clip = self.clip(index)
        return self.load_clip(clip.recording, clip.start, clip.duration)


@dataclass
class Collate:
    """Batch a list of sample dicts into the suite's batch fields.

    Tensors of equal shape are stacked; 1-D token fields (``pad_fields``) of different lengths are right-padded with
    ``pad_value`` and get a boolean ``<field>_mask`` (True on real tokens) unless the sample already has one; lists of
    strings/dicts (``text``, ``meta``) stay lists; numbers become tensors.
    """

    pad_value: int = 242
    pad_fields: tuple[str, ...] = ("events", "tokens")
    keep_lists: tuple[str, ...] = field(default=("text", "meta"))

    def __call__(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        if not samples:
            raise ValueError("collate: empty batch")
        batch: dict[str, Any] = {}
        for key in samples[0]:
            values = [s[key] for s in samples]
            if key in self.keep_lists or isinstance(values[0], (str, dict)):
                batch[key] = values
            elif key in self.pad_fields and isinstance(values[0], torch.Tensor):
                length = max(v.shape[0] for v in values)
                out = torch.full((len(values), length), self.pad_value, dtype=values[0].dtype)
                mask = torch.zeros((len(values), length), dtype=torch.bool)
                for i, v in enumerate(values):
                    out[i, : v.shape[0]] = v
                    mask[i, : v.shape[0]] = True
                batch[key] = out
                if f"{key}_mask" not in samples[0]:
                    batch[f"{key}_mask"] = mask
            elif key.endswith("_mask") and key[: -len("_mask")] in self.pad_fields:
                length = max(v.shape[0] for v in values)
                out = torch.zeros((len(values), length), dtype=torch.bool)
                for i, v in enumerate(values):
                    out[i, : v.shape[0]] = torch.as_tensor(v, dtype=torch.bool)
                batch[key] = out
            elif isinstance(values[0], torch.Tensor):
                shapes = {tuple(v.shape) for v in values}
                if len(shapes) != 1:
                    raise ValueError(f"collate: field {key!r} has different shapes in one batch: {sorted(shapes)}")
                batch[key] = torch.stack(values)
            elif isinstance(values[0], np.ndarray):
                batch[key] = torch.from_numpy(np.stack(values))
            elif isinstance(values[0], (bool, int, float, np.number)):
                batch[key] = torch.tensor(values)
            else:
                batch[key] = values
        return batch


collate = Collate()


def group_split(keys: list[str], split: str, fractions: tuple[float, float] = (0.1, 0.1)) -> set[str]:
    """Deterministic split of group ``keys`` (shuffled by CRC32 of the name): about ``fractions`` (val, test), rest
    train; with fewer than 3 groups, val and test are the last group and train the others (or all of one)."""
    order = sorted(set(keys), key=lambda k: (zlib.crc32(k.encode()), k))
    n = len(order)
    if n < 3:
        held = order[-1:]
        return set(order[:-1] or order) if split == "train" else set(held)
    n_val = max(1, int(round(fractions[0] * n)))
    n_test = max(1, int(round(fractions[1] * n)))
    parts = {"val": order[:n_val], "test": order[n_val : n_val + n_test], "train": order[n_val + n_test :]}
    return set(parts[split])


__all__ = ["Clip", "ClipDataset", "Collate", "collate", "contiguous_clips", "group_split", "random_start"]

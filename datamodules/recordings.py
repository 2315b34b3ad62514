"""Recordings (what a dataset holds) and the clip dataset that turns them into batch samples.

A DataModule parses its dataset's disk format into :class:`Recording` objects, each naming where its streams live
(audio file, MIDI file or URMP note list, keypoint source, video) and its usable time span; :class:`RecordingClips`
then cuts clips (random for training, contiguous for val/test, :mod:`datamodules.clips`) and reads the requested
fields with the shared readers. Sources are small picklable descriptions opened lazily in each DataLoader worker,
with a small per-worker cache of decoded sequences.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Optional

import numpy as np
import torch

from datamodules.clips import ClipDataset
from datamodules.fields import Normalization, audio_field, keypoint_clip, symbolic_fields

FIELDS = ("keypoints", "audio", "events", "roll", "frames", "beats", "instrument")
_CACHE_SIZE = 8


class _LRU(OrderedDict):
    def get_or(self, key: Any, make: Any) -> Any:
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = make()
        self[key] = value
        while len(self) > _CACHE_SIZE:
            self.popitem(last=False)
        return value


_SEQUENCES = _LRU()  # per process: decoded keypoint sequences / MIDI files / Solos memmaps


@dataclass(frozen=True)
class KeypointSource:
    """Where a recording's keypoints live.

    kind: ``foley`` (npy ``[T, C, V, M]``), ``openpose`` (JSON folder), ``solos`` (raw memmap + dict; ``path`` is
    ``skeleton.npy``, ``extra`` the ``skeleton_dict.json`` path and ``key`` the YouTube id), ``aistpp``
    (keypoints2d pkl; ``view``), ``npy`` (plain ``[T, J, 3]`` array in ``layout``).
    """

    kind: Literal["foley", "openpose", "solos", "aistpp", "npy"]
    path: Path
    fps: float
    layout: str = ""
    key: str = ""
    extra: str = ""
    view: int = 0

    def source_layout(self) -> str:
        if self.layout:
            return self.layout
        if self.kind == "foley":
            return _foley_layout(self.path)
        if self.kind == "npy":
            raise ValueError(f"keypoint array {self.path}: a plain [T, J, 3] array needs its layout named")
        return {"openpose": "openpose67", "solos": "solos47", "aistpp": "coco17"}[self.kind]

    def _sequence(self) -> np.ndarray:
        from datamodules import keypoints as kp

        if self.kind == "openpose":
            return _SEQUENCES.get_or(("openpose", self.path), lambda: kp.read_openpose_folder(self.path)[0])
        if self.kind == "aistpp":
            return _SEQUENCES.get_or(
                ("aistpp", self.path, self.view), lambda: kp.read_aistpp_keypoints2d(self.path, self.view)[0]
            )
        if self.kind == "npy":
            return _SEQUENCES.get_or(("npy", self.path), lambda: _load_plain_npy(self.path))
        raise AssertionError(self.kind)

    def read(self, first: int, count: int) -> np.ndarray:
        """Source frames ``first .. first + count - 1`` as ``[count, J, 3]``; frames outside are all-missing."""
        from datamodules import keypoints as kp

        if self.kind == "foley":
            return kp.read_foley_pose(self.path, first, count)[0]
        if self.kind == "solos":
            skeletons = _SEQUENCES.get_or(("solos", self.path), lambda: kp.SolosSkeletons(self.path, self.extra))
            return skeletons.read(self.key, first, count)
        seq = self._sequence()
        out = np.zeros((count, seq.shape[1], 3), dtype=np.float32)
        lo, hi = max(first, 0), min(first + count, seq.shape[0])
        if hi > lo:
            out[lo - first : hi - first] = seq[lo:hi]
        return out

    def num_frames(self) -> int:
        from datamodules import keypoints as kp

        if self.kind == "foley":
            try:
                return int(np.load(self.path, mmap_mode="r").shape[0])
            except (ValueError, OSError) as error:
                raise ValueError(f"cannot read Foley pose file {self.path}: {error}") from error
        if self.kind == "solos":
            return kp.SolosSkeletons(self.path, self.extra).num_frames(self.key)
        return int(self._sequence().shape[0])


@lru_cache(maxsize=1024)
def _foley_layout(path: Path) -> str:
    from datamodules.keypoints import FOLEY_LAYOUTS

    try:
        shape = np.load(path, mmap_mode="r").shape
    except (ValueError, OSError) as error:
        raise ValueError(f"cannot read Foley pose file {path}: {error}") from error
    if len(shape) not in (3, 4) or shape[2] not in FOLEY_LAYOUTS:
        raise ValueError(f"Foley pose file {path} has shape {shape}, expected [T, C=2|3, V=65|42|25, M]")
    return FOLEY_LAYOUTS[shape[2]]


def _load_plain_npy(path: Path) -> np.ndarray:
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as error:
        raise ValueError(f"cannot read keypoint array {path}: {error}") from error
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise ValueError(f"keypoint array {path} has shape {arr.shape}, expected [T, J, 3]")
    from datamodules.keypoints import clean

    return clean(arr)


@dataclass(frozen=True)
class MidiSource:
    """A recording's notes: a MIDI file (``kind="midi"``) or a URMP ``Notes_*.txt`` list (``kind="urmp_notes"``,
    played with GM ``program``)."""

    kind: Literal["midi", "urmp_notes"]
    path: Path
    program: int = 0

    def load(self) -> Any:
        def make() -> Any:
            if self.kind == "midi":
                from datamodules.midi import load_midi

                return load_midi(self.path)
            from datamodules.midi import notes_to_midi

            return notes_to_midi(self.path, self.program)

        return _SEQUENCES.get_or(("midi", self.kind, self.path, self.program), make)


@dataclass
class Recording:
    """One recording: a unique ``key``, its usable span ``[start, end)`` in seconds and its streams.

    ``beat_times`` (seconds), where known exactly (synthetic data), give the ``beats`` field instead of tracking the
    beats in ``audio``."""

    key: str
    start: float
    end: float
    audio: Optional[Path] = None
    midi: Optional[MidiSource] = None
    keypoints: Optional[KeypointSource] = None
    video: Optional[Path] = None
    instrument: Optional[int] = None
    meta: dict[str, Any] = field(default_factory=dict)
    beat_times: Optional[tuple[float, ...]] = None


@dataclass(frozen=True)
class ClipOptions:
    """What to read for each clip (the DataModule's constructor arguments)."""

    fields: tuple[str, ...] = ("keypoints", "audio", "events", "instrument")
    fps: float = 22.0
    keypoint_layout: Optional[str] = None
    normalization: Normalization = "bbox"
    interpolate: bool = True
    sample_rate: int = 22050
    max_events: int = 512
    roll_low: int = 21
    roll_high: int = 108
    binary_roll: bool = False
    drop_outlasting: bool = False
    frame_size: Optional[tuple[int, int]] = (224, 224)
    gray: bool = False

    def __post_init__(self) -> None:
        unknown = sorted(set(self.fields) - set(FIELDS))
        if unknown:
            raise ValueError(f"unknown batch fields {unknown}; known: {list(FIELDS)}")


class RecordingClips(ClipDataset):
    """Clips of ``recordings`` with the fields of ``options``; every sample also has ``meta`` (dataset, key, start,
    duration, fps, sample_rate, layout, synthetic, source files)."""

    def __init__(
        self,
        recordings: Sequence[Recording],
        options: ClipOptions,
        clip_seconds: float,
        train: bool,
        dataset: str,
        synthetic: bool = False,
        hop_seconds: Optional[float] = None,
        clips_per_epoch: Optional[int] = None,
    ) -> None:
        self.recordings = list(recordings)
        if not self.recordings:
            raise ValueError(f"{dataset}: no recordings in this split")
        self.options = options
        self.dataset_name = dataset
        self.synthetic = synthetic
        _check_streams(self.recordings, options, dataset)
        super().__init__(
            [(r.start, r.end) for r in self.recordings],
            clip_seconds=clip_seconds,
            train=train,
            hop_seconds=hop_seconds,
            grid=options.fps,
            clips_per_epoch=clips_per_epoch,
        )

    def load_clip(self, recording: int, start: float, duration: float) -> dict[str, Any]:
        rec, opt = self.recordings[recording], self.options
        sample: dict[str, Any] = {}
        if "keypoints" in opt.fields:
            src = rec.keypoints
            sample["keypoints"] = keypoint_clip(
                src.read,
                src.source_layout(),
                src.fps,
                start,
                duration,
                opt.fps,
                layout=opt.keypoint_layout,
                normalization=opt.normalization,
                interpolate=opt.interpolate,
            )
        if "audio" in opt.fields:
            sample["audio"] = audio_field(rec.audio, start, duration, opt.sample_rate)
        wanted = tuple(f for f in ("events", "roll") if f in opt.fields)
        if wanted:
            sample.update(
                symbolic_fields(
                    rec.midi.load(),
                    start,
                    duration,
                    opt.fps,
                    opt.max_events,
                    opt.roll_low,
                    opt.roll_high,
                    wanted,
                    opt.binary_roll,
                    opt.drop_outlasting,
                )
            )
        if "frames" in opt.fields:
            from datamodules.video import open_video

            video = _SEQUENCES.get_or(
                ("video", rec.video), lambda: open_video(rec.video, fps=rec.meta.get("video_fps"))
            )
            frames = video.read_clip(
                start, int(round(duration * opt.fps)), opt.fps, gray=opt.gray, size=opt.frame_size, pad=True
            )
            tensor = torch.from_numpy(frames).float().div_(255.0)
            sample["frames"] = tensor if opt.gray else tensor.permute(0, 3, 1, 2).contiguous()
        if "beats" in opt.fields:
            from datamodules.audio import beat_times

            if rec.beat_times is not None:
                times = np.asarray(rec.beat_times, dtype=np.float64)
            else:
                times = _SEQUENCES.get_or(("beats", rec.audio), lambda: beat_times(rec.audio))
            frames_n = int(round(duration * opt.fps))
            beats = torch.zeros(frames_n)
            index = np.round((times[(times >= start) & (times < start + duration)] - start) * opt.fps).astype(int)
            beats[index[index < frames_n]] = 1.0
            sample["beats"] = beats
        if "instrument" in opt.fields:
            sample["instrument"] = torch.tensor(rec.instrument, dtype=torch.long)
        sample["meta"] = {
            "dataset": self.dataset_name,
            "key": rec.key,
            "start": float(start),
            "duration": float(duration),
            "fps": opt.fps,
            "sample_rate": opt.sample_rate,
            "keypoint_layout": (opt.keypoint_layout or rec.keypoints.source_layout()) if rec.keypoints else None,
            "synthetic": self.synthetic,
            **{k: str(v) for k, v in (("audio", rec.audio), ("video", rec.video)) if v is not None},
            **({"midi": str(rec.midi.path)} if rec.midi is not None else {}),
            **({"keypoints_source": str(rec.keypoints.path)} if rec.keypoints is not None else {}),
            **rec.meta,
        }
        return sample


def _check_streams(recordings: Sequence[Recording], options: ClipOptions, dataset: str) -> None:
    """Fail at setup, naming the first recording without a stream a requested field needs."""
    needs = {
        "keypoints": ("keypoints", "keypoints"),
        "audio": ("audio", "audio"),
        "beats": ("audio", "audio (beats are tracked in it)"),
        "events": ("midi", "MIDI / notes"),
        "roll": ("midi", "MIDI / notes"),
        "frames": ("video", "video"),
    }
    if "instrument" in options.fields:
        unlabelled = [rec.key for rec in recordings if rec.instrument is None]
        if unlabelled:
            raise ValueError(
                f"{dataset}: recording {unlabelled[0]} ({len(unlabelled)} of {len(recordings)} in this split) has no "
                "instrument label, so the 'instrument' field cannot be read; drop it from `fields`"
            )
    for name in options.fields:
        if name not in needs:
            continue
        attr, what = needs[name]
        for rec in recordings:
            if name == "beats" and rec.beat_times is not None:
                continue
            source = getattr(rec, attr)
            if source is None:
                raise FileNotFoundError(f"{dataset}: recording {rec.key} has no {what} (needed for field {name!r})")
            path = source.path if hasattr(source, "path") else source
            if not Path(path).exists():
                raise FileNotFoundError(f"{dataset}: {what} of recording {rec.key} not found: {path}")


__all__ = ["FIELDS", "ClipOptions", "KeypointSource", "MidiSource", "Recording", "RecordingClips"]

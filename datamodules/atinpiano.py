"""AtinPiano (top-view piano videos, Foley Music's piano set), docs/DATASETS.md §4, in the form Foley Music released.

Layout under ``root`` (Foley's ``data/AtinPiano``):

- ``pose/<ytid>.npy``: hand keypoints ``[T, C=2, V=42, M]`` at 22 fps (layout ``hands42``: left hand 21, right hand
  21; x, y only, so a point is "detected" unless it is exactly (0, 0) or not finite);
- ``midi/<ytid>.midi`` (else ``.mid``): the performance;
- ``audio/<ytid>.wav`` (optional, for the audio field; Foley renders MIDI instead);
- ``train.csv`` / ``val.csv`` (optional, header ``vid,start_time,duration``): the split; without them Foley Music's
  lists shipped in ``datamodules/resources/foley_music/AtinPiano`` are used. val doubles as test unless a
  ``test.csv`` exists.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any, Optional

from datamodules.base import RecordingDataModule
from datamodules.instruments import instrument_index
from datamodules.recordings import KeypointSource, MidiSource, Recording

FOLEY_SPLITS = Path(__file__).parent / "resources" / "foley_music" / "AtinPiano"
POSE_FPS = 22.0


class AtinPianoDataModule(RecordingDataModule):
    """AtinPiano clips with keypoints (hands42) / events / roll / audio / instrument (piano).

    Args:
        root: Foley's ``data/AtinPiano`` folder; None = synthetic AtinPiano.
        split_dir: a folder with ``train.csv``/``val.csv`` (default: ``root`` when it has them, else Foley's lists).
        keypoint_layout: layout of the keypoints field (Foley Music: hands42).
        clip_seconds, fps, sample_rate: clip length, frame rate, audio rate (Foley Music: 6 s at 22 fps).
        Others: see :class:`datamodules.base.RecordingDataModule` (no frame_size / gray here: no video).
    """

    synthetic_name = "atinpiano"
    dataset_name = "AtinPiano"

    def __init__(
        self,
        root: Optional[str] = None,
        fields: tuple[str, ...] = ("keypoints", "events", "instrument"),
        split_dir: Optional[str] = None,
        keypoint_layout: str = "hands42",
        clip_seconds: float = 6.0,
        fps: float = 22.0,
        sample_rate: int = 22050,
        **kwargs: Any,
    ) -> None:
        if "frames" in fields:
            raise ValueError("AtinPianoDataModule: Foley's AtinPiano release has no video frames")
        # no video: frame_size and gray are fixed here, not arguments
        super().__init__(
            root, fields, keypoint_layout, clip_seconds, fps, sample_rate, frame_size=None, gray=False, **kwargs
        )
        self.split_dir = None if split_dir is None else Path(split_dir)

    def _split_file(self, root: Path, split: str) -> Path:
        folder = self.split_dir or (root if (root / "train.csv").is_file() else FOLEY_SPLITS)
        path = folder / f"{split}.csv"
        if split == "test" and not path.is_file():
            path = folder / "val.csv"
        if not path.is_file():
            raise FileNotFoundError(f"AtinPiano: split file {path} does not exist")
        return path

    def _recording(self, root: Path, vid: str, start: float, duration: float) -> Recording:
        fields = self.options.fields
        pose = root / "pose" / f"{vid}.npy"
        midi = next(
            (root / "midi" / f"{vid}{s}" for s in (".midi", ".mid") if (root / "midi" / f"{vid}{s}").is_file()), None
        )
        audio = root / "audio" / f"{vid}.wav"
        if "keypoints" in fields and not pose.is_file():
            raise FileNotFoundError(f"AtinPiano: pose of video {vid} not found: {pose}")
        if ("events" in fields or "roll" in fields) and midi is None:
            raise FileNotFoundError(f"AtinPiano: MIDI of video {vid} not found: {root / 'midi' / vid}.midi (or .mid)")
        if "audio" in fields and not audio.is_file():
            raise FileNotFoundError(f"AtinPiano: audio of video {vid} not found: {audio}")
        return Recording(
            key=vid,
            start=start,
            end=start + duration,
            audio=audio if audio.is_file() else None,
            midi=None if midi is None else MidiSource("midi", midi),
            keypoints=KeypointSource("foley", pose, POSE_FPS) if pose.is_file() else None,
            instrument=instrument_index("piano"),
            meta={"ytid": vid},
        )

    def recordings(self, root: Path, split: str) -> list[Recording]:
        for sub in ("pose", "midi"):
            if not (root / sub).is_dir():
                raise FileNotFoundError(
                    f"AtinPiano: folder {root / sub} does not exist (expected Foley's pose/ and midi/)"
                )
        path = self._split_file(root, split)
        recordings = []
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames is None or not {"vid", "start_time", "duration"} <= set(reader.fieldnames):
                raise ValueError(f"AtinPiano split file {path} needs the header vid,start_time,duration")
            for row in reader:
                start, duration = float(row["start_time"]), float(row["duration"])
                if not (math.isfinite(start) and math.isfinite(duration) and duration > 0):
                    raise ValueError(f"AtinPiano split file {path}: bad start/duration in row {row}")
                recordings.append(self._recording(root, row["vid"], start, duration))
        if not recordings:
            raise ValueError(f"AtinPiano: split file {path} lists no video")
        return recordings


__all__ = ["AtinPianoDataModule"]

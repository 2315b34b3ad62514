"""MUSIC / MUSIC21 (Zhao et al., Sound of Pixels), docs/DATASETS.md §2, as solo-video clips.

Layout under ``root`` (the Sound-of-Pixels ``data/`` folder, plus Foley Music's pose/MIDI folders):

- ``MUSIC21_solo_videos.json`` (else ``MUSIC_solo_videos.json``), here or in the folder above (where the MUSIC
  repository keeps it): ``{"videos": {category: [ytid, ...]}}``; the id list. Duets (``MUSIC_duet_videos.json``)
  have two instruments per video and are not used.
- ``audio/<category>/<ytid>.{mp3,wav,flac}``: the soundtrack (any rate; SoP uses 11025 Hz); else the audio track of
  ``videos/<category>/<ytid>.mp4``.
- ``frames/<category>/<ytid>.mp4/000001.jpg ...``: SoP frames at 8 fps (frame i centred at (i - 0.5) / 8 s), else
  the raw ``videos/<category>/<ytid>.mp4``; read only for the ``frames`` field.
- ``pose/<category>/<ytid>.npy``: Foley Music ``[T, 3, 65, M]`` at 22 fps, or ``pose/<category>/<ytid>/`` OpenPose
  JSON at ``keypoint_fps``.
- ``midi_sw/<category>/<ytid>.midi`` (else ``.mid``): Foley Music's (transcribed) MIDI, or any MIDI made by
  ``python cli.py prepare --task transcribe``.
- ``train.csv`` / ``val.csv``: SoP index files without header (``audio_path,frame_path,n_frames``).

Splits: ``foley`` (default) = Foley Music's per-category lists (8 MUSIC21 categories; shipped in
``datamodules/resources/foley_music/MUSIC``; val doubles as test); ``sop`` = the SoP ``train.csv``/``val.csv``
(val doubles as test); ``ids`` = every id of the JSON, split deterministically by id (about 80/10/10). A synthetic root
uses ``sop`` when it has the CSVs, else ``ids``. Listed videos that are not on disk (dead YouTube videos) are skipped
with one warning naming them unless ``strict=True`` (docs/DATASETS.md §12).
"""

from __future__ import annotations

import csv
import json
import logging
import math
from pathlib import Path
from typing import Any, Optional

from datamodules.base import RecordingDataModule
from datamodules.clips import group_split
from datamodules.instruments import instrument_index
from datamodules.recordings import KeypointSource, MidiSource, Recording

log = logging.getLogger(__name__)

FOLEY_SPLITS = Path(__file__).parent / "resources" / "foley_music" / "MUSIC"
FOLEY_POSE_FPS = 22.0
SOP_FPS = 8.0
AUDIO_SUFFIXES = (".mp3", ".wav", ".flac", ".ogg", ".m4a")


def read_id_json(path: Path) -> dict[str, list[str]]:
    """``{category: [ytid, ...]}`` of a MUSIC id JSON (``{"version": ..., "videos": {...}}``)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read MUSIC id list {path}: {error}") from error
    videos = data.get("videos") if isinstance(data, dict) else None
    if not isinstance(videos, dict):
        raise ValueError(f"MUSIC id list {path} has no 'videos' mapping")
    return {str(cat): [str(v) for v in ids] for cat, ids in videos.items()}


def read_sop_csv(path: Path) -> list[tuple[str, str]]:
    """(category, ytid) of each row of a Sound-of-Pixels index CSV (no header: audio_path,frame_path,n_frames)."""
    out = []
    with open(path, newline="") as handle:
        for line, row in enumerate(csv.reader(handle), start=1):
            if not row:
                continue
            if len(row) < 3:
                raise ValueError(f"SoP index {path} line {line}: expected audio_path,frame_path,n_frames, got {row}")
            audio = Path(row[0])
            out.append((audio.parent.name, audio.stem))
    return out


class MUSICDataModule(RecordingDataModule):
    """MUSIC solo videos as clips with keypoints / audio / events / roll / frames / instrument.

    Args:
        root: the SoP ``data/`` folder (see the module docstring); None = synthetic MUSIC.
        fields: batch fields to read (keypoints, audio, events, roll, frames, instrument).
        categories: categories to keep (default: Foley Music's 8 for ``split="foley"``, all otherwise).
        split: ``foley``, ``sop``, ``ids`` or a folder of ``<category>/{train,val[,test]}.csv``
            (columns vid,start_time,duration).
        keypoint_fps: frame rate of OpenPose JSON keypoints (Foley npy is 22 fps).
        keypoint_layout, clip_seconds, fps, sample_rate: as in :class:`datamodules.urmp.URMPDataModule` (Foley Music:
            body65, 6 s, 22 fps, 22050 Hz).
        strict: a listed video that is not on disk is an error; by default it is skipped and reported once
            (docs/DATASETS.md §12), and only a split left empty is an error.
        Others: see :class:`datamodules.base.RecordingDataModule`.
    """

    synthetic_name = "music"
    dataset_name = "MUSIC"

    def __init__(
        self,
        root: Optional[str] = None,
        fields: tuple[str, ...] = ("keypoints", "audio", "events", "instrument"),
        categories: Optional[tuple[str, ...]] = None,
        split: str = "foley",
        keypoint_fps: float = 30.0,
        keypoint_layout: str = "body65",
        clip_seconds: float = 6.0,
        fps: float = 22.0,
        sample_rate: int = 22050,
        strict: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(root, fields, keypoint_layout, clip_seconds, fps, sample_rate, **kwargs)
        self.categories = None if categories is None else tuple(categories)
        self.split = split
        self.keypoint_fps = float(keypoint_fps)
        self.strict = bool(strict)
        self._reported: set[str] = set()

    # ------------------------------------------------------------------ one video
    def _recording(
        self, root: Path, cat: str, vid: str, start: float = 0.0, duration: Optional[float] = None
    ) -> Recording:
        fields = self.options.fields
        key = f"{cat}/{vid}"
        audio = next(
            (
                root / "audio" / cat / f"{vid}{s}"
                for s in AUDIO_SUFFIXES
                if (root / "audio" / cat / f"{vid}{s}").is_file()
            ),
            None,
        )
        raw_video = root / "videos" / cat / f"{vid}.mp4"
        if audio is None and raw_video.is_file():
            audio = raw_video
        frames = root / "frames" / cat / f"{vid}.mp4"
        video, video_fps = (frames, SOP_FPS) if frames.is_dir() else (raw_video if raw_video.is_file() else None, None)
        midi = next(
            (
                root / "midi_sw" / cat / f"{vid}{s}"
                for s in (".midi", ".mid")
                if (root / "midi_sw" / cat / f"{vid}{s}").is_file()
            ),
            None,
        )
        pose_npy, pose_dir = root / "pose" / cat / f"{vid}.npy", root / "pose" / cat / vid
        keypoints = (
            KeypointSource("foley", pose_npy, FOLEY_POSE_FPS)
            if pose_npy.is_file()
            else KeypointSource("openpose", pose_dir, self.keypoint_fps)
            if pose_dir.is_dir()
            else None
        )
        wanted = {
            "audio": (audio, f"{root / 'audio' / cat / vid}.{{mp3,wav,flac}} or {raw_video}"),
            "events": (midi, f"{root / 'midi_sw' / cat / vid}.midi (or .mid)"),
            "roll": (midi, f"{root / 'midi_sw' / cat / vid}.midi (or .mid)"),
            "keypoints": (keypoints, f"{pose_npy} or the OpenPose folder {pose_dir}/"),
            "frames": (video, f"{frames}/ or {raw_video}"),
        }
        for name, (have, expected) in wanted.items():
            if name in fields and have is None:
                raise FileNotFoundError(f"MUSIC: {name} of video {key} not found: expected {expected}")
        if duration is None:
            duration = self._duration(key, audio, keypoints, midi)
        return Recording(
            key=key,
            start=float(start),
            end=float(start + duration),
            audio=audio,
            midi=None if midi is None else MidiSource("midi", midi),
            keypoints=keypoints,
            video=video,
            instrument=instrument_index(cat),
            meta={"category": cat, "ytid": vid, **({"video_fps": video_fps} if video_fps else {})},
        )

    def _duration(
        self, key: str, audio: Optional[Path], keypoints: Optional[KeypointSource], midi: Optional[Path]
    ) -> float:
        if audio is not None:
            from datamodules.audio import audio_info

            return audio_info(audio)[1]
        if keypoints is not None:
            return keypoints.num_frames() / keypoints.fps
        if midi is not None:
            from datamodules.midi import load_midi, midi_end

            return midi_end(load_midi(midi))
        raise FileNotFoundError(f"MUSIC: video {key} has no audio, keypoints or MIDI to take its duration from")

    # ------------------------------------------------------------------ splits
    def _ids(self, root: Path) -> tuple[dict[str, list[str]], Path]:
        """The id JSON: in ``root`` or beside it (the MUSIC repository keeps it at its top, beside ``data/``)."""
        for folder in (root, root.parent):
            for name in ("MUSIC21_solo_videos.json", "MUSIC_solo_videos.json"):
                if (folder / name).is_file():
                    return read_id_json(folder / name), folder / name
        raise FileNotFoundError(
            f"MUSIC: no id list (MUSIC21_solo_videos.json or MUSIC_solo_videos.json) in {root} or {root.parent}"
        )

    def _mode(self, root: Path) -> str:
        if self.split == "foley" and self.is_synthetic:
            mode = "sop" if (root / "train.csv").is_file() else "ids"
            log.info("MUSICDataModule: synthetic data holds no real MUSIC videos; using the %r split", mode)
            return mode
        return self.split

    def recordings(self, root: Path, split: str) -> list[Recording]:
        mode = self._mode(root)
        keep = self.categories
        if mode == "ids":
            ids, source = self._ids(root)
            pairs = [(c, v) for c, vs in ids.items() for v in vs if keep is None or c in keep]
            chosen = group_split([v for _, v in pairs], split)
            items = [(c, v, 0.0, None) for c, v in pairs if v in chosen]
            return self._collect(root, split, items, source)
        if mode == "sop":
            name = "train.csv" if split == "train" else "val.csv"
            if split == "test" and (root / "test.csv").is_file():
                name = "test.csv"
            if not (root / name).is_file():
                raise FileNotFoundError(f"MUSIC: Sound-of-Pixels index {root / name} does not exist")
            items = [(c, v, 0.0, None) for c, v in read_sop_csv(root / name) if keep is None or c in keep]
            return self._collect(root, split, items, root / name)
        folder = FOLEY_SPLITS if mode == "foley" else Path(mode)
        if not folder.is_dir():
            raise FileNotFoundError(f"MUSIC: split folder {folder} does not exist")
        cats = keep or tuple(sorted(p.name for p in folder.iterdir() if p.is_dir()))
        items = []
        for cat in cats:
            path = folder / cat / f"{split}.csv"
            if split == "test" and not path.is_file():
                path = folder / cat / "val.csv"
            if not path.is_file():
                raise FileNotFoundError(f"MUSIC: split file {path} does not exist")
            with open(path, newline="") as handle:
                for row in csv.DictReader(handle):
                    start, duration = float(row["start_time"]), float(row["duration"])
                    if not (math.isfinite(start) and math.isfinite(duration) and duration > 0):
                        raise ValueError(f"MUSIC split file {path}: bad start/duration in row {row}")
                    items.append((cat, row["vid"], start, duration))
        return self._collect(root, split, items, folder)

    def _collect(
        self, root: Path, split: str, items: list[tuple[str, str, float, Optional[float]]], source: Path
    ) -> list[Recording]:
        """The recordings of the listed ``(category, ytid, start, duration)``. A listed video whose files are not on
        disk (dead YouTube videos are never downloaded) is skipped and reported once, unless ``strict``; a split left
        empty is an error."""
        recordings, missing = [], []
        for cat, vid, start, duration in items:
            try:
                recordings.append(self._recording(root, cat, vid, start, duration))
            except FileNotFoundError as error:
                if self.strict:
                    raise
                missing.append((f"{cat}/{vid}", error))
        if not recordings and missing:
            raise FileNotFoundError(
                f"MUSIC: the {split} split of {root} holds no video: the {len(missing)} listed in {source} are not on "
                f"disk (first: {missing[0][1]})"
            )
        new = sorted({key for key, _ in missing} - self._reported)
        if new:
            self._reported.update(new)
            log.warning(
                "MUSIC: %d of %d videos listed in %s (%s split) are not on disk and are skipped (strict=True makes "
                "this an error): %s%s",
                len(new),
                len(items),
                source,
                split,
                ", ".join(new[:5]),
                f" and {len(new) - 5} more" if len(new) > 5 else "",
            )
        return recordings or self._empty(split, root)

    @staticmethod
    def _empty(split: str, root: Path) -> list[Recording]:
        raise ValueError(f"MUSIC: the {split} split of {root} holds no video")


__all__ = ["MUSICDataModule", "read_id_json", "read_sop_csv"]

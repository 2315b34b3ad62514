"""Solos (Montesinos et al., MMSP 2020), docs/DATASETS.md §3: 13 instruments, skeletons at 25 fps.

Layout under ``root``:

- ``solos_ids.json``: ``{Category: [ytid, ...]}``; ``solos_timestamps.json`` (optional): ``{Category: {ytid:
  [[first_frame, last_frame], ...]}}`` at 25 fps, both frames included, the segments with a valid skeleton (a clip
  never crosses a segment border; without the file the whole skeleton span is used).
- ``skeleton.npy`` + ``skeleton_dict.json`` (also looked for under ``skeleton/``): the released skeletons, a RAW
  float32 memmap ``(N, 3, 47)`` without .npy header and ``{ytid: [start, stop), "_counter": N}``
  (:class:`datamodules.keypoints.SolosSkeletons`; ids may start with ``_``). Row i of an id is its video frame i.
- ``audio/<Category>/<ytid>.wav`` (the Solos dev scripts extract mono 16 kHz) or the downloaded video
  ``<Category>/<ytid>.<ext>`` / ``videos/<Category>/<ytid>.mp4`` (its audio track is decoded).
- ``midi/<Category>/<ytid>.mid`` (optional; e.g. from ``python cli.py prepare --task transcribe``) for events/roll.

Solos ships no split: ids are split deterministically (``split="ids"``: about 80/10/10, by id, so no video is in two
splits), or as MI Net §4 does (``split="mi_net"``: 9:1 train/test, stratified by category: per category
``max(1, round(n / 10))`` ids held out, none when it has a single id; no validation set in the paper, so val is the
test set). MI Net (§3) feeds the upper body and both hands: ``keypoint_layout="upper47"`` (5 body + 2 x 21 hand
joints); the default layout is Solos' own ``solos47``. A category outside the 13 is an error naming the id list when
the ``instrument`` field is asked for (and otherwise has no label).
"""

from __future__ import annotations

import json
import math
import zlib
from pathlib import Path
from typing import Any, Literal, Optional

from datamodules.base import RecordingDataModule
from datamodules.clips import group_split
from datamodules.instruments import instrument_index
from datamodules.recordings import KeypointSource, MidiSource, Recording

SOLOS_FPS = 25.0
VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm")


def _read_json(path: Path, what: str) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read Solos {what} {path}: {error}") from error
    if not isinstance(data, dict):
        raise ValueError(f"Solos {what} {path} is not a JSON object")
    return data


def _segments(path: Path, cat: str, vid: str, value: Any) -> list[tuple[float, float]]:
    """The ``[[first, last], ...]`` frame segments of ``vid`` as ``(start, end)`` seconds. Both frames are included
    (the Solos tools write ``[min(idx), max(idx)]``), so a segment ends where its last frame ends: ``(last + 1) / 25``.
    A segment that is not two whole numbers ``first <= last`` is an error naming the file and the id."""
    out = []
    for segment in value if isinstance(value, list) else [value]:
        ok = isinstance(segment, list) and len(segment) == 2
        ok = ok and all(isinstance(x, (int, float)) and math.isfinite(x) and float(x).is_integer() for x in segment)
        if not ok or segment[0] > segment[1]:
            raise ValueError(
                f"Solos timestamps {path}: id {vid} ({cat}) has segment {segment!r}, expected [first_frame, "
                "last_frame] (whole numbers, first <= last, both included)"
            )
        out.append((segment[0] / SOLOS_FPS, (segment[1] + 1) / SOLOS_FPS))
    return out


def mi_net_held_out(pairs: list[tuple[str, str]], fraction: float = 0.1) -> set[str]:
    """The ids MI Net (§4) tests on: per category of ``pairs`` ``(category, ytid)``, ``max(1, round(fraction * n))``
    of its ``n`` ids (ordered by CRC32 of the id); a category with a single id keeps it for training."""
    held: set[str] = set()
    for category in sorted({c for c, _ in pairs}):
        ids = sorted({v for c, v in pairs if c == category}, key=lambda v: (zlib.crc32(v.encode()), v))
        if len(ids) >= 2:
            held.update(ids[: max(1, int(round(fraction * len(ids))))])
    return held


class SolosDataModule(RecordingDataModule):
    """Solos videos as clips with keypoints / audio / events / roll / frames / instrument.

    Args:
        root: the Solos folder (see the module docstring); None = synthetic Solos.
        fields: batch fields to read (keypoints, audio, events, roll, frames, instrument).
        categories: Solos categories to keep (default all 13).
        split: ``ids`` (about 80/10/10 by id) or ``mi_net`` (MI Net §4: 9:1 stratified by category, val = test).
        keypoint_layout: layout of the keypoints field (default solos47; body65 / openpose67 fill hands from it;
            MI Net: upper47).
        clip_seconds, fps: clip length and output frame rate (default 25 fps, Solos' own).
        sample_rate: audio rate (MI Net: 16000).
        min_segment_seconds: shorter skeleton segments are not used.
        Others: see :class:`datamodules.base.RecordingDataModule`.
    """

    synthetic_name = "solos"
    dataset_name = "Solos"

    def __init__(
        self,
        root: Optional[str] = None,
        fields: tuple[str, ...] = ("keypoints", "audio", "instrument"),
        categories: Optional[tuple[str, ...]] = None,
        split: Literal["ids", "mi_net"] = "ids",
        keypoint_layout: str = "solos47",
        clip_seconds: float = 6.0,
        fps: float = SOLOS_FPS,
        sample_rate: int = 16000,
        min_segment_seconds: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(root, fields, keypoint_layout, clip_seconds, fps, sample_rate, **kwargs)
        self.categories = None if categories is None else tuple(categories)
        if split not in ("ids", "mi_net"):
            raise ValueError(f"SolosDataModule: split must be 'ids' or 'mi_net', got {split!r}")
        self.split = split
        self.min_segment_seconds = float(min_segment_seconds)

    def _skeleton_files(self, root: Path) -> tuple[Path, Path]:
        for folder in (root, root / "skeleton"):
            if (folder / "skeleton.npy").is_file() and (folder / "skeleton_dict.json").is_file():
                return folder / "skeleton.npy", folder / "skeleton_dict.json"
        raise FileNotFoundError(
            f"Solos: skeleton.npy and skeleton_dict.json not found in {root} (or {root / 'skeleton'})"
        )

    def _find(self, root: Path, cat: str, vid: str) -> tuple[Optional[Path], Optional[Path], Optional[Path]]:
        audio = root / "audio" / cat / f"{vid}.wav"
        videos = [root / cat / f"{vid}{s}" for s in VIDEO_SUFFIXES] + [root / "videos" / cat / f"{vid}.mp4"]
        video = next((v for v in videos if v.is_file()), None)
        midi = root / "midi" / cat / f"{vid}.mid"
        return (audio if audio.is_file() else video), video, (midi if midi.is_file() else None)

    def recordings(self, root: Path, split: str) -> list[Recording]:
        from datamodules.keypoints import SolosSkeletons

        if not (root / "solos_ids.json").is_file():
            raise FileNotFoundError(f"Solos: id list {root / 'solos_ids.json'} does not exist")
        ids = _read_json(root / "solos_ids.json", "id list")
        stamps_path = root / "solos_timestamps.json"
        stamps = _read_json(stamps_path, "timestamps") if stamps_path.is_file() else None
        fields = self.options.fields
        skeletons = None
        if "keypoints" in fields:
            npy, index = self._skeleton_files(root)
            skeletons = SolosSkeletons(npy, index)
        pairs = [(c, v) for c, vs in ids.items() for v in vs if self.categories is None or c in self.categories]
        if self.split == "mi_net":
            held = mi_net_held_out(pairs)
            if not held:
                raise ValueError(
                    f"Solos: split='mi_net' holds out ids of categories with at least 2 ids, and every category in "
                    f"{root / 'solos_ids.json'} has one; use split='ids', or more synthetic data "
                    "(synthetic_minutes >= 10 repeats categories; 40 gives each 4-5 ids)"
                )
            chosen = {v for _, v in pairs if (v in held) == (split != "train")}
        else:
            chosen = group_split([v for _, v in pairs], split)
        recordings = []
        for cat, vid in pairs:
            if vid not in chosen:
                continue
            try:
                label: Optional[int] = instrument_index(cat)
            except KeyError:
                if "instrument" in fields:
                    raise ValueError(
                        f"Solos: id list {root / 'solos_ids.json'} has category {cat!r}, which is no instrument of "
                        "datamodules/instruments.py, so the 'instrument' field has no label for it"
                    ) from None
                label = None
            audio, video, midi = self._find(root, cat, vid)
            for name, have, expected in (
                ("audio", audio, f"{root / 'audio' / cat / vid}.wav or the video {root / cat / vid}.mp4"),
                ("frames", video, f"{root / cat / vid}.mp4"),
                ("events", midi, f"{root / 'midi' / cat / vid}.mid"),
                ("roll", midi, f"{root / 'midi' / cat / vid}.mid"),
            ):
                if name in fields and have is None:
                    raise FileNotFoundError(f"Solos: {name} of video {cat}/{vid} not found: expected {expected}")
            keypoints = None
            limit = float("inf")
            if skeletons is not None:
                if vid not in skeletons:
                    raise FileNotFoundError(f"Solos: id {vid} ({cat}) has no skeleton in {skeletons.dict_path}")
                keypoints = KeypointSource("solos", skeletons.path, SOLOS_FPS, key=vid, extra=str(skeletons.dict_path))
                limit = skeletons.num_frames(vid) / SOLOS_FPS
            if stamps is not None:
                segments = _segments(stamps_path, cat, vid, stamps.get(cat, {}).get(vid, []))
            elif keypoints is not None:
                segments = [(0.0, limit)]
            else:
                from datamodules.audio import audio_info

                segments = [(0.0, audio_info(audio)[1])] if audio is not None else []
            for k, (a, b) in enumerate(segments):
                b = min(b, limit)
                if b - a <= max(self.min_segment_seconds, 0.0) or b <= a:
                    continue
                recordings.append(
                    Recording(
                        key=f"{cat}/{vid}#{k}",
                        start=a,
                        end=b,
                        audio=audio,
                        midi=None if midi is None else MidiSource("midi", midi),
                        keypoints=keypoints,
                        video=video,
                        instrument=label,
                        meta={"category": cat, "ytid": vid, "segment": k},
                    )
                )
        if not recordings:
            raise ValueError(f"Solos: the {split} split of {root} holds no usable segment")
        return recordings


__all__ = ["SOLOS_FPS", "SolosDataModule", "mi_net_held_out"]

"""URMP (University of Rochester Multi-modal Music Performance), docs/DATASETS.md §1, as a track-level clip dataset.

Each *track* is one part of one piece: its separated audio ``AuSep_{k}_{inst}_{NN}_{Piece}.wav`` (48 kHz/24-bit, read
at the model's rate), its performance notes ``Notes_{k}_{inst}_{NN}_{Piece}.txt`` turned into a one-instrument MIDI
(:func:`notes_to_midi`), the keypoints of its player from a cache, and optionally the video (``VidSep_*`` when present,
else the ensemble ``Vid_*``). Piece 15's third part is a trombone whose files say ``tpt``: files are found by
globbing ``*_{k}_*_{NN}_{Piece}.*`` and the instrument is taken from the folder name. ``Supplementary_Files/`` and
anything that is not a piece folder are ignored.

Keypoint cache (``keypoints_root``, default ``root``), first match wins, per track:

1. ``pose/<inst>/PoseSep_{k}_{inst}_{NN}_{Piece}.npy``: Foley Music's released form ``[T, 3, 65, M]`` at 22 fps;
2. ``<piece folder>/PoseSep_{k}_{inst}_{NN}_{Piece}.npy``: the same array beside the piece's files;
3. ``<piece folder>/PoseSep_{k}_{inst}_{NN}_{Piece}/``: OpenPose JSON (BODY_25 + hands) of that player, one file
   per video frame, at the video's rate (``keypoint_fps``, default 29.97).

Splits: ``split="foley"`` (default) uses Foley Music's per-instrument track lists (vn, va, vc, fl, tpt; train and val,
shipped in ``datamodules/resources/foley_music/URMP``; val doubles as test) with their start/duration. A folder of
``<inst>/{train,val[,test]}.csv`` in the same format can be given instead. ``split="pieces"`` groups tracks by piece
*name* (so shared takes such as 24_Pirates / 25_Pirates stay together) and assigns whole groups deterministically
(about 80/10/10). A synthetic root (which holds none of the real pieces) always uses ``pieces``.
"""

from __future__ import annotations

import csv
import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pretty_midi

from datamodules.base import RecordingDataModule
from datamodules.clips import group_split
from datamodules.instruments import instrument_class, instrument_index
from datamodules.recordings import KeypointSource, MidiSource, Recording

log = logging.getLogger(__name__)

PIECE_DIR = re.compile(r"^(\d{2})_([A-Za-z]+)_((?:[a-z]+_?)+)$")
URMP_INSTRUMENTS = ("vn", "va", "vc", "db", "fl", "ob", "cl", "bn", "sax", "tpt", "hn", "tbn", "tba")
FOLEY_INSTRUMENTS = ("vn", "va", "vc", "fl", "tpt")
FOLEY_SPLITS = Path(__file__).parent / "resources" / "foley_music" / "URMP"
NOTE_VELOCITY = 100  # Notes_*.txt carry no dynamics; every note gets this MIDI velocity
FOLEY_POSE_FPS = 22.0
VIDEO_FPS = 30000 / 1001


def hz_to_midi(frequency: np.ndarray) -> np.ndarray:
    return np.round(69 + 12 * np.log2(np.asarray(frequency, dtype=np.float64) / 440.0)).astype(int)


def notes_to_midi(path: str | Path, program: int = 0) -> pretty_midi.PrettyMIDI:
    """A URMP ``Notes_*.txt`` (lines ``onset_s  pitch_Hz  duration_s``) as a one-instrument MIDI (GM ``program``).

    Pitches are the notes' mean F0 rounded to the nearest MIDI number; rows with pitch <= 0 are rests and skipped.
    A missing, unreadable or note-less file raises an error naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"URMP note file {path} does not exist")
    try:
        rows = np.loadtxt(path, ndmin=2, dtype=np.float64)
    except (ValueError, OSError) as error:
        raise ValueError(
            f"cannot parse URMP note file {path} (expected 'onset pitch_Hz duration' rows): {error}"
        ) from error
    if rows.size and rows.shape[1] < 3:
        raise ValueError(f"URMP note file {path} has {rows.shape[1]} columns, expected 3 (onset, pitch_Hz, duration)")
    if rows.size and not np.all(np.isfinite(rows[:, :3])):
        raise ValueError(f"URMP note file {path} contains NaN or Inf values")
    rows = rows[rows[:, 1] > 0] if rows.size else rows
    if len(rows) == 0:
        raise ValueError(f"URMP note file {path} has no notes")
    midi = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    instrument = pretty_midi.Instrument(program=int(program), name=path.stem)
    for (onset, _, duration), pitch in zip(rows[:, :3], hz_to_midi(rows[:, 1])):
        if duration > 0 and 0 <= pitch <= 127:
            instrument.notes.append(pretty_midi.Note(NOTE_VELOCITY, int(pitch), float(onset), float(onset + duration)))
    instrument.notes.sort(key=lambda n: (n.start, n.pitch))
    midi.instruments.append(instrument)
    return midi


@dataclass(frozen=True)
class Track:
    """One part of one piece."""

    folder: Path
    number: int  # NN
    piece: str  # e.g. "Jupiter"
    part: int  # k, from 1
    instrument: str  # true instrument, from the folder name

    @property
    def key(self) -> str:
        return f"{self.number:02d}_{self.piece}/{self.part}_{self.instrument}"

    def file(self, kind: str, suffix: str) -> Optional[Path]:
        """The track's ``{kind}_{k}_*_{NN}_{Piece}{suffix}`` (any instrument spelling), None when absent."""
        matches = sorted(self.folder.glob(f"{kind}_{self.part}_*_{self.number:02d}_{self.piece}{suffix}"))
        if len(matches) > 1:
            raise ValueError(f"URMP: several {kind} files for part {self.part} in {self.folder}: {matches}")
        return matches[0] if matches else None

    def expected(self, kind: str, suffix: str) -> Path:
        return self.folder / f"{kind}_{self.part}_{self.instrument}_{self.number:02d}_{self.piece}{suffix}"


def scan(root: Path) -> list[Track]:
    """All tracks of the piece folders under ``root``."""
    tracks = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        match = PIECE_DIR.match(folder.name)
        if match is None:
            continue
        number, piece, parts = int(match.group(1)), match.group(2), match.group(3).split("_")
        for k, inst in enumerate(parts, start=1):
            if inst not in URMP_INSTRUMENTS:
                raise ValueError(f"URMP: piece folder {folder} names an unknown instrument {inst!r}")
            tracks.append(Track(folder, number, piece, k, inst))
    if not tracks:
        raise FileNotFoundError(f"URMP: no piece folders (like 01_Jupiter_vn_vc) in {root}")
    return tracks


def _read_split_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    needed = {"track_index", "instrument", "vid", "piece", "start_time", "duration"}
    if rows and not needed <= set(rows[0]):
        raise ValueError(f"URMP split file {path} lacks columns {sorted(needed - set(rows[0]))}")
    return rows


class URMPDataModule(RecordingDataModule):
    """URMP tracks as clips with keypoints / audio / events / roll / frames / instrument (docs/DATASETS.md §1).

    Args:
        root: the extracted URMP ``Dataset/`` folder; None = synthetic URMP.
        fields: batch fields to read (keypoints, audio, events, roll, frames, instrument).
        instruments: URMP abbreviations to keep (default: the five with Foley Music splits for ``split="foley"``,
            all 13 otherwise).
        split: ``foley``, ``pieces`` or a folder of ``<inst>/{train,val[,test]}.csv`` in Foley's format.
        keypoints_root: the keypoint cache (default: ``root``).
        keypoint_fps: rate of OpenPose JSON keypoints (default: the URMP video rate 29.97); Foley npy is 22 fps.
        keypoint_layout: layout of the ``keypoints`` field (Foley Music: body65).
        clip_seconds, fps: clip length and the frame rate of keypoints / roll / frames (Foley Music: 6 s at 22 fps).
        sample_rate: audio rate (Foley Music 22050; MI Net 16000).
        Others: see :class:`datamodules.base.RecordingDataModule` (Foley Music: 512 events).
    """

    synthetic_name = "urmp"
    dataset_name = "URMP"

    def __init__(
        self,
        root: Optional[str] = None,
        fields: tuple[str, ...] = ("keypoints", "audio", "events", "instrument"),
        instruments: Optional[tuple[str, ...]] = None,
        split: str = "foley",
        keypoints_root: Optional[str] = None,
        keypoint_fps: float = VIDEO_FPS,
        keypoint_layout: str = "body65",
        clip_seconds: float = 6.0,
        fps: float = 22.0,
        sample_rate: int = 22050,
        **kwargs: Any,
    ) -> None:
        super().__init__(root, fields, keypoint_layout, clip_seconds, fps, sample_rate, **kwargs)
        self.instruments = None if instruments is None else tuple(instruments)
        for inst in self.instruments or ():
            if inst not in URMP_INSTRUMENTS:
                raise ValueError(f"URMPDataModule: unknown instrument {inst!r}; URMP has {URMP_INSTRUMENTS}")
        self.split = split
        self.keypoints_root = None if keypoints_root is None else Path(keypoints_root)
        self.keypoint_fps = float(keypoint_fps)

    # ------------------------------------------------------------------ streams of one track
    def _keypoints(self, track: Track, root: Path) -> Optional[KeypointSource]:
        kroot = self.keypoints_root or root
        name = f"PoseSep_{track.part}_{track.instrument}_{track.number:02d}_{track.piece}"
        for path in (kroot / "pose" / track.instrument / f"{name}.npy", kroot / track.folder.name / f"{name}.npy"):
            if path.is_file():
                return KeypointSource("foley", path, FOLEY_POSE_FPS)
        folder = kroot / track.folder.name / name
        if folder.is_dir():
            return KeypointSource("openpose", folder, self.keypoint_fps)
        if "keypoints" in self.options.fields:
            raise FileNotFoundError(
                f"URMP: no keypoints for track {track.key}: looked for {kroot / 'pose' / track.instrument / name}.npy, "
                f"{kroot / track.folder.name / name}.npy and the OpenPose folder {folder}/ (make them with "
                f"`python cli.py prepare --task keypoints`)"
            )
        return None

    def _recording(self, track: Track, root: Path, start: float = 0.0, duration: Optional[float] = None) -> Recording:
        fields = self.options.fields
        audio = track.file("AuSep", ".wav")
        notes = track.file("Notes", ".txt")
        if "audio" in fields and audio is None:
            raise FileNotFoundError(
                f"URMP: separated audio of track {track.key} not found: {track.expected('AuSep', '.wav')}"
            )
        if ("events" in fields or "roll" in fields) and notes is None:
            raise FileNotFoundError(
                f"URMP: note file of track {track.key} not found: {track.expected('Notes', '.txt')}"
            )
        video = track.file("VidSep", ".mp4")
        if video is None:
            ensemble = sorted(track.folder.glob(f"Vid_{track.number:02d}_{track.piece}_*.mp4"))
            video = ensemble[0] if ensemble else None
        if "frames" in fields and video is None:
            raise FileNotFoundError(
                f"URMP: no video for track {track.key} in {track.folder} (Vid_*.mp4 / VidSep_*.mp4)"
            )
        inst = instrument_class(track.instrument)
        if duration is None:
            duration = self._track_duration(track, audio, notes)
        return Recording(
            key=track.key,
            start=float(start),
            end=float(start + duration),
            audio=audio,
            midi=None if notes is None else MidiSource("urmp_notes", notes, inst.program),
            keypoints=self._keypoints(track, root),
            video=video,
            instrument=instrument_index(track.instrument),
            meta={"piece": track.folder.name, "part": track.part, "instrument_name": track.instrument},
        )

    @staticmethod
    def _track_duration(track: Track, audio: Optional[Path], notes: Optional[Path]) -> float:
        if audio is not None:
            from datamodules.audio import audio_info

            return audio_info(audio)[1]
        if notes is not None:
            from datamodules.midi import midi_end

            return midi_end(notes_to_midi(notes))
        raise FileNotFoundError(f"URMP: track {track.key} has neither AuSep audio nor a Notes file in {track.folder}")

    # ------------------------------------------------------------------ splits
    def recordings(self, root: Path, split: str) -> list[Recording]:
        tracks = scan(root)
        mode = self.split
        if mode == "foley" and self.is_synthetic:
            log.info("URMPDataModule: synthetic data holds no real URMP pieces; using the grouped 'pieces' split")
            mode = "pieces"
        if mode == "pieces":
            keep = self.instruments or URMP_INSTRUMENTS
            chosen = group_split([t.piece for t in tracks], split)
            selected = [t for t in tracks if t.piece in chosen and t.instrument in keep]
            if not selected:
                raise ValueError(f"URMP: no {'/'.join(keep)} track in the {split} split of {root}")
            return [self._recording(t, root) for t in selected]
        return self._csv_recordings(root, tracks, split, FOLEY_SPLITS if mode == "foley" else Path(mode))

    def _csv_recordings(self, root: Path, tracks: list[Track], split: str, folder: Path) -> list[Recording]:
        by_id = {(t.number, t.part): t for t in tracks}
        instruments = self.instruments or (FOLEY_INSTRUMENTS if folder == FOLEY_SPLITS else None)
        if instruments is None:
            instruments = tuple(sorted(p.name for p in folder.iterdir() if p.is_dir()))
        recordings = []
        for inst in instruments:
            name = split if (folder / inst / f"{split}.csv").is_file() or split != "test" else "val"
            path = folder / inst / f"{name}.csv"
            if not path.is_file():
                raise FileNotFoundError(f"URMP: split file {path} does not exist")
            for row in _read_split_csv(path):
                number, part = int(row["vid"]), int(row["track_index"])
                track = by_id.get((number, part))
                if track is None or track.piece != row["piece"]:
                    raise FileNotFoundError(
                        f"URMP: track {part} of piece {number:02d}_{row['piece']} listed in {path} is not in {root}"
                    )
                start, duration = float(row["start_time"]), float(row["duration"])
                if not (math.isfinite(start) and math.isfinite(duration) and duration > 0):
                    raise ValueError(f"URMP split file {path}: bad start/duration in row {row}")
                recordings.append(self._recording(track, root, start, duration))
        return recordings


__all__ = ["URMPDataModule", "Track", "group_split", "notes_to_midi", "scan"]

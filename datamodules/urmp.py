"""URMP (University of Rochester Multi-modal Music Performance), docs/DATASETS.md §1, as a track-level clip dataset.

Each *track* is one part of one piece: its separated audio ``AuSep_{k}_{inst}_{NN}_{Piece}.wav`` (48 kHz/24-bit, read
at the model's rate), its performance notes ``Notes_{k}_{inst}_{NN}_{Piece}.txt`` turned into a one-instrument MIDI
(:func:`datamodules.midi.notes_to_midi`), the keypoints of its player from a cache, and optionally the video
(``VidSep_*`` when present, else the ensemble ``Vid_*``). Piece 15's third part is a trombone whose files say
``tpt``: files are found by globbing ``*_{k}_*_{NN}_{Piece}.*`` and the instrument is taken from the folder name.
``Supplementary_Files/`` and anything that is not a piece folder are ignored.

Keypoint cache (``keypoints_root``, default ``root``), first match wins, per track:

1. ``pose/<inst>/PoseSep_{k}_{inst}_{NN}_{Piece}.npy``: Foley Music's released form ``[T, 3, 65, M]`` at 22 fps;
2. ``<piece folder>/PoseSep_{k}_{inst}_{NN}_{Piece}.npy``: the same array beside the piece's files;
3. ``<piece folder>/PoseSep_{k}_{inst}_{NN}_{Piece}/``: OpenPose JSON (BODY_25 + hands) of that player, one file
   per video frame, at the video's rate (``keypoint_fps``, default 29.97).

Splits: ``split="foley"`` (default) uses Foley Music's per-instrument track lists (vn, va, vc, fl, tpt; train and val,
shipped in ``datamodules/resources/foley_music/URMP``; val doubles as test) with their start/duration. A folder of
``<inst>/{train,val[,test]}.csv`` in the same format can be given instead. ``split="pieces"`` groups tracks by piece
*name* (so shared takes such as 24_Pirates / 25_Pirates stay together) and assigns whole groups deterministically
(about 80/10/10). A synthetic root (which holds none of the real pieces) uses ``pieces`` for ``foley``.
``split="mi_net"`` is MI Net §4's track-level split (135 training / 13 test tracks of 148): one held-out track per
instrument (:func:`mi_net_held_out`), every other track trains; the paper has no validation set, so val is the test
set.

Foley Music's URMP release alone (``root`` = its ``data/URMP``: ``pose/<inst>/PoseSep_*.npy`` and
``midi/<inst>/ScoSep_{k}_{inst}_{NN}_{Piece}.mid``, no piece folders) is read too, for the fields it can give:
keypoints, events / roll (from ``ScoSep_*``) and instrument (as the file names it); audio and frames need URMP's
``Dataset/`` piece folders and are an error saying so (docs/DATASETS.md §12).
"""

from __future__ import annotations

import csv
import logging
import math
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from datamodules.base import RecordingDataModule
from datamodules.clips import group_split
from datamodules.instruments import instrument_class, instrument_index
from datamodules.midi import notes_to_midi
from datamodules.recordings import KeypointSource, MidiSource, Recording

log = logging.getLogger(__name__)

PIECE_DIR = re.compile(r"^(\d{2})_([A-Za-z][A-Za-z0-9]*)_((?:[a-z]+_?)+)$")  # 44_K515_vn_vn_va_va_vc
SCOSEP = re.compile(r"^ScoSep_(\d+)_([a-z]+)_(\d{2})_([A-Za-z][A-Za-z0-9]*)\.midi?$")
URMP_INSTRUMENTS = ("vn", "va", "vc", "db", "fl", "ob", "cl", "bn", "sax", "tpt", "hn", "tbn", "tba")
FOLEY_INSTRUMENTS = ("vn", "va", "vc", "fl", "tpt")
FOLEY_SPLITS = Path(__file__).parent / "resources" / "foley_music" / "URMP"
FOLEY_POSE_FPS = 22.0
VIDEO_FPS = 30000 / 1001


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
        raise FileNotFoundError(
            f"URMP: no piece folders (like 01_Jupiter_vn_vc) in {root}, nor Foley Music's release "
            "(midi/<inst>/ScoSep_*.mid beside pose/)"
        )
    return tracks


@dataclass(frozen=True)
class ReleaseTrack:
    """One part of one piece in Foley Music's URMP release: its ``ScoSep_{k}_{inst}_{NN}_{Piece}.mid``."""

    midi: Path
    number: int
    piece: str
    part: int
    instrument: str  # as the file names it

    @property
    def key(self) -> str:
        return f"{self.number:02d}_{self.piece}/{self.part}_{self.instrument}"


def _folders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def scan_foley_release(root: Path) -> list[ReleaseTrack]:
    """The tracks of Foley Music's URMP release (``midi/<inst>/ScoSep_{k}_{inst}_{NN}_{Piece}.mid`` or
    ``midi/ScoSep_*``, beside ``pose/``); empty when ``root`` has no such files."""
    tracks = []
    for path in sorted((root / "midi").glob("ScoSep_*.mid*")) + sorted((root / "midi").glob("*/ScoSep_*.mid*")):
        match = SCOSEP.match(path.name)
        if match is None:
            raise ValueError(f"URMP: {path} is not named ScoSep_<part>_<inst>_<NN>_<Piece>.mid")
        part, inst, number, piece = int(match.group(1)), match.group(2), int(match.group(3)), match.group(4)
        if inst not in URMP_INSTRUMENTS:
            raise ValueError(f"URMP: {path} names an unknown instrument {inst!r}")
        tracks.append(ReleaseTrack(path, number, piece, part, inst))
    return tracks


def mi_net_held_out(tracks: Sequence[Any]) -> set[str]:
    """Keys of MI Net's (§4) held-out tracks: per instrument, one track (a deterministic pick by CRC32 of its piece
    name and part, preferring a take no other piece shares), together with the tracks of the same piece name, part
    and instrument (a shared take such as 24_Pirates / 25_Pirates' viola is never on both sides). On URMP's 44
    pieces this holds out 13 tracks, one per instrument. An instrument with a single track keeps it for training.
    ``tracks`` are :class:`Track` s or :class:`ReleaseTrack` s."""
    held: set[str] = set()
    for inst in sorted({t.instrument for t in tracks}):
        takes: dict[tuple[str, int], list[str]] = {}
        for t in tracks:
            if t.instrument == inst:
                takes.setdefault((t.piece, t.part), []).append(t.key)
        if len(takes) < 2:
            continue
        pick = min(
            takes, key=lambda take: (len(takes[take]) > 1, zlib.crc32(f"{take[0]}/{take[1]}_{inst}".encode()), take)
        )
        held.update(takes[pick])
    return held


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
        root: the extracted URMP ``Dataset/`` folder (or Foley Music's ``data/URMP`` release); None = synthetic URMP.
        fields: batch fields to read (keypoints, audio, events, roll, frames, instrument).
        instruments: URMP abbreviations to keep (default: the five with Foley Music splits for ``split="foley"``,
            all 13 otherwise).
        split: ``foley``, ``pieces``, ``mi_net`` (MI Net §4: one held-out track per instrument, val = test) or a
            folder of ``<inst>/{train,val[,test]}.csv`` in Foley's format.
        keypoints_root: the keypoint cache (default: ``root``).
        keypoint_fps: rate of OpenPose JSON keypoints (default: the URMP video rate 29.97); Foley npy is 22 fps.
        keypoint_layout: layout of the ``keypoints`` field (Foley Music: body65; MI Net: upper47, 5 body + 2 x 21
            hand joints).
        clip_seconds, fps: clip length and the frame rate of keypoints / roll / frames (Foley Music: 6 s at 22 fps).
        sample_rate: audio rate (Foley Music 22050; MI Net 16000).
        binary_roll: ``roll`` as 0/1 (MI Net's content MIDI, §3.3).
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
        release = scan_foley_release(root) if not any(PIECE_DIR.match(p.name) for p in _folders(root)) else None
        tracks: list[Any] = release if release else scan(root)
        make = self._release_recording if release else self._recording
        mode = self.split
        if mode == "foley" and self.is_synthetic:
            log.info("URMPDataModule: synthetic data holds no real URMP pieces; using the grouped 'pieces' split")
            mode = "pieces"
        if mode == "mi_net":
            keep = self.instruments or URMP_INSTRUMENTS
            held = mi_net_held_out(tracks)
            selected = [t for t in tracks if (t.key in held) == (split != "train") and t.instrument in keep]
            if not selected:
                raise ValueError(f"URMP: no {'/'.join(keep)} track in the {split} split (split='mi_net') of {root}")
            return [make(t, root) for t in selected]
        if mode == "pieces":
            keep = self.instruments or URMP_INSTRUMENTS
            chosen = group_split([t.piece for t in tracks], split)
            selected = [t for t in tracks if t.piece in chosen and t.instrument in keep]
            if not selected:
                raise ValueError(f"URMP: no {'/'.join(keep)} track in the {split} split of {root}")
            return [make(t, root) for t in selected]
        folder = FOLEY_SPLITS if mode == "foley" else Path(mode)
        if not folder.is_dir():
            raise ValueError(
                f"URMP: split {mode!r} is neither 'foley', 'pieces', 'mi_net' nor a folder of "
                "<inst>/{train,val[,test]}.csv"
            )
        return self._csv_recordings(root, tracks, split, folder, make)

    def _csv_recordings(
        self, root: Path, tracks: list[Any], split: str, folder: Path, make: Callable[..., Recording]
    ) -> list[Recording]:
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
                recordings.append(make(track, root, start, duration))
        return recordings

    # ------------------------------------------------------------------ Foley Music's release alone
    def _release_recording(
        self, track: ReleaseTrack, root: Path, start: float = 0.0, duration: Optional[float] = None
    ) -> Recording:
        for name in ("audio", "frames"):
            if name in self.options.fields:
                raise FileNotFoundError(
                    f"URMP: {root} is Foley Music's release (pose/ and midi/ScoSep_*.mid) without URMP's piece "
                    f"folders; the {name} field needs URMP's Dataset/ piece folders (AuSep_*.wav, Vid_*.mp4), which "
                    "the release does not hold. It gives keypoints, events, roll and instrument."
                )
        kroot = self.keypoints_root or root
        name = f"PoseSep_{track.part}_{track.instrument}_{track.number:02d}_{track.piece}.npy"
        pose = next((p for p in (kroot / "pose" / track.instrument / name, kroot / "pose" / name) if p.is_file()), None)
        if pose is None and "keypoints" in self.options.fields:
            raise FileNotFoundError(
                f"URMP: no keypoints for track {track.key}: {kroot / 'pose' / track.instrument / name}"
            )
        keypoints = None if pose is None else KeypointSource("foley", pose, FOLEY_POSE_FPS)
        if duration is None:
            if keypoints is not None:
                duration = keypoints.num_frames() / FOLEY_POSE_FPS
            else:
                from datamodules.midi import load_midi, midi_end

                duration = midi_end(load_midi(track.midi))
        return Recording(
            key=track.key,
            start=float(start),
            end=float(start + duration),
            midi=MidiSource("midi", track.midi),
            keypoints=keypoints,
            instrument=instrument_index(track.instrument),
            meta={
                "piece": f"{track.number:02d}_{track.piece}",
                "part": track.part,
                "instrument_name": track.instrument,
            },
        )


__all__ = [
    "ReleaseTrack",
    "Track",
    "URMPDataModule",
    "group_split",
    "mi_net_held_out",
    "notes_to_midi",
    "scan",
    "scan_foley_release",
]

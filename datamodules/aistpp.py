"""AIST++ (dance; google/aistplusplus_api), docs/DATASETS.md §8: 2-D keypoints of dancers + the music they dance to.

Layout under ``root`` (the annotation folder, plus the music and, optionally, the videos):

- ``keypoints2d/<seq>.pkl``: ``keypoints2d`` float32 ``(9 views, N, 17, 3)`` COCO-17 in pixels at exactly 60 fps,
  NaN where a detection is missing (cleaned to confidence 0, then interpolated);
- ``splits/{crossmodal,pose}_{train,val,test}.txt``: the official splits (one sequence per line);
  ``ignore_list.txt`` (optional): sequences to drop;
- ``music/m{GEN}{k}.{wav,mp3}`` (or ``music_dir``): the AIST Dance DB music, aligned with the sequence at t = 0;
- ``videos/<video>.mp4`` (optional, for the frames field): the camera videos, ``cAll`` replaced by ``c01``..``c09``.

Sequence names ``g{GEN}_s{SIT}_cAll_d{DD}_m{GEN}{k}_ch{CC}`` give the genre and the music piece. The ``beats``
field marks the music's beats (librosa's beat tracker on the piece, each beat moved onto its onset:
:func:`datamodules.audio.beat_times`), which is what RhythmicNet's Video2Rhythm learns to predict.
``keypoint_layout="rhythmic17"`` gives RhythmicNet's skeleton (Neck / MidHip from the shoulders / hips, toes copied
from the ankles with confidence 0). RhythmicNet's Video2Rhythm reads ``AISTPPDataModule(keypoint_layout="rhythmic17",
fps=60, clip_seconds=5, fields=("keypoints", "beats"))``. On a synthetic root (``SYNTHETIC.json``) the ``beats``
field marks the exact beat times the music was written with (the marker's ``pieces``), unless
``exact_beats=False``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, Optional

from datamodules.base import RecordingDataModule
from datamodules.recordings import KeypointSource, Recording

AIST_FPS = 60.0
SEQUENCE = re.compile(r"^g([A-Z]{2})_s([A-Z]{2})_c(All|\d{2})_d(\d{2})_m([A-Z]{2})(\d)_ch(\d{2})$")
GENRES = ("BR", "PO", "LO", "MH", "LH", "HO", "WA", "KR", "JS", "JB")
MUSIC_SUFFIXES = (".wav", ".mp3", ".flac")


def parse_sequence(name: str) -> dict[str, str]:
    """Genre, situation, dancer, music and choreography of an AIST++ sequence name (error naming it otherwise)."""
    match = SEQUENCE.match(name)
    if match is None:
        raise ValueError(f"AIST++: {name!r} is not a sequence name like gBR_sBM_cAll_d04_mBR0_ch01")
    genre, situation, _, dancer, music_genre, music_k, choreo = match.groups()
    return {
        "genre": genre,
        "situation": situation,
        "dancer": dancer,
        "music": f"m{music_genre}{music_k}",
        "choreography": choreo,
    }


def read_list(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


class AISTPPDataModule(RecordingDataModule):
    """AIST++ clips with keypoints / audio / beats / frames.

    Args:
        root: the AIST++ annotation folder (see the module docstring); None = synthetic AIST++.
        fields: batch fields to read (keypoints, audio, beats, frames).
        split_set: ``crossmodal`` (music-conditioned tasks, the default) or ``pose``.
        view: camera (0..8 = c01..c09) whose 2-D keypoints / video are read.
        music_dir: where the music pieces are (default ``root/music``).
        keypoint_layout: layout of the keypoints field (coco17; rhythmic17 for RhythmicNet; body25).
        clip_seconds, fps: clip length and frame rate (default 60 fps, the annotation rate).
        sample_rate: audio rate.
        exact_beats: on a synthetic root, beats from ``SYNTHETIC.json`` (exact) rather than tracked in the music.
        Others: see :class:`datamodules.base.RecordingDataModule` (no max_events here: no MIDI).
    """

    synthetic_name = "aistpp"
    dataset_name = "AIST++"

    def __init__(
        self,
        root: Optional[str] = None,
        fields: tuple[str, ...] = ("keypoints", "audio", "beats"),
        split_set: Literal["crossmodal", "pose"] = "crossmodal",
        view: int = 0,
        music_dir: Optional[str] = None,
        keypoint_layout: str = "coco17",
        clip_seconds: float = 6.0,
        fps: float = AIST_FPS,
        sample_rate: int = 22050,
        exact_beats: bool = True,
        **kwargs: Any,
    ) -> None:
        for name in ("events", "roll", "instrument"):
            if name in fields:
                raise ValueError(f"AISTPPDataModule: AIST++ has no {name!r} (it has keypoints, audio, beats, frames)")
        if not 0 <= view <= 8:
            raise ValueError(f"AISTPPDataModule: view must be 0..8 (cameras c01..c09), got {view}")
        # no events: max_events is fixed here, not an argument
        super().__init__(root, fields, keypoint_layout, clip_seconds, fps, sample_rate, max_events=0, **kwargs)
        self.split_set = split_set
        self.view = int(view)
        self.music_dir = None if music_dir is None else Path(music_dir)
        self.exact_beats = bool(exact_beats)

    def _exact_beats(self, root: Path) -> dict[str, tuple[float, ...]]:
        """Beat times per music piece from a synthetic root's marker (empty for real data or ``exact_beats=False``)."""
        if not self.exact_beats or "beats" not in self.options.fields:
            return {}
        from datamodules.synthetic import read_marker

        marker = read_marker(root) or {}
        pieces = marker.get("pieces") or {}
        return {piece: tuple(float(t) for t in info["beats"]) for piece, info in pieces.items() if "beats" in info}

    def _music(self, root: Path, piece: str) -> Optional[Path]:
        folder = self.music_dir or root / "music"
        return next((folder / f"{piece}{s}" for s in MUSIC_SUFFIXES if (folder / f"{piece}{s}").is_file()), None)

    def recordings(self, root: Path, split: str) -> list[Recording]:
        split_file = root / "splits" / f"{self.split_set}_{split}.txt"
        if not split_file.is_file():
            raise FileNotFoundError(f"AIST++: split file {split_file} does not exist")
        ignore = set(read_list(root / "ignore_list.txt")) if (root / "ignore_list.txt").is_file() else set()
        fields = self.options.fields
        exact = self._exact_beats(root)
        recordings = []
        for seq in read_list(split_file):
            if seq in ignore:
                continue
            info = parse_sequence(seq)
            pkl = root / "keypoints2d" / f"{seq}.pkl"
            if not pkl.is_file():
                raise FileNotFoundError(
                    f"AIST++: keypoints of sequence {seq} (listed in {split_file}) not found: {pkl}"
                )
            source = KeypointSource("aistpp", pkl, AIST_FPS, view=self.view)
            music = self._music(root, info["music"])
            beats = exact.get(info["music"])
            if ("audio" in fields or ("beats" in fields and beats is None)) and music is None:
                folder = self.music_dir or root / "music"
                raise FileNotFoundError(f"AIST++: music {info['music']} of sequence {seq} not found in {folder}")
            video = root / "videos" / f"{seq.replace('_cAll_', f'_c{self.view + 1:02d}_')}.mp4"
            if "frames" in fields and not video.is_file():
                raise FileNotFoundError(f"AIST++: video of sequence {seq} not found: {video}")
            end = source.num_frames() / AIST_FPS
            if music is not None and ("audio" in fields or ("beats" in fields and beats is None)):
                from datamodules.audio import audio_info

                end = min(end, audio_info(music)[1])
            recordings.append(
                Recording(
                    key=seq,
                    start=0.0,
                    end=end,
                    audio=music,
                    keypoints=source,
                    video=video if video.is_file() else None,
                    meta={**info, "sequence": seq, "view": self.view},
                    beat_times=beats,
                )
            )
        if not recordings:
            raise ValueError(f"AIST++: split file {split_file} lists no usable sequence")
        return recordings


__all__ = ["AIST_FPS", "AISTPPDataModule", "GENRES", "parse_sequence"]

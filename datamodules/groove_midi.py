"""Groove MIDI Dataset v1.0.0 (Magenta; docs/DATASETS.md §13): drummers' performances as 9-class drum grooves.

Layout under ``root`` (the unpacked ``groove-v1.0.0.zip``; the MIDI-only zip has the same tree without WAVs):

- ``info.csv`` with the columns ``drummer,session,id,style,bpm,beat_type,time_signature,midi_filename,
  audio_filename,duration,split`` (``split``: train / validation / test; ``beat_type``: beat / fill;
  ``time_signature`` like ``4-4``; ``audio_filename`` may be empty);
- ``drummerN/<session>/<id>_<style>_<bpm>_<beat|fill>_<ts>.mid`` (``midi_filename``, relative to ``root``): one drum
  track of the Roland TD-11's 22 pitches, tempo = ``bpm``.

Each performance becomes a groove (:mod:`music.groove`: hits, velocities, offsets per 16th step over the 9 drum
classes, offsets ``onset - grid`` in ``[-0.5, 0.5)``; models that want GrooVAE's convention call
``music.groove.to_groovae``), cut into windows of ``window_steps`` 16th steps (2 bars of 4/4 = 32, RhythmicNet §3
and GrooVAE) every ``hop_steps``. A performance shorter than a window gives one window padded with silence
(``groove_mask`` False there). Batches: ``groove`` ``[B, 3, window_steps, 9]`` float32, ``groove_mask``
``[B, window_steps]`` bool, ``meta``.

Options (RhythmicNet's released code differs from the dataset's own split): ``split_mode="official"`` reads the
``split`` column (validation is the ``val`` split); ``"sorted"`` sorts the kept files by ``midi_filename`` and takes
the first 80 % for training, the next 10 % for validation and the rest for testing. ``four_four_only`` keeps 4-4
performances (RhythmicNet and GrooVAE); ``beat_types`` keeps beats and / or fills.

Bad input raises one error naming the file: no ``info.csv`` or a column missing from it, a listed MIDI that is not
there, no 4-4 performance left, a MIDI without drum notes (or with pitches outside the 9-class mapping).
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Optional

import numpy as np
import torch
from torch.utils.data import Dataset

from datamodules.base import ClipDataModule

log = logging.getLogger(__name__)

INFO = "info.csv"
COLUMNS = (
    "drummer",
    "session",
    "id",
    "style",
    "bpm",
    "beat_type",
    "time_signature",
    "midi_filename",
    "audio_filename",
    "duration",
    "split",
)
OFFICIAL_SPLIT = {"train": "train", "val": "validation", "test": "test"}
SORTED_FRACTIONS = (0.8, 0.1)  # train, val; the rest is test


def read_info(root: Path) -> list[dict[str, str]]:
    """The rows of ``root/info.csv`` (an error naming the file when it or one of :data:`COLUMNS` is missing)."""
    path = Path(root) / INFO
    if not path.is_file():
        raise FileNotFoundError(
            f"Groove MIDI: {path} not found; the root of Groove MIDI v1.0.0 holds info.csv and the drummerN/ folders"
        )
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"Groove MIDI: {path} lacks the column(s) {missing}; expected {','.join(COLUMNS)}")
        rows = [dict(row) for row in reader]
    if not rows:
        raise ValueError(f"Groove MIDI: {path} lists no performance")
    return rows


def select(
    rows: Sequence[dict[str, str]],
    split: str,
    split_mode: Literal["official", "sorted"] = "official",
    four_four_only: bool = True,
    beat_types: Sequence[str] = ("beat", "fill"),
    info: Path = Path(INFO),
) -> list[dict[str, str]]:
    """The rows of ``split`` ("train", "val", "test") after the time-signature and beat-type filters."""
    if split not in OFFICIAL_SPLIT:
        raise ValueError(f"Groove MIDI: unknown split {split!r}; use train, val or test")
    kept = [r for r in rows if r["beat_type"] in beat_types]
    if four_four_only:
        kept = [r for r in kept if r["time_signature"].strip() == "4-4"]
        if not kept:
            raise ValueError(f"Groove MIDI: {info} lists no 4-4 performance (of beat types {list(beat_types)})")
    if split_mode == "official":
        chosen = [r for r in kept if r["split"].strip() == OFFICIAL_SPLIT[split]]
    elif split_mode == "sorted":
        ordered = sorted(kept, key=lambda r: r["midi_filename"])
        n_train = int(round(SORTED_FRACTIONS[0] * len(ordered)))
        n_val = int(round(SORTED_FRACTIONS[1] * len(ordered)))
        parts = {
            "train": ordered[:n_train],
            "val": ordered[n_train : n_train + n_val],
            "test": ordered[n_train + n_val :],
        }
        chosen = parts[split]
    else:
        raise ValueError(f"Groove MIDI: split_mode must be 'official' or 'sorted', got {split_mode!r}")
    if not chosen:
        raise ValueError(f"Groove MIDI: {info} leaves no performance for split {split!r} ({split_mode} split)")
    return chosen


def read_groove(path: Path, drop_unknown: bool = False) -> tuple[np.ndarray, float]:
    """The groove ``[3, T, 9]`` of a GMD MIDI file (T: 16th steps of the whole bars up to the bar of the last hit) and
    its tempo (the file's first; the grid starts at 0 s)."""
    from datamodules.midi import load_midi
    from music.groove import grid_position, midi_bpm, midi_to_groove, step_seconds

    midi = load_midi(path, allow_empty=True)
    if not any(i.is_drum and i.notes for i in midi.instruments):
        raise ValueError(f"Groove MIDI: {path} has no drum notes (no track on the MIDI drum channel)")
    bpm = midi_bpm(midi)
    signature = midi.time_signature_changes[0] if midi.time_signature_changes else None
    bar = 16 if signature is None else max(1, int(round(signature.numerator * 16 / signature.denominator)))
    last = max(n.start for i in midi.instruments if i.is_drum for n in i.notes)
    last_step = grid_position(last / step_seconds(bpm))[0]
    steps = max(1, int(np.ceil((last_step + 1) / bar))) * bar  # to the end of the last hit's bar, as GrooVAE pads
    try:
        groove = midi_to_groove(midi, bpm=bpm, steps=steps, drop_unknown=drop_unknown)
    except ValueError as error:
        raise ValueError(f"Groove MIDI: {path}: {error}") from error
    return groove, bpm


def window_starts(steps: int, window: int, hop: int) -> list[int]:
    """Starts of the ``window``-step windows every ``hop`` steps that fit in ``steps`` (one at 0 when none fits)."""
    if steps <= window:
        return [0]
    return list(range(0, steps - window + 1, hop))


class GrooveWindows(Dataset):
    """Fixed-length windows of grooves: item ``i`` is ``groove`` ``[3, window, 9]``, ``groove_mask``, ``meta``."""

    def __init__(self, grooves: Sequence[np.ndarray], metas: Sequence[dict[str, Any]], window: int, hop: int) -> None:
        self.grooves = list(grooves)
        self.metas = list(metas)
        self.window = int(window)
        self.index = [(k, s) for k, g in enumerate(self.grooves) for s in window_starts(g.shape[1], window, hop)]

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, item: int) -> dict[str, Any]:
        k, start = self.index[item]
        part = self.grooves[k][:, start : start + self.window]
        groove = np.zeros((3, self.window, part.shape[2]), dtype=np.float32)
        groove[:, : part.shape[1]] = part
        mask = np.zeros(self.window, dtype=bool)
        mask[: part.shape[1]] = True
        meta = {**self.metas[k], "start_step": start, "steps": self.window}
        return {"groove": torch.from_numpy(groove), "groove_mask": torch.from_numpy(mask), "meta": meta}


class GrooveMIDIDataModule(ClipDataModule):
    """Groove MIDI Dataset windows for RhythmicNet's Rhythm2Drum (and any GrooVAE-style drum model).

    Args:
        root: the Groove MIDI v1.0.0 root (``info.csv`` + ``drummerN/``); None = the synthetic one.
        window_steps: 16th steps per window (2 bars of 4/4).
        hop_steps: steps between window starts (1 bar).
        split_mode: ``official`` (the ``split`` column) or ``sorted`` (RhythmicNet's code: sorted 80/10/10).
        four_four_only: keep 4-4 performances only.
        beat_types: keep these ``beat_type`` values (beat, fill).
        drop_unknown: ignore drum pitches outside the 9-class mapping instead of failing on them.
        batch_size, num_workers, synthetic_minutes, seed: see :class:`datamodules.base.ClipDataModule`.
    """

    synthetic_name = "groove"
    dataset_name = "Groove MIDI"

    def __init__(
        self,
        root: Optional[str] = None,
        window_steps: int = 32,
        hop_steps: int = 16,
        split_mode: Literal["official", "sorted"] = "official",
        four_four_only: bool = True,
        beat_types: tuple[str, ...] = ("beat", "fill"),
        drop_unknown: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(root, **kwargs)
        if window_steps < 1 or hop_steps < 1:
            raise ValueError(f"GrooveMIDIDataModule: window_steps and hop_steps must be >= 1, got {window_steps}, "
                             f"{hop_steps}")  # fmt: skip
        unknown = set(beat_types) - {"beat", "fill"}
        if unknown or not beat_types:
            raise ValueError(f"GrooveMIDIDataModule: beat_types must be among ('beat', 'fill'), got {beat_types}")
        self.window_steps = int(window_steps)
        self.hop_steps = int(hop_steps)
        self.split_mode = split_mode
        self.four_four_only = bool(four_four_only)
        self.beat_types = tuple(beat_types)
        self.drop_unknown = bool(drop_unknown)

    @property
    def provided_fields(self) -> tuple[str, ...]:
        return ("groove", "groove_mask", "meta")

    def build_dataset(self, root: Path, split: str) -> GrooveWindows:
        rows = select(read_info(root), split, self.split_mode, self.four_four_only, self.beat_types, info=root / INFO)
        grooves, metas = [], []
        for row in rows:
            path = root / row["midi_filename"]
            if not path.is_file():
                raise FileNotFoundError(f"Groove MIDI: {path} (listed in {root / INFO}) does not exist")
            groove, bpm = read_groove(path, self.drop_unknown)
            grooves.append(groove)
            metas.append(
                {
                    "dataset": self.dataset_name,
                    "key": row["id"],
                    "midi": str(path),
                    "drummer": row["drummer"],
                    "style": row["style"],
                    "beat_type": row["beat_type"],
                    "time_signature": row["time_signature"],
                    "bpm": bpm,
                    "synthetic": self.is_synthetic,
                }
            )
        dataset = GrooveWindows(grooves, metas, self.window_steps, self.hop_steps)
        log.info("Groove MIDI %s: %d performances, %d windows", split, len(grooves), len(dataset))
        return dataset


__all__ = ["COLUMNS", "GrooveMIDIDataModule", "GrooveWindows", "read_groove", "read_info", "select", "window_starts"]

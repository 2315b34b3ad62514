"""Multi-track MIDI trees (e.g. the Lakh MIDI Dataset, docs/DATASETS.md §14) as bar-by-bar REMI token pairs: the drum
track and a piano or guitar track of the same bars (RhythmicNet's Drum2Music, §3).

Layout: any tree of ``.mid`` / ``.midi`` files under ``root``, e.g. Lakh's ``lmd_full/<h>/<md5>.mid`` (``h`` the first
hex digit of the md5 of the file). A song is used when

- it is in 4/4 throughout (no time-signature event means 4/4, as the MIDI standard says),
- it has drum notes (a track on the MIDI drum channel), and
- it has notes of the wanted family: piano (General MIDI programs 0-7) or guitar (24-31), not on the drum channel.

All tracks of the family are merged into one, written as program 0 (piano) or 24 (guitar), as RhythmicNet's code
does. Drums and instrument are tokenised separately with :class:`music.remi.RemiTokenizer` at 4 positions per beat
(16 ``Position`` tokens per 4/4 bar; durations up to 4 beats in 16ths, then whole beats up to 12; the rest of the
tokenizer's defaults: 32 velocities, tempo and chord tokens) and each stream is cut at its ``Bar`` tokens: one row
per bar, ending in ``EOS`` and padded with ``PAD`` to ``max_bar_tokens`` (a bar longer than that keeps its first
whole notes). A sample is ``bars`` consecutive bars of one song (every ``hop_bars``; a shorter song gives one window
padded with all-``PAD`` bars):

- ``drum_tokens``, ``instrument_tokens``: ``[B, bars, max_bar_tokens]`` long, and ``drum_mask``,
  ``instrument_mask`` (True on real tokens), ``bar_mask`` ``[B, bars]`` (True on the song's bars);
- ``program``: ``[B]`` 0 or 24; ``meta``.

No official split exists for Lakh: the used songs are split ~80/10/10 by a hash of their file name
(:func:`datamodules.clips.group_split`). Files that are not 4/4, lack drums or the instrument, or cannot be read are
skipped with one warning that counts them by cause (``strict=True``: the first one is an error naming it); no usable
song at all is an error naming the root and the causes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Optional

import numpy as np
import torch
from torch.utils.data import Dataset

from datamodules.base import ClipDataModule

log = logging.getLogger(__name__)

FAMILIES = {"piano": (range(0, 8), 0), "guitar": (range(24, 32), 24)}  # GM programs, program written
BEAT_RES = {(0, 4): 4, (4, 12): 1}  # 4 positions per beat: 16 per 4/4 bar


@lru_cache(maxsize=1)
def tokenizer() -> Any:
    """The REMI tokenizer of this dataset (16 positions per 4/4 bar), built once per process."""
    from music.remi import RemiTokenizer

    return RemiTokenizer(beat_res=dict(BEAT_RES))


class SongError(ValueError):
    """A file that is not a usable song; ``cause`` names why (for the skip summary)."""

    def __init__(self, path: Path, cause: str, detail: str) -> None:
        super().__init__(f"multi-track MIDI: {path} {detail}")
        self.cause = cause


def read_song(path: Path, instrument: str) -> tuple[Any, Any]:
    """(drums, instrument) as two one-track ``pretty_midi.PrettyMIDI`` sharing the song's tempo map.

    Raises :class:`SongError` (a ``ValueError`` naming the file) for a song that is not 4/4 or has no drums or no
    ``instrument`` (``piano`` / ``guitar``) notes, and ``ValueError`` for an unreadable file.
    """
    import copy

    import pretty_midi

    from datamodules.midi import load_midi

    if instrument not in FAMILIES:
        raise ValueError(f"multi-track MIDI: instrument must be one of {sorted(FAMILIES)}, got {instrument!r}")
    midi = load_midi(path, allow_empty=True)
    signatures = {(ts.numerator, ts.denominator) for ts in midi.time_signature_changes}
    if signatures - {(4, 4)}:
        shown = ", ".join(f"{n}/{d}" for n, d in sorted(signatures))
        raise SongError(path, "not 4/4", f"is not in 4/4 throughout (time signatures {shown})")
    drums = [i for i in midi.instruments if i.is_drum and i.notes]
    if not drums:
        raise SongError(path, "no drums", "has no drum notes (no track on the MIDI drum channel)")
    programs, written = FAMILIES[instrument]
    parts = [i for i in midi.instruments if not i.is_drum and i.program in programs and i.notes]
    if not parts:
        first, last = programs[0], programs[-1]
        raise SongError(path, f"no {instrument}", f"has no {instrument} notes (General MIDI programs {first}-{last})")

    def one_track(tracks: Sequence[Any], program: int, is_drum: bool) -> Any:
        out = copy.deepcopy(midi)
        merged = pretty_midi.Instrument(program=program, is_drum=is_drum, name="drums" if is_drum else instrument)
        merged.notes = sorted((n for t in tracks for n in t.notes), key=lambda n: (n.start, n.pitch))
        out.instruments = [merged]
        return out

    return one_track(drums, 0, True), one_track(parts, written, False)


def bar_rows(ids: Sequence[int], max_tokens: int) -> list[list[int]]:
    """A REMI stream cut at its ``Bar`` tokens; each bar ends in ``EOS`` and keeps whole notes within
    ``max_tokens``."""
    tok = tokenizer()
    bar_id = tok.tokenizer.vocab["Bar_None"]
    rows: list[list[int]] = []
    for token in ids:
        if token == bar_id or not rows:
            rows.append([])
        rows[-1].append(int(token))
    out = []
    for row in rows:
        if len(row) > max_tokens - 1:
            kept = row[: max_tokens - 1]
            last = max((k for k, t in enumerate(kept) if tok.tokenizer[t].startswith("Duration_")), default=0)
            row = kept[: last + 1]
        out.append(row + [tok.eos_id])
    return out


def empty_bar() -> list[int]:
    tok = tokenizer()
    return [tok.tokenizer.vocab["Bar_None"], tok.tokenizer.vocab["TimeSig_4/4"], tok.eos_id]


def song_bars(path: Path, instrument: str, max_tokens: int) -> tuple[list[list[int]], list[list[int]]]:
    """Per-bar token rows (drums, instrument) of a song, both of its number of bars."""
    drums, part = read_song(path, instrument)
    tok = tokenizer()
    drum_rows = bar_rows(tok.encode(drums), max_tokens)
    part_rows = bar_rows(tok.encode(part), max_tokens)
    bars = max(len(drum_rows), len(part_rows))
    drum_rows += [empty_bar() for _ in range(bars - len(drum_rows))]
    part_rows += [empty_bar() for _ in range(bars - len(part_rows))]
    return drum_rows, part_rows


class BarWindows(Dataset):
    """Windows of ``bars`` consecutive bars of songs (each a pair of per-bar token rows)."""

    def __init__(
        self,
        songs: Sequence[tuple[list[list[int]], list[list[int]]]],
        metas: Sequence[dict[str, Any]],
        bars: int,
        hop: int,
        max_tokens: int,
        program: int,
    ) -> None:
        self.songs, self.metas = list(songs), list(metas)
        self.bars, self.max_tokens, self.program = int(bars), int(max_tokens), int(program)
        self.index = []
        for k, (drum_rows, _) in enumerate(self.songs):
            count = len(drum_rows)
            starts = [0] if count <= self.bars else list(range(0, count - self.bars + 1, hop))
            self.index.extend((k, s) for s in starts)

    def __len__(self) -> int:
        return len(self.index)

    def _matrix(self, rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        pad = tokenizer().pad_id
        out = np.full((self.bars, self.max_tokens), pad, dtype=np.int64)
        for r, row in enumerate(rows):
            out[r, : len(row)] = row
        tokens = torch.from_numpy(out)
        return tokens, tokens != pad

    def __getitem__(self, item: int) -> dict[str, Any]:
        k, start = self.index[item]
        drum_rows, part_rows = self.songs[k]
        drums, drum_mask = self._matrix(drum_rows[start : start + self.bars])
        part, part_mask = self._matrix(part_rows[start : start + self.bars])
        used = min(self.bars, len(drum_rows) - start)
        bar_mask = torch.zeros(self.bars, dtype=torch.bool)
        bar_mask[:used] = True
        return {
            "drum_tokens": drums,
            "drum_mask": drum_mask,
            "instrument_tokens": part,
            "instrument_mask": part_mask,
            "bar_mask": bar_mask,
            "program": torch.tensor(self.program, dtype=torch.long),
            "meta": {**self.metas[k], "start_bar": start, "bars": used},
        }


class MultitrackMIDIDataModule(ClipDataModule):
    """Drum / instrument bar pairs of multi-track MIDI songs for RhythmicNet's Drum2Music.

    Args:
        root: a tree of MIDI files (e.g. Lakh ``lmd_full``); None = the synthetic one.
        instrument: ``piano`` (GM 0-7, written as program 0) or ``guitar`` (24-31, program 24).
        bars: bars per sample (consecutive; Transformer-XL reads them one per segment).
        hop_bars: bars between window starts.
        max_bar_tokens: tokens per bar row, ``EOS`` and ``PAD`` included (RhythmicNet: 256).
        max_files: read at most this many files (sorted by path) (None: all).
        strict: a file that is not a usable song is an error (default: skipped, counted in one warning).
        cache_dir: where the token rows of the tree are kept after the first setup (one file per tree state, keyed by
            the files' paths, sizes and times and these options); None: tokenise at every setup.
        batch_size, num_workers, synthetic_minutes, seed: see :class:`datamodules.base.ClipDataModule`.
    """

    synthetic_name = "multitrack"
    dataset_name = "multi-track MIDI"

    def __init__(
        self,
        root: Optional[str] = None,
        instrument: Literal["piano", "guitar"] = "piano",
        bars: int = 16,
        hop_bars: int = 8,
        max_bar_tokens: int = 256,
        max_files: Optional[int] = None,
        strict: bool = False,
        cache_dir: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(root, **kwargs)
        if instrument not in FAMILIES:
            raise ValueError(f"MultitrackMIDIDataModule: instrument must be one of {sorted(FAMILIES)}, "
                             f"got {instrument!r}")  # fmt: skip
        if bars < 1 or hop_bars < 1 or max_bar_tokens < 4:
            raise ValueError(f"MultitrackMIDIDataModule: need bars >= 1, hop_bars >= 1, max_bar_tokens >= 4; got "
                             f"{bars}, {hop_bars}, {max_bar_tokens}")  # fmt: skip
        self.instrument = instrument
        self.bars, self.hop_bars, self.max_bar_tokens = int(bars), int(hop_bars), int(max_bar_tokens)
        self.max_files = max_files
        self.strict = bool(strict)
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self._songs: Optional[dict[str, tuple[Path, tuple]]] = None

    @property
    def provided_fields(self) -> tuple[str, ...]:
        return ("drum_tokens", "drum_mask", "instrument_tokens", "instrument_mask", "bar_mask", "program", "meta")

    @property
    def tokenizer(self) -> Any:
        """The :class:`music.remi.RemiTokenizer` of the tokens (vocabulary size, ``PAD`` / ``EOS`` ids, decode)."""
        return tokenizer()

    def _read_all(self, root: Path) -> dict[str, tuple[Path, tuple]]:
        if self._songs is not None:
            return self._songs
        files = sorted(p for p in root.rglob("*") if p.suffix.lower() in (".mid", ".midi") and p.is_file())
        if self.max_files is not None:
            files = files[: int(self.max_files)]
        if not files:
            raise FileNotFoundError(f"multi-track MIDI: no .mid / .midi file under {root}")
        cache = self._cache_file(root, files)
        if cache is not None and cache.is_file():
            with open(cache, "rb") as handle:
                rows, skipped, examples = pickle.load(handle)
            songs = {key: (root / key, value) for key, value in rows.items()}
        else:
            songs, skipped, examples = self._tokenise(root, files)
            if cache is not None:
                cache.parent.mkdir(parents=True, exist_ok=True)
                tmp = cache.with_name(f".{cache.name}.tmp{os.getpid()}")
                with open(tmp, "wb") as handle:
                    pickle.dump(({k: v for k, (_, v) in songs.items()}, skipped, examples), handle)
                tmp.replace(cache)
        summary = "; ".join(f"{n} {cause} (e.g. {examples[cause]})" for cause, n in sorted(skipped.items()))
        if not songs:
            raise ValueError(f"multi-track MIDI: no usable 4/4 song with drums and {self.instrument} under {root}: "
                             f"{summary}")  # fmt: skip
        if skipped:
            log.warning("multi-track MIDI: %d of %d files skipped: %s", sum(skipped.values()), len(files), summary)
        self._songs = songs
        return songs

    def _cache_file(self, root: Path, files: Sequence[Path]) -> Optional[Path]:
        if self.cache_dir is None or self.strict:
            return None
        digest = hashlib.sha256(repr((sorted(BEAT_RES.items()), self.instrument, self.max_bar_tokens)).encode())
        for path in files:
            stat = path.stat()
            digest.update(f"{path.relative_to(root)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        return self.cache_dir / f"multitrack-{digest.hexdigest()[:16]}.pkl"

    def _tokenise(self, root: Path, files: Sequence[Path]) -> tuple[dict, Counter, dict[str, str]]:
        songs: dict[str, tuple[Path, tuple]] = {}
        skipped: Counter = Counter()
        examples: dict[str, str] = {}
        for path in files:
            try:
                songs[str(path.relative_to(root))] = path, song_bars(path, self.instrument, self.max_bar_tokens)
            except ValueError as error:
                if self.strict:
                    raise
                cause = error.cause if isinstance(error, SongError) else "unreadable"
                skipped[cause] += 1
                examples.setdefault(cause, str(error))
        return songs, skipped, examples

    def build_dataset(self, root: Path, split: str) -> BarWindows:
        from datamodules.clips import group_split

        songs = self._read_all(root)
        keys = sorted(songs)
        chosen = group_split(keys, split)
        picked = [k for k in keys if k in chosen]
        metas = [
            {
                "dataset": self.dataset_name,
                "key": key,
                "midi": str(songs[key][0]),
                "instrument": self.instrument,
                "synthetic": self.is_synthetic,
            }
            for key in picked
        ]
        program = FAMILIES[self.instrument][1]
        dataset = BarWindows(
            [songs[k][1] for k in picked], metas, self.bars, self.hop_bars, self.max_bar_tokens, program
        )
        log.info("multi-track MIDI %s: %d songs, %d windows", split, len(picked), len(dataset))
        return dataset


__all__ = [
    "BEAT_RES",
    "FAMILIES",
    "BarWindows",
    "MultitrackMIDIDataModule",
    "SongError",
    "bar_rows",
    "read_song",
    "song_bars",
    "tokenizer",
]

"""Audeo's Paul Barton data as released (shlizee/Audeo Google Drive; docs/DATASETS.md §5), at 25 fps.

On disk (``<video>`` = e.g. ``Bach Prelude and Fugue No.1 B1``, ``<split>`` = ``training`` | ``testing``)::

    input_images/<split>/<video>/frame{N}.jpg      grayscale keyboard crops, any size (resized to 900x100 here)
    labels/<split>/<video>.pkl                     pickled {frame N: (88,) array}, key pressed = value > 0
    midi/<split>/<video>/<s>-<e>.npz               'midi' (<=50, 88): pseudo-GT frames s..e-1 (2-s segments)
    estimate_Roll/<split>/<video>/<s>-<e>.npz      'logit' (50, 88), 'roll' (50, 88): Video2Roll outputs
    Roll2Midi_results/<split>/<video>/<s>-<e>.npz  'midi' (50, 51): Roll2Midi outputs (keys 15..65 only)

Key column k of the 88-wide arrays is MIDI pitch 21 + k; Audeo's models use the 51 keys 15..65 (MIDI 36..86) by
default (``num_keys=88`` selects all). The release has no val split: validation uses ``testing`` as the released code
does. Audio (for the PerfNet/refinement stages) is not part of the release: it is read from
``audio/<split>/<video>.wav`` (16 kHz, trimmed like the frames) when that folder exists, otherwise the pseudo-GT MIDI is
rendered with FluidSynth (what the synthetic dataset's audio is anyway) and the run says so.

What each ``stage`` yields (batch fields of design.md plus ``roll_prob``):

* ``video2roll``: ``frames`` float [5, 100, 900] in [0, 1] (frames N-2..N+2) and ``roll`` [K, 1] (frame N's keys);
  training draws rows with the multi-label balanced sampler (§4.1);
* ``roll2midi``: ``roll_prob`` [K, 100] (sigmoid of Video2Roll logits, 4 s) and ``roll`` [K, 100] (pseudo GT);
  consecutive 2-s segments joined with overlap for training, without overlap for testing (as released);
* ``perfnet`` / ``refine``: ``roll`` [K, 50] (pseudo GT for perfnet, Roll2Midi output or pseudo GT for refine) and
  ``audio`` [32000] (the same 2 s at 16 kHz).

Frames are decoded once, resized and cached as uint8 ``.npy`` files that are memory-mapped by every worker
(``cache_dir``), so 5-frame stacks cost a memory copy, not five JPEG decodes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from datamodules.base import ClipDataModule
from datamodules.samplers import MultilabelBalancedSampler
from music.edit import PIANO_RANGE

log = logging.getLogger(__name__)

FPS = 25
SEGMENT_FRAMES = 50
WINDOW_FRAMES = 100
SAMPLE_RATE = 16000
STACK = 5
OCTAVE_WIDTH = 0.99 * 7 / 52  # of a crop's width: 7 of the 52 white keys, inside a 0.5 % margin each side
PAD_LOGIT = -30.0  # logit of the frames that pad a short last segment (probability ~0: no key)
PIANO_KEYS = 88  # column k of the release's 88-wide arrays is MIDI pitch PIANO_RANGE[0] + k
KEY_COLUMNS = {51: (15, 65), 88: (0, 87)}  # inclusive columns of the 88-wide arrays
SPLIT_DIRS = {"train": "training", "val": "testing", "test": "testing"}
STAGES = ("video2roll", "roll2midi", "perfnet", "refine")  # Audeo's stages, in training order (docs/AUDEO.md)
Stage = Literal[STAGES]
_SEGMENT_NAME = re.compile(r"^(\d+)-(\d+)$")
_FRAME_NAME = re.compile(r"^frame(\d+)$")


def key_range(keys: int) -> tuple[int, int]:
    """Inclusive (first, last) columns of the 88-key arrays used for ``keys`` keys (51 or 88)."""
    if keys not in KEY_COLUMNS:
        raise ValueError(f"Audeo: keys must be 51 (MIDI 36-86) or 88 (MIDI 21-108), got {keys}")
    return KEY_COLUMNS[keys]


def lowest_pitch(keys: int) -> int:
    """MIDI pitch of row 0 of a ``keys``-key roll (51 keys: 36, 88 keys: 21); row k is this pitch + k."""
    return PIANO_RANGE[0] + key_range(keys)[0]


def video_order(name: str) -> tuple:
    """Sort videos by their number (``... No.12 B1`` -> 12), then by name; parses the name, not a path depth."""
    match = re.search(r"No\.?\s*(\d+)", name)
    return (0, int(match.group(1)), name) if match else (1, 0, name)


# ----------------------------------------------------------------------------------------------------------- readers
def read_labels(path: Path) -> dict[int, np.ndarray]:
    """``labels/<split>/<video>.pkl``: {frame number: (88,) array}."""
    try:
        with open(path, "rb") as handle:
            labels = pickle.load(handle)
    except FileNotFoundError:
        raise
    except Exception as error:  # noqa: BLE001 - re-raised with the file named
        raise ValueError(f"Audeo: cannot unpickle labels {path}: {error}") from error
    if not isinstance(labels, dict) or not labels:
        raise ValueError(f"Audeo: labels {path} must be a non-empty dict frame -> (88,) array, got {type(labels)}")
    out = {}
    for frame, value in labels.items():
        value = np.asarray(value).reshape(-1)
        if value.shape != (PIANO_KEYS,):
            raise ValueError(f"Audeo: labels {path}: frame {frame} has shape {value.shape}, expected (88,)")
        out[int(frame)] = value
    return out


@dataclass(frozen=True)
class Segment:
    """One ``<start>-<end>.npz`` file: frames ``start..end-1``."""

    start: int
    end: int
    path: Path


def list_segments(folder: Path) -> list[Segment]:
    """The ``<s>-<e>.npz`` files of a video folder, sorted by start (an unparsable name is an error)."""
    if not folder.is_dir():
        raise FileNotFoundError(f"Audeo: segment folder {folder} does not exist")
    segments = []
    for path in folder.glob("*.npz"):
        match = _SEGMENT_NAME.match(path.stem)
        if match is None:
            raise ValueError(f"Audeo: segment file {path} is not named <start>-<end>.npz")
        start, end = int(match.group(1)), int(match.group(2))
        if end <= start:
            raise ValueError(f"Audeo: segment file {path} ends before it starts")
        segments.append(Segment(start, end, path))
    if not segments:
        raise FileNotFoundError(f"Audeo: no <start>-<end>.npz segments in {folder}")
    return sorted(segments, key=lambda s: s.start)


def read_segment(path: Path, key: str, keys: int, frames: int = SEGMENT_FRAMES, fill: float = 0.0) -> np.ndarray:
    """Array ``key`` of a segment as float32 ``[frames, keys]``: 88- or 51-wide, cut to the key range, padded with
    ``fill`` (0 for rolls; logits use a large negative value, so frames past the video's end are 'off', not p=0.5)."""
    try:
        with np.load(path) as data:
            if key not in data:
                raise ValueError(f"Audeo: {path} has no array {key!r} (has {sorted(data.files)})")
            array = np.asarray(data[key], dtype=np.float32)
    except (OSError, ValueError, EOFError) as error:
        if isinstance(error, ValueError) and str(error).startswith("Audeo:"):
            raise
        raise ValueError(f"Audeo: cannot read segment {path}: {error}") from error
    if array.ndim != 2:
        raise ValueError(f"Audeo: {path}[{key!r}] must be [frames, keys], got shape {array.shape}")
    first, last = key_range(keys)
    if array.shape[1] == PIANO_KEYS:
        array = array[:, first : last + 1]
    elif array.shape[1] == 51 and keys == 51:
        pass
    else:
        raise ValueError(f"Audeo: {path}[{key!r}] has {array.shape[1]} key columns; cannot give {keys} keys")
    if array.shape[0] > frames:
        raise ValueError(f"Audeo: {path}[{key!r}] has {array.shape[0]} frames, more than {frames}")
    out = np.full((frames, keys), fill, dtype=np.float32)
    out[: array.shape[0]] = array
    return out


def write_segment(path: Path, **arrays: np.ndarray) -> Path:
    """Atomically write one ``<s>-<e>.npz`` segment."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)
    return path


def widen(array: np.ndarray, keys: int) -> np.ndarray:
    """[T, keys] -> [T, 88] with zeros outside the key range (the release's layout)."""
    first, last = key_range(keys)
    out = np.zeros((array.shape[0], PIANO_KEYS), dtype=array.dtype)
    out[:, first : last + 1] = array
    return out


# ------------------------------------------------------------------------------------------------------ frame cache
@dataclass
class VideoFrames:
    """A video's frames (uint8 [N, H, W], memory-mapped cache) and their frame numbers."""

    name: str
    split_dir: str
    numbers: np.ndarray
    cache: Path
    _array: Optional[np.ndarray] = field(default=None, repr=False)

    def __getstate__(self) -> dict:
        return self.__dict__ | {"_array": None}

    @property
    def array(self) -> np.ndarray:
        if self._array is None:
            self._array = np.load(self.cache, mmap_mode="r")
        return self._array

    def __len__(self) -> int:
        return len(self.numbers)

    def row(self, number: int) -> int:
        return int(number - self.numbers[0])

    def stack(self, row: int, size: int = STACK) -> np.ndarray:
        """Rows row-2..row+2 (edges repeat the first/last frame) as uint8 [5, H, W]."""
        half = size // 2
        rows = np.clip(np.arange(row - half, row + half + 1), 0, len(self.numbers) - 1)
        return np.asarray(self.array[rows])


def cache_frames(folder: Path, cache_dir: Path, size: tuple[int, int]) -> tuple[np.ndarray, Path]:
    """Decode ``frame{N}.jpg`` once to grayscale, resize to ``size`` = (height, width), store uint8 [N, H, W]."""
    import cv2

    if not folder.is_dir():
        raise FileNotFoundError(f"Audeo: frame folder {folder} does not exist")
    numbered = []
    for path in folder.iterdir():
        if path.suffix.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        match = _FRAME_NAME.match(path.stem)
        if match is None:
            raise ValueError(f"Audeo: image {path} is not named frame<N>.jpg")
        numbered.append((int(match.group(1)), path))
    if not numbered:
        raise FileNotFoundError(f"Audeo: no frame<N>.jpg images in {folder}")
    numbered.sort()
    numbers = np.array([n for n, _ in numbered], dtype=np.int64)
    gaps = np.nonzero(np.diff(numbers) != 1)[0]
    if gaps.size:
        raise ValueError(f"Audeo: frame numbers in {folder} are not consecutive ({numbers[gaps[0]]} -> "
                         f"{numbers[gaps[0] + 1]})")  # fmt: skip
    height, width = size
    stamp = hashlib.sha1(f"{folder.resolve()}|{len(numbered)}|{folder.stat().st_mtime_ns}".encode()).hexdigest()[:12]
    cache = cache_dir / f"{folder.name}-{height}x{width}-{stamp}.npy"
    if not cache.is_file():
        cache.parent.mkdir(parents=True, exist_ok=True)
        frames = np.empty((len(numbered), height, width), dtype=np.uint8)
        for i, (_, path) in enumerate(numbered):
            image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            if image is None:
                raise RuntimeError(f"Audeo: cannot decode image {path} (corrupt or not an image)")
            shrink = width * height < image.shape[0] * image.shape[1]
            frames[i] = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        tmp = cache.with_name(f".{cache.stem}.tmp{os.getpid()}.npy")
        np.save(tmp, frames)
        tmp.replace(cache)
    return numbers, cache


# --------------------------------------------------------------------------------------------------------- datasets
class FrameStackDataset(Dataset):
    """Video2Roll items: 5 consecutive frames (middle = a labelled frame) and that frame's keys.

    ``octave_shift`` > 0 (training only; not in the paper or the released code): with that probability an item is
    moved one octave up or down, the frames by ``octave_pixels`` (the vacated strip repeats the edge column) and the
    keys by 12 (keys moved in from outside the labelled range are unpressed). The keyboard's pattern repeats every
    octave, so the shifted item is another plausible frame: each key is seen in the contexts of its octave neighbours
    (hand shapes, chords), which the pieces of a small training set do not cover. Draws come from torch's global
    generator (seeded by ``seed_everything``)."""

    def __init__(
        self,
        videos: Sequence[VideoFrames],
        labels: Sequence[np.ndarray],
        octave_shift: float = 0.0,
        octave_pixels: float = 0.0,
    ) -> None:
        if octave_shift and octave_pixels < 1:
            raise ValueError(f"FrameStackDataset: octave_shift needs octave_pixels >= 1, got {octave_pixels}")
        self.octave_shift = float(octave_shift)
        self.octave_pixels = int(round(octave_pixels))
        self.videos = list(videos)
        self.items: list[tuple[int, int]] = []
        rows = []
        for v, (video, label) in enumerate(zip(self.videos, labels)):
            for row in range(STACK // 2, len(video) - STACK // 2):  # as released: frames with 2 neighbours each side
                self.items.append((v, row))
                rows.append(label[row])
        if not self.items:
            raise ValueError("Audeo: no video has 5 consecutive frames")
        self.labels = np.stack(rows).astype(np.float32)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        v, row = self.items[index]
        video = self.videos[v]
        frames = torch.from_numpy(video.stack(row)).float().div_(255.0)
        roll = torch.from_numpy(self.labels[index])
        if self.octave_shift and float(torch.rand(())) < self.octave_shift:
            frames, roll = shift_octave(frames, roll, 1 if float(torch.rand(())) < 0.5 else -1, self.octave_pixels)
        meta = {"video": video.name, "split": video.split_dir, "frame": int(video.numbers[row]), "fps": FPS}
        return {"frames": frames, "roll": roll[:, None], "meta": meta}


def shift_octave(
    frames: torch.Tensor, roll: torch.Tensor, octaves: int, pixels: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``frames`` [S, H, W] and keys ``roll`` [K] moved ``octaves`` (+1 up = right, -1 down) by ``pixels`` per
    octave and 12 keys; the vacated strip repeats the edge column, keys moved in are unpressed."""
    px, keys = pixels * abs(octaves), 12 * abs(octaves)
    out, moved = torch.empty_like(frames), torch.zeros_like(roll)
    if octaves > 0:
        out[..., px:] = frames[..., :-px]
        out[..., :px] = frames[..., :1]
        moved[keys:] = roll[:-keys]
    else:
        out[..., :-px] = frames[..., px:]
        out[..., -px:] = frames[..., -1:]
        moved[:-keys] = roll[keys:]
    return out, moved


class RollWindowDataset(Dataset):
    """Roll2Midi items: 4-s windows (two consecutive 2-s segments) of Video2Roll probabilities and pseudo GT."""

    def __init__(self, pairs: Sequence[tuple[str, list[tuple[np.ndarray, np.ndarray, int]]]], overlap: bool) -> None:
        self.items: list[tuple[np.ndarray, np.ndarray, dict]] = []
        for video, segments in pairs:
            step = 1 if overlap else 2
            for i in range(0, len(segments) - 1, step):
                (gt_a, logit_a, start), (gt_b, logit_b, _) = segments[i], segments[i + 1]
                gt = np.concatenate([gt_a, gt_b]).T
                logit = np.concatenate([logit_a, logit_b]).T
                self.items.append((gt, logit, {"video": video, "start_frame": start, "fps": FPS}))
        if not self.items:
            raise ValueError("Audeo: no video has two consecutive 2-s segments for a 4-s Roll2Midi window")

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        gt, logit, meta = self.items[index]
        return {
            "roll": torch.from_numpy((gt > 0).astype(np.float32)),
            "roll_prob": torch.sigmoid(torch.from_numpy(logit)),
            "meta": dict(meta),
        }


class RollAudioDataset(Dataset):
    """PerfNet / refinement items: a 2-s roll segment [K, 50] and the audio of the same 2 s at 16 kHz."""

    def __init__(self, items: Sequence[tuple[np.ndarray, np.ndarray, dict]]) -> None:
        self.items = list(items)
        if not self.items:
            raise ValueError("Audeo: no (roll, audio) segments")

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        roll, audio, meta = self.items[index]
        return {"roll": torch.from_numpy(roll.T.copy()), "audio": torch.from_numpy(audio), "meta": dict(meta)}


# ------------------------------------------------------------------------------------------------------ datamodule
class AudeoDataModule(ClipDataModule):
    """Audeo's Paul Barton data (or its synthetic stand-in with ``root=None``), one ``stage`` at a time.

    Args:
        root: dataset root (the Drive layout above); None = the synthetic Audeo-format dataset.
        stage: which Audeo stage the batches are for: video2roll, roll2midi, perfnet or refine.
        num_keys: 51 (MIDI 36-86, the paper's) or 88.
        frame_size: (height, width) the keyboard crops are resized to (paper: 100 x 900).
        batch_size, num_workers, synthetic_minutes, seed: see :class:`ClipDataModule`.
        balanced: draw Video2Roll training rows with the multi-label balanced sampler.
        samples_per_epoch: Video2Roll training draws per epoch of the balanced sampler (released code: 20000; None:
            as many as there are training frames).
        roll_dir: folder in the ``<split>/<video>/<s>-<e>.npz`` layout with the stage's input rolls: Video2Roll
            estimates (``logit``) for roll2midi (default ``<root>/estimate_Roll``), Roll2Midi results (``midi``) for
            refine (default ``<root>/Roll2Midi_results`` when present, else the pseudo GT).
        audio_dir: folder with ``<split>/<video>.wav`` (default ``<root>/audio``; absent = FluidSynth rendering).
        cache_dir: where decoded frames / rendered audio are cached (default ``$V2M_CACHE/../cache`` or ``data/cache``).
        max_videos: use at most this many videos per split (quick runs); None = all.
        octave_shift: probability of moving a Video2Roll training item one octave (:class:`FrameStackDataset`; not
            in the paper: 0). One octave is ``OCTAVE_WIDTH`` of the width: 7 of the 52 white keys the crop spans, inside
            a 0.5 % margin each side (the synthetic crops; real crop boxes vary by a few pixels).
    """

    synthetic_name = "audeo"

    def __init__(
        self,
        root: Optional[str] = None,
        stage: Stage = "video2roll",
        num_keys: int = 51,
        frame_size: tuple[int, int] = (100, 900),
        batch_size: int = 64,
        num_workers: int = 0,
        synthetic_minutes: float = 2.0,
        seed: int = 0,
        balanced: bool = True,
        samples_per_epoch: Optional[int] = 20000,
        roll_dir: Optional[str] = None,
        audio_dir: Optional[str] = None,
        cache_dir: Optional[str] = None,
        max_videos: Optional[int] = None,
        octave_shift: float = 0.0,
    ) -> None:
        super().__init__(root, batch_size, num_workers, synthetic_minutes, seed)
        if not 0.0 <= octave_shift <= 1.0:
            raise ValueError(f"AudeoDataModule: octave_shift is a probability, got {octave_shift}")
        self.octave_shift = float(octave_shift)
        if stage not in STAGES:
            raise ValueError(f"AudeoDataModule: unknown stage {stage!r} ({', '.join(STAGES)})")
        key_range(num_keys)
        self.stage = stage
        self.keys = int(num_keys)
        self.frame_size = (int(frame_size[0]), int(frame_size[1]))
        self.balanced = balanced
        self.samples_per_epoch = samples_per_epoch
        self.roll_dir = None if roll_dir is None else Path(roll_dir)
        self.audio_dir = None if audio_dir is None else Path(audio_dir)
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self.max_videos = max_videos
        self._root: Optional[Path] = None
        self._by_split: dict[str, Dataset] = {}

    # ------------------------------------------------------------------------------------------------ layout
    @property
    def data_root(self) -> Path:
        if self._root is None:
            self._root = self.resolve_root()
        return self._root

    def _cache(self) -> Path:
        if self.cache_dir is not None:
            return self.cache_dir
        base = Path(os.environ["V2M_CACHE"]).parent / "cache" if os.environ.get("V2M_CACHE") else Path("data/cache")
        digest = hashlib.sha1(str(self.data_root.resolve()).encode()).hexdigest()[:10]
        return base / f"audeo-{self.data_root.name}-{digest}"

    def video_names(self, split: str) -> list[str]:
        """Videos of a split (``train`` / ``val`` / ``test``), in the release's order (by number)."""
        split_dir = SPLIT_DIRS[split]
        labels = self.data_root / "labels" / split_dir
        midi = self.data_root / "midi" / split_dir
        if self.stage == "video2roll":
            if not labels.is_dir():
                raise FileNotFoundError(f"AudeoDataModule: labels folder {labels} does not exist")
            names = [p.stem for p in labels.glob("*.pkl")]
        else:
            if not midi.is_dir():
                raise FileNotFoundError(f"AudeoDataModule: pseudo-GT MIDI folder {midi} does not exist")
            names = [p.name for p in midi.iterdir() if p.is_dir()]
        if not names:
            raise FileNotFoundError(f"AudeoDataModule: no videos in {labels if self.stage == 'video2roll' else midi}")
        names.sort(key=video_order)
        return names[: self.max_videos] if self.max_videos else names

    def frames(self, split: str, video: str) -> VideoFrames:
        """The (cached, memory-mapped) frames of one video."""
        split_dir = SPLIT_DIRS[split]
        folder = self.data_root / "input_images" / split_dir / video
        numbers, cache = cache_frames(folder, self._cache() / split_dir, self.frame_size)
        return VideoFrames(video, split_dir, numbers, cache)

    def labels(self, split: str, video: str, numbers: np.ndarray) -> np.ndarray:
        """[N, K] binary keys of the frames ``numbers`` (every frame must have a label)."""
        path = self.data_root / "labels" / SPLIT_DIRS[split] / f"{video}.pkl"
        table = read_labels(path)
        missing = [int(n) for n in numbers if int(n) not in table]
        if missing:
            raise ValueError(f"AudeoDataModule: labels {path} lack frames {missing[:5]} ({len(missing)} in all)")
        first, last = key_range(self.keys)
        return np.stack([(table[int(n)][first : last + 1] > 0) for n in numbers]).astype(np.float32)

    def segments(self, split: str, video: str) -> list[Segment]:
        """The pseudo-GT MIDI segments of one video."""
        return list_segments(self.data_root / "midi" / SPLIT_DIRS[split] / video)

    def roll_folder(self) -> Optional[Path]:
        """The folder of this stage's input rolls (``roll_dir`` or the release's default); None = the pseudo GT."""
        if self.roll_dir is not None:
            if not self.roll_dir.is_dir():
                raise FileNotFoundError(f"AudeoDataModule: roll_dir {self.roll_dir} does not exist")
            return self.roll_dir
        default = self.data_root / ("estimate_Roll" if self.stage == "roll2midi" else "Roll2Midi_results")
        if default.is_dir():
            return default
        if self.stage == "roll2midi":
            raise FileNotFoundError(
                f"AudeoDataModule: Video2Roll estimates {default} do not exist; write them with a trained Video2Roll "
                "(`make audeo` runs every stage in order; one step: `python -m models.audeo.pipeline estimates`) and "
                "pass --data.init_args.roll_dir"
            )
        return None

    # ----------------------------------------------------------------------------------------------- datasets
    def build_dataset(self, root: Path, split: str) -> Dataset:
        self._root = root
        if self.is_synthetic:
            log.warning("AudeoDataModule: the %s split is SYNTHETIC Audeo-format data (%s)", split, root)
        if self.stage == "video2roll":
            videos = [self.frames(split, name) for name in self.video_names(split)]
            labels = [self.labels(split, v.name, v.numbers) for v in videos]
            if split != "train" or not self.octave_shift:
                return FrameStackDataset(videos, labels)
            return FrameStackDataset(videos, labels, self.octave_shift, self.frame_size[1] * OCTAVE_WIDTH)
        if self.stage == "roll2midi":
            folder = self.roll_folder()
            pairs = []
            for name in self.video_names(split):
                segments = []
                for seg in self.segments(split, name):
                    estimate = folder / SPLIT_DIRS[split] / name / seg.path.name
                    if not estimate.is_file():
                        raise FileNotFoundError(f"AudeoDataModule: Video2Roll estimate {estimate} does not exist "
                                                f"(pseudo GT {seg.path} has no matching estimate)")  # fmt: skip
                    gt = read_segment(seg.path, "midi", self.keys)
                    logit = read_segment(estimate, "logit", self.keys, fill=PAD_LOGIT)
                    segments.append((gt, logit, seg.start))
                pairs.append((name, segments))
            return RollWindowDataset(pairs, overlap=split == "train")
        return RollAudioDataset(self._roll_audio_items(split))

    def _roll_audio_items(self, split: str) -> list[tuple[np.ndarray, np.ndarray, dict]]:
        folder = self.roll_folder() if self.stage == "refine" else None
        if self.stage == "refine" and folder is None:
            log.warning("AudeoDataModule: no Roll2Midi results; the refine stage reads the pseudo-GT MIDI as its input")
        items = []
        per_frame = SAMPLE_RATE // FPS
        for name in self.video_names(split):
            segments = self.segments(split, name)
            audio = self.audio(split, name, segments)
            for seg in segments:
                if folder is None:
                    roll = read_segment(seg.path, "midi", self.keys)
                else:
                    path = folder / SPLIT_DIRS[split] / name / seg.path.name
                    if not path.is_file():
                        raise FileNotFoundError(f"AudeoDataModule: roll {path} does not exist (for {seg.path})")
                    roll = read_segment(path, "midi", self.keys)
                begin = (seg.start - segments[0].start) * per_frame
                clip = np.zeros(SEGMENT_FRAMES * per_frame, dtype=np.float32)
                piece = audio[begin : begin + len(clip)]
                clip[: len(piece)] = piece
                items.append(((roll > 0).astype(np.float32), clip, {"video": name, "start_frame": seg.start}))
        return items

    def audio(self, split: str, video: str, segments: Optional[list[Segment]] = None) -> np.ndarray:
        """Mono 16-kHz audio of a video from its first segment's start (file, or FluidSynth rendering of the GT)."""
        import soundfile as sf

        folder = self.audio_dir or self.data_root / "audio"
        path = folder / SPLIT_DIRS[split] / f"{video}.wav"
        if folder.is_dir():
            if not path.is_file():
                raise FileNotFoundError(f"AudeoDataModule: audio {path} does not exist")
            audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
            if rate != SAMPLE_RATE:
                raise ValueError(f"AudeoDataModule: {path} is sampled at {rate} Hz, expected {SAMPLE_RATE}")
            return audio.mean(axis=1)
        if self.audio_dir is not None:
            raise FileNotFoundError(f"AudeoDataModule: audio_dir {folder} does not exist")
        segments = segments or self.segments(split, video)
        cache = self._cache() / SPLIT_DIRS[split] / f"{video}-fluidsynth.npy"
        if cache.is_file():
            return np.load(cache)
        from music.roll import roll_to_midi
        from music.synth import render

        log.warning("AudeoDataModule: no audio for %s; rendering its pseudo-GT MIDI with FluidSynth", video)
        roll = np.concatenate([read_segment(s.path, "midi", 88, frames=s.end - s.start) for s in segments])
        audio = render(
            roll_to_midi((roll.T > 0).astype(np.float32), FPS, low=lowest_pitch(PIANO_KEYS)), sample_rate=SAMPLE_RATE
        )
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f".{cache.stem}.tmp{os.getpid()}.npy")
        np.save(tmp, audio.astype(np.float32))
        tmp.replace(cache)
        return audio

    def setup(self, stage: Optional[str] = None) -> None:
        self._root = self.resolve_root()
        super().setup(stage)

    def train_dataloader(self) -> DataLoader:
        dataset = self.dataset("train")
        if self.stage != "video2roll" or not self.balanced:
            return self._loader("train", shuffle=True)
        sampler = MultilabelBalancedSampler(dataset.labels, self.samples_per_epoch)
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            collate_fn=self.collate,
            persistent_workers=self.num_workers > 0,
        )

    # --------------------------------------------------------------------------------------- chaining stages
    def iter_video_stacks(self, split: str, batch_size: int = 64) -> Iterator[tuple[VideoFrames, np.ndarray]]:
        """Every video of a split with all its frames as float [N, 5, H, W] stacks, in batches: yields
        ``(video, stacks)`` with consecutive rows (edges repeat the first / last frame, as released inference)."""
        names = self.video_names(split) if self.stage == "video2roll" else self._names_with_frames(split)
        for name in names:
            video = self.frames(split, name)
            for begin in range(0, len(video), batch_size):
                rows = range(begin, min(begin + batch_size, len(video)))
                yield video, np.stack([video.stack(r) for r in rows]).astype(np.float32) / 255.0

    def _names_with_frames(self, split: str) -> list[str]:
        names = self.video_names(split)
        folder = self.data_root / "input_images" / SPLIT_DIRS[split]
        missing = [n for n in names if not (folder / n).is_dir()]
        if missing:
            raise FileNotFoundError(f"AudeoDataModule: no frames in {folder} for {missing[:3]}")
        return names


__all__ = [
    "AudeoDataModule",
    "FPS",
    "FrameStackDataset",
    "RollAudioDataset",
    "RollWindowDataset",
    "VideoFrames",
    "cache_frames",
    "STAGES",
    "Stage",
    "key_range",
    "list_segments",
    "lowest_pitch",
    "read_labels",
    "read_segment",
    "write_segment",
]

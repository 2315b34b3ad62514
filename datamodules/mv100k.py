"""MV100K (V2Meow, Su et al. AAAI 2024, §4.1): music videos mined from YouTube-8M, as per-video 1-fps features + audio.

No id list, split or clip boundaries of MV100K were ever released (docs/DATASETS.md §6), and V2Meow's inputs (CLIP
ViT-L/14 and I3D flow at 1 fps) are computed from the raw videos. The suite therefore defines ONE on-disk layout for
MV100K-like data; the real route to it is ``python cli.py prepare`` (YouTube-8M TFRecords -> ids/labels/YT8M
features; raw videos -> EfficientNet-Lite0 / optical-flow features), the synthetic writer
(``datamodules/synthetic/mv100k.py``) writes the same layout, and MusicCaps (docs/DATASETS.md §7) plugs in as captions.

On-disk layout (``root``)::

    root/
      videos.csv                 REQUIRED. One row per video, header, comma-separated, columns:
                                   id          video id: YT8M's 4-char anonymised id, an 11-char YouTube id, any
                                               file-name-safe string ([A-Za-z0-9_-]+, may start with '_' or '-')
                                   split       train | val | test   (V2Meow: 80:20 train/val; the test set is a
                                               genre-balanced subset of val — here simply its own rows)
                                   duration_s  float, length of the audio / feature track in seconds
                                   labels      YT8M class indices into vocabulary.csv, separated by spaces ("" = none)
                                 Extra columns (e.g. ytid, start_s, genre) are kept and returned in ``meta``.
      features/<kind>/<id>.npy   REQUIRED for every kind the DataModule is asked for (``feature_kinds``).
                                 float32 (float16 accepted) array [T, D] at 1 fps: row t describes the video
                                 second [t, t+1). T = floor(duration_s) (one row more or less is tolerated; the
                                 loader pads by repeating the last row). D is constant per kind. Kinds the suite
                                 writes (``datamodules.features``): ``effnet_lite0`` (D=1280, EfficientNet-Lite0
                                 ImageNet pooled features of the frame at t+0.5 s), ``flow`` (D=45, Farneback
                                 optical-flow statistics over second t),
                                 ``yt8m_rgb`` (D=1024) / ``yt8m_audio`` (D=128) (dequantised YT8M features). Any
                                 user feature (CLIP ViT-L/14 768-d, I3D flow 1024-d) is just another kind.
                                 Token kinds (``token_kinds``) hold integer ids instead ([T, P], any integer dtype,
                                 0 <= id < the kind's vocabulary): ``effnet_tokens`` (P=49, vocabulary 8192: the 7x7
                                 EfficientNet-Lite0 patches of the frame at t+0.5 s through a fixed random-projection
                                 quantiser, standing in for V2Meow's ViT-VQGAN tokens); a user's ViT-VQGAN tokens
                                 (P=1024, vocabulary 8192) are another token kind.
      embeddings/<model>/<id>.npy
                                 OPTIONAL (REQUIRED for ``embedding_kind=<model>``). float32 [S, D]: row j is the joint
                                 text-audio model's audio embedding of the video's 10-s segment [10 j, 10 j + 10) (the
                                 last one may be shorter), S = ceil(duration_s / 10) (one row more or less is
                                 tolerated). Written by ``python cli.py prepare --task embeddings`` (V2Meow §3.1:
                                 MuLan embeddings of every 10-s segment, D = 128).
      audio/<id>.wav             REQUIRED. The music, aligned with the features at t = 0. Any sample rate, mono or
                                 stereo (mixed down), PCM or float WAV/FLAC readable by soundfile; resampled to the
                                 DataModule's ``sample_rate``.
      captions.csv               OPTIONAL. MusicCaps' exact columns (docs/DATASETS.md §7): ytid,start_s,end_s,
                                 audioset_positive_labels,aspect_list,caption,author_id,is_balanced_subset,
                                 is_audioset_eval. ``ytid`` joins ``videos.csv`` ``id``; [start_s, end_s) is in the
                                 video's timeline. A clip gets the caption of the row whose interval overlaps it
                                 most (else the video's first row, else ""). So MusicCaps itself is an MV100K-layout
                                 root whose videos.csv lists the 10-s clips (id = ytid, start_s = 0 after cutting).
      vocabulary.csv             OPTIONAL. YT8M's vocabulary (header Index,TrainVideoCount,KnowledgeGraphId,Name,...);
                                 when present, label names are added to ``meta``.
      video/<id>.mp4             OPTIONAL. Raw videos (input of ``prepare features``; never read by the DataModule).

Batches (design.md): ``visual_features`` float [B, T, D] (the requested kinds concatenated along D, in order;
T = clip_seconds * 1 fps; absent when ``feature_kinds`` is empty), ``visual_tokens`` long [B, T, P] (the requested
token kinds concatenated along P; only with ``token_kinds``), ``control_embedding`` float [B, D] (only with
``embedding_kind``: the mean of the video's segment embeddings, V2Meow §3.1, or of the segments overlapping the clip),
``audio`` float [B, N] (N = clip_seconds * sample_rate), ``text`` list[str], ``meta`` list[dict] (id, split, start_s,
clip_seconds, fps, feature_kinds, feature_dims, token_kinds, token_dims, token_vocab, embedding_kind, labels,
sample_rate, synthetic).
"""

from __future__ import annotations

import ast
import csv
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Optional

import numpy as np
import torch

from datamodules.audio import load_audio
from datamodules.base import ClipDataModule
from datamodules.clips import ClipDataset

log = logging.getLogger(__name__)

VIDEOS_CSV = "videos.csv"
CAPTIONS_CSV = "captions.csv"
VOCABULARY_CSV = "vocabulary.csv"
REQUIRED_COLUMNS = ("id", "split", "duration_s", "labels")
MUSICCAPS_COLUMNS = (
    "ytid", "start_s", "end_s", "audioset_positive_labels", "aspect_list", "caption", "author_id",
    "is_balanced_subset", "is_audioset_eval",
)  # fmt: skip
FEATURE_FPS = 1.0
EMBEDDING_SEGMENT_SECONDS = 10.0  # V2Meow §3.1: one joint-model embedding per 10-s audio segment
EMBEDDING_SCOPES = ("video", "clip")
_ID = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class Video:
    """One row of ``videos.csv``."""

    id: str
    split: str
    duration: float
    labels: tuple[int, ...]
    extra: dict[str, str]


@dataclass(frozen=True)
class Caption:
    """One MusicCaps-format caption row: the text for ``[start, end)`` of video ``ytid``."""

    ytid: str
    start: float
    end: float
    caption: str
    aspects: tuple[str, ...]


def read_videos(path: Path) -> list[Video]:
    """Parse ``videos.csv``; one error naming the file, the line and the cause for any bad row."""
    if not path.is_file():
        raise FileNotFoundError(f"MV100K: {path} does not exist (every MV100K root needs videos.csv; see the "
                                "datamodules.mv100k docstring)")  # fmt: skip
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"MV100K: {path} lacks the column(s) {missing} (header: {reader.fieldnames})")
        videos, seen = [], set()
        for line, row in enumerate(reader, start=2):
            vid = (row["id"] or "").strip()
            where = f"{path} line {line}"
            if not _ID.match(vid):
                raise ValueError(f"MV100K: {where}: bad video id {vid!r} (letters, digits, '_' and '-' only)")
            if vid in seen:
                raise ValueError(f"MV100K: {where}: video id {vid!r} appears twice")
            seen.add(vid)
            split = (row["split"] or "").strip()
            if split not in ("train", "val", "test"):
                raise ValueError(f"MV100K: {where}: split must be train, val or test, got {split!r}")
            try:
                duration = float(row["duration_s"])
                labels = tuple(int(x) for x in (row["labels"] or "").split())
            except ValueError as error:
                raise ValueError(f"MV100K: {where}: bad duration_s or labels ({error})") from None
            if not np.isfinite(duration) or duration <= 0:
                raise ValueError(f"MV100K: {where}: duration_s must be a positive number, got {row['duration_s']!r}")
            extra = {k: v for k, v in row.items() if k not in REQUIRED_COLUMNS and k is not None}
            videos.append(Video(vid, split, duration, labels, extra))
    if not videos:
        raise ValueError(f"MV100K: {path} lists no videos")
    return videos


def _bool(text: str) -> bool:
    return str(text).strip().lower() in ("true", "1", "yes")


def read_captions(path: Path) -> dict[str, list[Caption]]:
    """Parse a MusicCaps-format ``captions.csv`` -> {ytid: captions sorted by start}."""
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in ("ytid", "start_s", "end_s", "caption") if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"MV100K: {path} lacks the MusicCaps column(s) {missing} (header: {reader.fieldnames})")
        out: dict[str, list[Caption]] = {}
        for line, row in enumerate(reader, start=2):
            try:
                start, end = float(row["start_s"]), float(row["end_s"])
                aspects = ast.literal_eval(row["aspect_list"]) if row.get("aspect_list") else []
            except (ValueError, SyntaxError) as error:
                raise ValueError(f"MV100K: {path} line {line}: bad start_s/end_s/aspect_list ({error})") from None
            if not isinstance(aspects, (list, tuple)):
                raise ValueError(f"MV100K: {path} line {line}: aspect_list must be a list literal")
            caption = Caption(row["ytid"].strip(), start, end, (row["caption"] or "").strip(), tuple(map(str, aspects)))
            out.setdefault(caption.ytid, []).append(caption)
    for captions in out.values():
        captions.sort(key=lambda c: c.start)
    return out


def caption_for(captions: Sequence[Caption], start: float, end: float) -> str:
    """The caption whose interval overlaps ``[start, end)`` most (the first one when none overlaps; "" if none)."""
    if not captions:
        return ""
    overlaps = [max(0.0, min(end, c.end) - max(start, c.start)) for c in captions]
    best = int(np.argmax(overlaps))
    return captions[best if overlaps[best] > 0 else 0].caption


def segment_count(duration: float, segment_seconds: float = EMBEDDING_SEGMENT_SECONDS) -> int:
    """Rows of ``embeddings/<model>/<id>.npy`` for a video of ``duration`` seconds: its 10-s segments, the last one
    possibly shorter (at least one)."""
    return max(1, int(np.ceil(duration / segment_seconds - 1e-6)))


def segments_overlapping(start: float, end: float, rows: int, segment_seconds: float = EMBEDDING_SEGMENT_SECONDS):
    """Indices of the segments (of ``rows``) that overlap ``[start, end)``; never empty."""
    first = int(np.floor(start / segment_seconds + 1e-9))
    last = int(np.ceil(end / segment_seconds - 1e-9))
    first = min(max(first, 0), rows - 1)
    return np.arange(first, max(first + 1, min(last, rows)))


def check_token_ids(block: np.ndarray, vocab: int, path: Path) -> None:
    """One error naming ``path`` when ``block`` holds an id outside ``[0, vocab)``."""
    if block.size and (int(block.min()) < 0 or int(block.max()) >= vocab):
        raise ValueError(f"MV100K: {path} holds token ids in [{int(block.min())}, {int(block.max())}] outside the "
                         f"vocabulary [0, {vocab})")  # fmt: skip


class MV100KClips(ClipDataset):
    """Clips of MV100K videos: 1-fps features / tokens of the requested kinds, the video's control embedding, audio
    and caption of the same seconds."""

    def __init__(
        self,
        root: Path,
        videos: Sequence[Video],
        feature_kinds: Sequence[str],
        feature_dims: Sequence[int],
        captions: dict[str, list[Caption]],
        vocabulary: dict[int, str],
        clip_seconds: float,
        sample_rate: int,
        train: bool,
        clips_per_epoch: Optional[int] = None,
        synthetic: bool = False,
        token_kinds: Sequence[str] = (),
        token_dims: Sequence[int] = (),
        token_vocab: Sequence[int] = (),
        embedding_kind: Optional[str] = None,
        embedding_scope: str = "video",
    ) -> None:
        self.root, self.videos = root, list(videos)
        self.feature_kinds, self.feature_dims = tuple(feature_kinds), tuple(feature_dims)
        self.token_kinds, self.token_dims, self.token_vocab = tuple(token_kinds), tuple(token_dims), tuple(token_vocab)
        self.embedding_kind, self.embedding_scope = embedding_kind, embedding_scope
        self.captions, self.vocabulary = captions, vocabulary
        self.sample_rate, self.synthetic = int(sample_rate), synthetic
        super().__init__(
            [(0.0, v.duration) for v in self.videos],
            clip_seconds=clip_seconds,
            train=train,
            grid=FEATURE_FPS,
            clips_per_epoch=clips_per_epoch,
        )

    @staticmethod
    def _open(path: Path, what: str) -> np.ndarray:
        try:
            return np.load(path, mmap_mode="r")
        except (OSError, ValueError) as error:
            raise RuntimeError(f"MV100K: cannot read {what} {path} (corrupt or truncated?): {error}") from error

    def _rows(self, video: Video, kind: str, dim: int, first: int, count: int, tokens: bool) -> np.ndarray:
        path = self.root / "features" / kind / f"{video.id}.npy"
        array = self._open(path, "tokens" if tokens else "features")
        if array.ndim != 2 or array.shape[1] != dim or len(array) == 0:
            raise ValueError(f"MV100K: {path} has shape {array.shape}; expected [T, {dim}] (1 fps, {kind})")
        if tokens != np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"MV100K: {path} holds {array.dtype} values; "
                             + ("token kinds hold integer ids" if tokens else f"{kind} is a token kind (integer ids): "
                                "read it with token_kinds, not feature_kinds"))  # fmt: skip
        expected = int(np.floor(video.duration * FEATURE_FPS + 1e-6))
        if abs(len(array) - expected) > 1:
            raise ValueError(f"MV100K: {path} has {len(array)} rows but videos.csv says {video.duration:g} s "
                             f"({expected} rows at 1 fps)")  # fmt: skip
        rows = np.minimum(np.arange(first, first + count), len(array) - 1)  # pad by repeating the last row
        if tokens:
            block = np.asarray(array[rows], dtype=np.int64)
            check_token_ids(block, self.token_vocab[self.token_kinds.index(kind)], path)
            return block
        block = np.asarray(array[rows], dtype=np.float32)
        if not np.all(np.isfinite(block)):
            raise ValueError(f"MV100K: {path} holds NaN or Inf values in rows {first}..{first + count - 1}")
        return block

    def _features(self, video: Video, first: int, count: int) -> np.ndarray:
        parts = [self._rows(video, k, d, first, count, False) for k, d in zip(self.feature_kinds, self.feature_dims)]
        return np.concatenate(parts, axis=1)

    def _tokens(self, video: Video, first: int, count: int) -> np.ndarray:
        parts = [self._rows(video, k, d, first, count, True) for k, d in zip(self.token_kinds, self.token_dims)]
        return np.concatenate(parts, axis=1)

    def _embedding(self, video: Video, start: float, duration: float) -> np.ndarray:
        """The video's control embedding: the mean of its segment embeddings (``embedding_scope`` "video", V2Meow
        §3.1) or of the segments overlapping ``[start, start + duration)`` ("clip")."""
        path = self.root / "embeddings" / str(self.embedding_kind) / f"{video.id}.npy"
        array = self._open(path, "embeddings")
        expected = segment_count(video.duration)
        if array.ndim != 2 or len(array) == 0 or array.shape[1] == 0 or abs(len(array) - expected) > 1:
            raise ValueError(f"MV100K: {path} has shape {array.shape}; expected [{expected}, D] (one row per "
                             f"{EMBEDDING_SEGMENT_SECONDS:g}-s segment of {video.duration:g} s)")  # fmt: skip
        rows = np.arange(len(array))
        if self.embedding_scope == "clip":
            rows = segments_overlapping(start, start + duration, len(array))
        block = np.asarray(array[rows], dtype=np.float32)
        if not np.all(np.isfinite(block)):
            raise ValueError(f"MV100K: {path} holds NaN or Inf values")
        return block.mean(axis=0)

    def load_clip(self, recording: int, start: float, duration: float) -> dict[str, Any]:
        video = self.videos[recording]
        first, count = int(round(start * FEATURE_FPS)), int(round(duration * FEATURE_FPS))
        sample: dict[str, Any] = {}
        if self.feature_kinds:
            sample["visual_features"] = torch.from_numpy(self._features(video, first, count))
        if self.token_kinds:
            sample["visual_tokens"] = torch.from_numpy(self._tokens(video, first, count))
        if self.embedding_kind:
            sample["control_embedding"] = torch.from_numpy(self._embedding(video, start, duration))
        audio = load_audio(self.root / "audio" / f"{video.id}.wav", self.sample_rate, start=start, duration=duration)
        text = caption_for(self.captions.get(video.id, ()), start, start + duration)
        meta = {
            "id": video.id,
            "split": video.split,
            "start_s": float(start),
            "clip_seconds": float(duration),
            "valid_seconds": float(min(duration, video.duration - start)),
            "fps": FEATURE_FPS,
            "feature_kinds": list(self.feature_kinds),
            "feature_dims": list(self.feature_dims),
            "token_kinds": list(self.token_kinds),
            "token_dims": list(self.token_dims),
            "token_vocab": list(self.token_vocab),
            "embedding_kind": self.embedding_kind or "",
            "labels": list(video.labels),
            "label_names": [self.vocabulary.get(k, str(k)) for k in video.labels] if self.vocabulary else [],
            "sample_rate": self.sample_rate,
            "synthetic": self.synthetic,
            **video.extra,
        }
        return sample | {"audio": torch.from_numpy(audio), "text": text, "meta": meta}


class MV100KDataModule(ClipDataModule):
    """MV100K-layout data (module docstring) -> ``visual_features`` [B, T, D], ``visual_tokens`` [B, T, P],
    ``control_embedding`` [B, D], ``audio`` [B, N], ``text``, ``meta``.

    Args:
        root: an MV100K-layout root; None = the embedded synthetic dataset.
        feature_kinds: the ``features/<kind>`` folders of float features to read, concatenated along D in this order
            into ``visual_features`` (V2Meow's best conditioning is CLIP + I3D flow; the suite's offline stand-ins
            are ``effnet_lite0`` + ``flow``); may be empty when ``token_kinds`` is not.
        token_kinds: the ``features/<kind>`` folders of integer token ids to read, concatenated along P in this order
            into ``visual_tokens`` long [B, T, P] (``effnet_tokens``: P = 49, the ViT-VQGAN stand-in). Every id is
            checked against the kind's vocabulary (an id out of range is an error naming the file).
        token_vocab: vocabulary sizes of token kinds the suite does not know (``{"vit_vqgan": 8192}``); the suite's
            own (``datamodules.features.TOKEN_VOCAB``) need none.
        embedding_kind: the ``embeddings/<model>`` folder (``prepare --task embeddings``) whose segment embeddings
            become ``control_embedding`` float [B, D]; None = no control embedding.
        embedding_scope: ``video``: the mean over all the video's 10-s segments (V2Meow §3.1: one video-level
            embedding, whatever the crop); ``clip``: the mean over the segments overlapping the clip.
        clip_seconds: clip length (V2Meow §4.1: 10-s random crops; 3-s for the fine acoustic stage).
        sample_rate: audio rate of the batches (resampled from the files' own rate).
        clips_per_epoch: training epoch length (default: whole clips in all training videos).
        batch_size, num_workers, synthetic_minutes, seed: see :class:`datamodules.base.ClipDataModule`.
    """

    synthetic_name = "mv100k"

    def __init__(
        self,
        root: Optional[str] = None,
        feature_kinds: Sequence[str] = ("effnet_lite0", "flow"),
        token_kinds: Sequence[str] = (),
        token_vocab: Optional[dict[str, int]] = None,
        embedding_kind: Optional[str] = None,
        embedding_scope: Literal["video", "clip"] = "video",
        clip_seconds: float = 10.0,
        sample_rate: int = 16000,
        clips_per_epoch: Optional[int] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(root, **kwargs)
        from datamodules.features import TOKEN_VOCAB

        if not feature_kinds and not token_kinds:
            raise ValueError("MV100KDataModule: feature_kinds or token_kinds must name at least one features/<kind> "
                             "folder")  # fmt: skip
        vocab = TOKEN_VOCAB | dict(token_vocab or {})
        unknown = [k for k in token_kinds if k not in vocab]
        if unknown:
            raise ValueError(f"MV100KDataModule: token kinds {unknown} have no known vocabulary size; pass "
                             f"token_vocab={{{unknown[0]!r}: SIZE}} (known: {sorted(vocab)})")  # fmt: skip
        if embedding_scope not in EMBEDDING_SCOPES:
            raise ValueError(f"MV100KDataModule: embedding_scope must be one of {EMBEDDING_SCOPES}, got "
                             f"{embedding_scope!r}")  # fmt: skip
        if clip_seconds < 1 or abs(clip_seconds * FEATURE_FPS - round(clip_seconds * FEATURE_FPS)) > 1e-6:
            raise ValueError(
                f"MV100KDataModule: clip_seconds must be a whole number of 1-fps frames, got {clip_seconds}"
            )
        self.feature_kinds = tuple(feature_kinds)
        self.token_kinds = tuple(token_kinds)
        self.token_vocab = tuple(int(vocab[k]) for k in self.token_kinds)
        self.embedding_kind = embedding_kind or None
        self.embedding_scope = embedding_scope
        self.clip_seconds = float(clip_seconds)
        self.sample_rate = int(sample_rate)
        self.clips_per_epoch = clips_per_epoch
        self.feature_dims: tuple[int, ...] = ()
        self.token_dims: tuple[int, ...] = ()
        self.embedding_dim = 0
        self._index: Optional[tuple[list[Video], dict[str, list[Caption]], dict[int, str]]] = None

    @property
    def feature_dim(self) -> int:
        """D of ``visual_features`` (known after ``setup``)."""
        return int(sum(self.feature_dims))

    @property
    def token_dim(self) -> int:
        """P of ``visual_tokens`` (known after ``setup``)."""
        return int(sum(self.token_dims))

    @property
    def provided_fields(self) -> tuple[str, ...]:
        """The batch fields this DataModule yields."""
        return (
            (("visual_features",) if self.feature_kinds else ())
            + (("visual_tokens",) if self.token_kinds else ())
            + (("control_embedding",) if self.embedding_kind else ())
            + ("audio", "text", "meta")
        )

    def _read_index(self, root: Path) -> tuple[list[Video], dict[str, list[Caption]], dict[int, str]]:
        if self._index is not None:
            return self._index
        videos = read_videos(root / VIDEOS_CSV)
        missing: list[Path] = []
        dims: dict[str, int] = {}
        folders = [root / "features" / kind for kind in (*self.feature_kinds, *self.token_kinds)]
        if self.embedding_kind:
            folders.append(root / "embeddings" / self.embedding_kind)
        for folder in folders:
            if not folder.is_dir():
                parent = folder.parent
                known = sorted(p.name for p in parent.iterdir()) if parent.is_dir() else []
                raise FileNotFoundError(f"MV100K: folder {folder} does not exist ({parent.name} kinds here: {known})")
            present = [folder / f"{v.id}.npy" for v in videos if (folder / f"{v.id}.npy").is_file()]
            if present:
                try:
                    dims[str(folder)] = int(np.load(present[0], mmap_mode="r").shape[-1])
                except (OSError, ValueError, IndexError) as error:
                    raise RuntimeError(f"MV100K: cannot read {present[0]} (corrupt or truncated?): {error}") from None
            missing += [folder / f"{v.id}.npy" for v in videos if not (folder / f"{v.id}.npy").is_file()]
        missing += [root / "audio" / f"{v.id}.wav" for v in videos if not (root / "audio" / f"{v.id}.wav").is_file()]
        if missing:
            shown = ", ".join(str(p) for p in missing[:5])
            raise FileNotFoundError(f"MV100K: {len(missing)} file(s) listed by {root / VIDEOS_CSV} are missing: {shown}"
                                    + (" ..." if len(missing) > 5 else ""))  # fmt: skip
        self.feature_dims = tuple(dims[str(root / "features" / k)] for k in self.feature_kinds)
        self.token_dims = tuple(dims[str(root / "features" / k)] for k in self.token_kinds)
        if self.embedding_kind:
            self.embedding_dim = dims[str(root / "embeddings" / self.embedding_kind)]
        captions = read_captions(root / CAPTIONS_CSV) if (root / CAPTIONS_CSV).is_file() else {}
        vocabulary = {}
        if (root / VOCABULARY_CSV).is_file():
            from datamodules.yt8m import read_vocabulary

            vocabulary = read_vocabulary(root / VOCABULARY_CSV)
        self._index = (videos, captions, vocabulary)
        return self._index

    def build_dataset(self, root: Path, split: str) -> MV100KClips:
        videos, captions, vocabulary = self._read_index(root)
        chosen = [v for v in videos if v.split == split]
        if not chosen:
            counts = {s: sum(v.split == s for v in videos) for s in ("train", "val", "test")}
            raise ValueError(f"MV100K: {root / VIDEOS_CSV} has no '{split}' videos (per split: {counts})")
        if self.is_synthetic:
            log.warning("MV100KDataModule: %s split is SYNTHETIC data (%s)", split, root)
        return MV100KClips(
            root,
            chosen,
            self.feature_kinds,
            self.feature_dims,
            captions,
            vocabulary,
            self.clip_seconds,
            self.sample_rate,
            train=split == "train",
            clips_per_epoch=self.clips_per_epoch if split == "train" else None,
            synthetic=self.is_synthetic,
            token_kinds=self.token_kinds,
            token_dims=self.token_dims,
            token_vocab=self.token_vocab,
            embedding_kind=self.embedding_kind,
            embedding_scope=self.embedding_scope,
        )


__all__ = [
    "EMBEDDING_SEGMENT_SECONDS", "MV100KDataModule", "MV100KClips", "caption_for", "check_token_ids",
    "read_captions", "read_videos", "segment_count", "segments_overlapping",
]  # fmt: skip

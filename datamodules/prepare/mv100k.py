"""Build an MV100K-layout root (:mod:`datamodules.mv100k`) offline: from raw music videos (``features`` task) or from
YouTube-8M frame-level shards (``yt8m`` task); add the joint text-audio model's segment embeddings to one
(``embeddings`` task).

``features``: every video under ``src`` becomes ``features/<kind>/<id>.npy`` for each requested kind
(:mod:`datamodules.features`: float features such as ``effnet_lite0`` and ``flow``, int16 token ids for
``effnet_tokens``) and ``audio/<id>.wav`` (its soundtrack, mono, native rate, 16-bit), with ``id`` the file
stem; then ``videos.csv`` lists every video whose files are all present. Rows already in ``videos.csv`` keep their
split and labels; new ones get a split from a hash of the id (train 80 % / val 10 % / test 10 %: V2Meow §4.1 splits
80:20 and tests on a subset of the 20 %), so adding videos never moves old ones.

``yt8m``: every record of the shards under ``src`` (optionally only those carrying one of ``labels``: names from
``vocabulary.csv`` such as "Music video", or indices) becomes ``features/yt8m_rgb/<id>.npy`` [T, 1024] and
``features/yt8m_audio/<id>.npy`` [T, 128] (dequantised float32) and a ``videos.csv`` row (split from the shard name:
``train*`` / ``validate*`` / ``test*``, duration = T seconds, its labels). The music itself is not in YT8M:
``audio/<id>.wav`` must be added from the videos (the DataModule names what is missing).

``embeddings``: for every video of the MV100K root ``src`` (its ``videos.csv`` and ``audio/<id>.wav``), the joint
text-audio model (any :class:`metrics.text_audio.JointTextAudioModel`, loaded from ``joint_ckpt`` by the class named
``joint_class``) embeds each 10-s segment of the soundtrack, ``[10 j, 10 j + 10)``, the last one as long as the audio
left (V2Meow §3.1: MuLan embeddings of every 10-s segment, averaged into one video-level control embedding by the
DataModule). Rows go to ``out/embeddings/<model name>/<id>.npy``, float32 ``[ceil(duration_s / 10), D]``.
"""

from __future__ import annotations

import csv
import hashlib
import importlib
import json
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

import numpy as np

from datamodules.prepare.jobs import Job, Report, collect, run_jobs

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
SPLIT_RATIOS = (("train", 0.8), ("val", 0.1), ("test", 0.1))


def hash_split(video_id: str) -> str:
    """Deterministic split of ``video_id`` (80/10/10) from its MD5."""
    u = int(hashlib.md5(video_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    edge = 0.0
    for split, ratio in SPLIT_RATIOS:
        edge += ratio
        if u < edge:
            return split
    return SPLIT_RATIOS[-1][0]


def _read_rows(path: Path) -> tuple[list[str], dict[str, dict[str, str]]]:
    if not path.is_file():
        return ["id", "split", "duration_s", "labels"], {}
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), {row["id"]: row for row in reader}


def write_videos_csv(root: Path, rows: dict[str, dict[str, str]], columns: Sequence[str]) -> Path:
    """Write ``videos.csv`` atomically (rows sorted by id)."""
    path = root / "videos.csv"
    tmp = path.with_name(".videos.tmp.csv")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for vid in sorted(rows):
            writer.writerow({c: rows[vid].get(c, "") for c in columns})
    tmp.replace(path)
    return path


def _combine(task: str, reports: Sequence[Report]) -> Report:
    report = Report(task)
    for r in reports:
        report.done += r.done
        report.skipped += r.skipped
        report.failed += r.failed
    return report


def prepare_features(
    src: Path,
    out: Path,
    kinds: Sequence[str] = ("effnet_lite0", "flow"),
    overwrite: bool = False,
    progress: bool = True,
) -> Report:
    """Raw videos -> an MV100K-layout root (features of ``kinds``, audio, videos.csv); see the module docstring."""
    from datamodules.audio import load_audio, write_audio
    from datamodules.features import KIND_DIMS, TOKEN_DIMS, video_features
    from datamodules.features.effnet_tokens import TOKEN_DTYPE
    from datamodules.mv100k import _ID
    from datamodules.video import VideoFile

    src, out = Path(src), Path(out)
    unknown = [k for k in kinds if k not in KIND_DIMS]
    if unknown or not kinds:
        raise ValueError(f"prepare features: unknown feature kinds {unknown or kinds}; known: {sorted(KIND_DIMS)}")
    videos = collect(src, VIDEO_SUFFIXES, "video")
    bad = [p for p in videos if not _ID.match(p.stem)]
    if bad:
        raise ValueError(
            f"prepare features: video names must be ids ([A-Za-z0-9_-]+) as they become file names: {bad[:3]}"
        )
    stems = [p.stem for p in videos]
    if len(set(stems)) != len(stems):
        raise ValueError("prepare features: two videos share a file stem (ids must be unique across folders)")

    def audio_work(job: Job, tmp: Path) -> None:
        try:
            audio = load_audio(job.src)
        except (RuntimeError, ValueError) as error:
            raise RuntimeError(f"no usable soundtrack in {job.src}: {error}") from None
        from datamodules.audio import audio_info

        rate, _ = audio_info(job.src)
        write_audio(tmp, audio, rate, subtype="PCM_16")

    reports = [run_jobs([Job(p, out / "audio" / f"{p.stem}.wav") for p in videos], audio_work, "features (audio)",
                        overwrite=overwrite, progress=progress, raise_on_error=False)]  # fmt: skip
    for kind in kinds:

        def work(job: Job, tmp: Path, kind: str = kind) -> None:
            array = video_features(job.src, (kind,), video=VideoFile(job.src))[kind]
            np.save(tmp, array.astype(TOKEN_DTYPE if kind in TOKEN_DIMS else np.float32))

        jobs = [Job(p, out / "features" / kind / f"{p.stem}.npy") for p in videos]
        reports.append(run_jobs(jobs, work, f"features ({kind})", overwrite, progress, raise_on_error=False))
    report = _combine("features", reports)

    columns, rows = _read_rows(out / "videos.csv")
    for path in videos:
        files = [out / "audio" / f"{path.stem}.wav"] + [out / "features" / k / f"{path.stem}.npy" for k in kinds]
        if not all(f.is_file() for f in files):
            continue
        row = rows.get(path.stem, {})
        if not row:
            duration = VideoFile(path).duration  # readable: its features were just computed
            row = {"id": path.stem, "split": hash_split(path.stem), "duration_s": f"{duration:.3f}", "labels": ""}
        rows[path.stem] = row
    if rows:
        write_videos_csv(out, rows, columns)
    print(report.summary())
    if report.failed:
        raise RuntimeError(f"prepare features: {len(report.failed)} output(s) failed (see the report above); first: "
                           f"{report.failed[0][0]}: {report.failed[0][1]}")  # fmt: skip
    return report


def _shard_split(path: Path) -> str:
    name = path.name.lower()
    if name.startswith("train"):
        return "train"
    if name.startswith("valid"):
        return "val"
    if name.startswith("test"):
        return "test"
    raise ValueError(f"prepare yt8m: cannot tell the split of shard {path} (names start with train/validate/test)")


def prepare_yt8m(
    src: Path,
    out: Path,
    labels: Optional[Sequence[str]] = None,
    vocabulary: Optional[Path] = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Report:
    """YouTube-8M frame-level shards -> ids, labels and YT8M features in an MV100K-layout root (module docstring)."""
    from datamodules.prepare.jobs import _remove
    from datamodules.yt8m import label_indices, read_frame_level, read_vocabulary, shards

    src, out = Path(src), Path(out)
    files = shards(src)
    vocab_path = Path(vocabulary) if vocabulary else None
    if vocab_path is None and (src if src.is_dir() else src.parent).joinpath("vocabulary.csv").is_file():
        vocab_path = (src if src.is_dir() else src.parent) / "vocabulary.csv"
    vocab = read_vocabulary(vocab_path) if vocab_path else {}
    wanted: Optional[set[int]] = None
    if labels:
        names = [x for x in labels if not str(x).lstrip("-").isdigit()]
        if names and not vocab:
            raise FileNotFoundError(f"prepare yt8m: label names {names} need vocabulary.csv (pass vocabulary=...)")
        wanted = {int(x) for x in labels if str(x).lstrip("-").isdigit()} | set(label_indices(vocab, names))
    for path in files:
        _shard_split(path)  # one clear error for a badly named shard before any work
    marker_dir = out / ".yt8m-shards"

    def work(job: Job, tmp: Path) -> None:
        split = _shard_split(job.src)
        kept = []
        for video in read_frame_level(job.src):
            if wanted is not None and not wanted.intersection(video.labels):
                continue
            if video.seconds == 0:
                raise ValueError(f"{job.src}: video {video.id} has no frames")
            for kind, array in (("yt8m_rgb", video.rgb), ("yt8m_audio", video.audio)):
                target = out / "features" / kind / f"{video.id}.npy"
                target.parent.mkdir(parents=True, exist_ok=True)
                part = target.with_name(f".{video.id}.tmp-prepare.npy")
                np.save(part, array)
                part.replace(target)
            kept.append({"id": video.id, "split": split, "duration_s": str(video.seconds),
                         "labels": " ".join(map(str, video.labels))})  # fmt: skip
        tmp.write_text(json.dumps(kept))

    jobs = [Job(p, marker_dir / f"{p.name}.json") for p in files]
    report = run_jobs(jobs, work, "yt8m", overwrite=overwrite, progress=progress, raise_on_error=False)
    columns, rows = _read_rows(out / "videos.csv")
    for job in jobs:
        if job.out.is_file():
            for row in json.loads(job.out.read_text()):
                rows[row["id"]] = rows.get(row["id"], {}) | row
    if rows:
        write_videos_csv(out, rows, columns)
    if vocab_path and vocab_path.resolve() != (out / "vocabulary.csv").resolve():
        shutil.copyfile(vocab_path, out / ".vocabulary.tmp.csv")
        (out / ".vocabulary.tmp.csv").replace(out / "vocabulary.csv")
    if report.failed:
        for job in jobs:
            if job.tmp.exists():
                _remove(job.tmp)
        raise RuntimeError(f"prepare yt8m: {len(report.failed)} shard(s) failed (see the report above); first: "
                           f"{report.failed[0][0]}: {report.failed[0][1]}")  # fmt: skip
    return report


def load_joint_model(checkpoint: Path, class_path: Optional[str]) -> Any:
    """The joint text-audio model ``class_path`` (``package.module.Class``) loaded from ``checkpoint`` by the class's
    ``from_checkpoint`` (or Lightning's ``load_from_checkpoint``); one error naming what is wrong."""
    from metrics.text_audio import JointTextAudioModel

    path = Path(checkpoint)
    if not class_path or "." not in class_path:
        raise ValueError(f"prepare embeddings: joint_class must name the joint model's class as package.module.Class "
                         f"(a JointTextAudioModel with from_checkpoint(path)), got {class_path!r}")  # fmt: skip
    if not path.is_file():
        raise FileNotFoundError(f"prepare embeddings: joint model checkpoint {path} does not exist")
    module_name, _, name = class_path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as error:
        raise ValueError(f"prepare embeddings: cannot import joint_class {class_path!r}: {error}") from None
    loader = getattr(cls, "from_checkpoint", None) or getattr(cls, "load_from_checkpoint", None)
    if loader is None:
        raise ValueError(f"prepare embeddings: {class_path} has no from_checkpoint(path) / load_from_checkpoint(path)")
    model = loader(str(path))
    if not isinstance(model, JointTextAudioModel):
        raise ValueError(f"prepare embeddings: {class_path} loaded from {path} is not a JointTextAudioModel (name, "
                         "embed_text, embed_audio)")  # fmt: skip
    if hasattr(model, "eval"):
        model.eval()
    return model


def segment_embeddings(model: Any, audio: np.ndarray, rate: int, duration: float, path: Path) -> np.ndarray:
    """``[S, D]`` float32 embeddings of the 10-s segments of ``audio`` (of a video lasting ``duration`` s): the full
    segments in one batch, a shorter last one on its own."""
    import torch

    from datamodules.mv100k import EMBEDDING_SEGMENT_SECONDS, segment_count

    size = int(round(EMBEDDING_SEGMENT_SECONDS * rate))
    segments = [audio[j * size : (j + 1) * size] for j in range(segment_count(duration))]
    if any(len(x) == 0 for x in segments):
        raise ValueError(f"{path} holds {len(audio) / rate:.2f} s of audio, but videos.csv says {duration:g} s")
    full = [j for j, x in enumerate(segments) if len(x) == size]
    rows: dict[int, np.ndarray] = {}
    with torch.no_grad():
        for group in (full, [j for j in range(len(segments)) if j not in full]):
            if not group:
                continue
            batch = torch.from_numpy(np.stack([segments[j] for j in group]).astype(np.float32))
            embedded = torch.as_tensor(model.embed_audio(batch, rate)).detach().cpu().float().numpy()
            if embedded.ndim != 2 or len(embedded) != len(group):
                raise RuntimeError(f"joint model {model.name!r} returned {embedded.shape} for {len(group)} segments "
                                   f"of {path} (expected [{len(group)}, D])")  # fmt: skip
            rows |= dict(zip(group, embedded))
    out = np.stack([rows[j] for j in range(len(segments))]).astype(np.float32)
    if not np.all(np.isfinite(out)):
        raise RuntimeError(f"joint model {model.name!r} returned NaN or Inf embeddings for {path}")
    return out


def prepare_embeddings(
    src: Path,
    out: Optional[Path] = None,
    joint_ckpt: Optional[Path] = None,
    joint_class: Optional[str] = None,
    model: Any = None,
    sample_rate: Optional[int] = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Report:
    """Segment embeddings of every video of the MV100K root ``src`` into ``out`` (default: ``src``)
    ``/embeddings/<model.name>/<id>.npy`` (module docstring). ``model``: an already loaded joint model (else loaded
    from ``joint_ckpt`` by ``joint_class``); ``sample_rate``: the rate the audio is given to the model at (default:
    the model's ``sample_rate`` attribute, else 16 kHz)."""
    from datamodules.audio import load_audio
    from datamodules.mv100k import VIDEOS_CSV, read_videos

    src = Path(src)
    out = Path(out) if out is not None else src
    videos = read_videos(src / VIDEOS_CSV)
    if model is None:
        if joint_ckpt is None:
            raise ValueError("prepare embeddings: pass joint_ckpt (and joint_class) or an already loaded model")
        model = load_joint_model(Path(joint_ckpt), joint_class)
    name = str(getattr(model, "name", ""))
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or name in (".", ".."):
        raise ValueError(f"prepare embeddings: the joint model's name {name!r} must be a folder name ([A-Za-z0-9_.-])")
    rate = int(sample_rate or getattr(model, "sample_rate", 16000))
    missing = [src / "audio" / f"{v.id}.wav" for v in videos if not (src / "audio" / f"{v.id}.wav").is_file()]
    if missing:
        raise FileNotFoundError(f"prepare embeddings: {len(missing)} audio file(s) listed by {src / VIDEOS_CSV} are "
                                f"missing: {', '.join(map(str, missing[:5]))}")  # fmt: skip
    duration = {v.id: v.duration for v in videos}

    def work(job: Job, tmp: Path) -> None:
        audio = load_audio(job.src, rate)
        np.save(tmp, segment_embeddings(model, audio, rate, duration[job.src.stem], job.src))

    jobs = [Job(src / "audio" / f"{v.id}.wav", out / "embeddings" / name / f"{v.id}.npy") for v in videos]
    return run_jobs(jobs, work, f"embeddings ({name})", overwrite=overwrite, progress=progress)


__all__ = [
    "hash_split", "load_joint_model", "prepare_embeddings", "prepare_features", "prepare_yt8m",
    "segment_embeddings", "write_videos_csv",
]  # fmt: skip

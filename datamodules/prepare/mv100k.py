"""Build an MV100K-layout root (:mod:`datamodules.mv100k`) offline: from raw music videos (``features`` task) or from
YouTube-8M frame-level shards (``yt8m`` task).

``features``: every video under ``src`` becomes ``features/<kind>/<id>.npy`` for each requested kind
(:mod:`datamodules.features`) and ``audio/<id>.wav`` (its soundtrack, mono, native rate, 16-bit), with ``id`` the file
stem; then ``videos.csv`` lists every video whose files are all present. Rows already in ``videos.csv`` keep their
split and labels; new ones get a split from a hash of the id (train 80 % / val 10 % / test 10 %: V2Meow §4.1 splits
80:20 and tests on a subset of the 20 %), so adding videos never moves old ones.

``yt8m``: every record of the shards under ``src`` (optionally only those carrying one of ``labels``: names from
``vocabulary.csv`` such as "Music video", or indices) becomes ``features/yt8m_rgb/<id>.npy`` [T, 1024] and
``features/yt8m_audio/<id>.npy`` [T, 128] (dequantised float32) and a ``videos.csv`` row (split from the shard name:
``train*`` / ``validate*`` / ``test*``, duration = T seconds, its labels). The music itself is not in YT8M:
``audio/<id>.wav`` must be added from the videos (the DataModule names what is missing).
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

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
    from datamodules.features import FEATURE_DIMS, video_features
    from datamodules.mv100k import _ID
    from datamodules.video import VideoFile

    src, out = Path(src), Path(out)
    unknown = [k for k in kinds if k not in FEATURE_DIMS]
    if unknown or not kinds:
        raise ValueError(f"prepare features: unknown feature kinds {unknown or kinds}; known: {sorted(FEATURE_DIMS)}")
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
            np.save(tmp, array.astype(np.float32))

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


__all__ = ["hash_split", "prepare_features", "prepare_yt8m", "write_videos_csv"]

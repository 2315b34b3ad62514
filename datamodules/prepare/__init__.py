"""Offline preprocessing, ``python cli.py prepare --task TASK --src SRC --out OUT [...]``.

Tasks:

- ``keypoints``: videos/images -> OpenPose JSON (BODY_25 + hands) with OpenPose or MediaPipe
  (:mod:`datamodules.prepare.keypoints`);
- ``transcribe``: audio -> pseudo ground-truth MIDI with basic-pitch or transkun
  (:mod:`datamodules.prepare.transcribe`);
- ``features``: music videos -> an MV100K-layout root (1-fps EfficientNet-Lite0 / optical-flow features, audio,
  videos.csv) (:mod:`datamodules.prepare.mv100k`);
- ``yt8m``: YouTube-8M frame-level shards -> ids, labels and YT8M features in an MV100K-layout root;
- ``embeddings``: an MV100K-layout root's audio -> one joint text-audio embedding per 10-s segment
  (``embeddings/<model>/<id>.npy``).

Every task writes each output atomically, skips outputs that exist (a killed run resumes where it stopped; pass
``overwrite=True`` to redo), shows a tqdm progress bar and ends with a per-file report; failures raise one
RuntimeError after the report (:mod:`datamodules.prepare.jobs`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from datamodules.prepare.jobs import Report

TASKS = ("keypoints", "transcribe", "features", "yt8m", "embeddings")


def run(task: str, src: Path, out: Path, **options: Any) -> Report:
    """Run preprocessing ``task`` from ``src`` (a file or folder) into ``out`` with the task's ``options``."""
    src, out = Path(src), Path(out)
    if task == "keypoints":
        from datamodules.prepare.keypoints import prepare_keypoints

        return prepare_keypoints(src, out, **options)
    if task == "transcribe":
        from datamodules.prepare.transcribe import prepare_transcriptions

        return prepare_transcriptions(src, out, **options)
    if task == "features":
        from datamodules.prepare.mv100k import prepare_features

        return prepare_features(src, out, **options)
    if task == "yt8m":
        from datamodules.prepare.mv100k import prepare_yt8m

        return prepare_yt8m(src, out, **options)
    if task == "embeddings":
        from datamodules.prepare.mv100k import prepare_embeddings

        return prepare_embeddings(src, out, **options)
    raise ValueError(f"unknown prepare task {task!r}; known: {', '.join(TASKS)}")


__all__ = ["TASKS", "run"]

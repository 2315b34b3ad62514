"""Synthetic music videos in the suite's MV100K layout (``datamodules/mv100k.py`` docstring; V2Meow §4.1).

Six genres (:mod:`datamodules.synthetic.genres`: classical, rock, electronic, jazz, hip hop, ambient) with their own
instrumentation, tempo range and mode; each video's music is a new piece of its genre, rendered with FluidSynth, and
its picture (:mod:`datamodules.synthetic.music_video`) takes palette and shapes from the genre, motion pace and cut
rate from the genre and the piece's tempo, and pulses on the beats. Written::

    videos.csv                     id,split,duration_s,labels + genre,tempo_bpm,key,instruments (extra columns
                                   come back in ``meta``); labels are empty: the YT8M vocabulary is not used
    audio/<id>.wav                 16-kHz mono PCM_16, t = 0 at the first video frame
    video/<id>.mp4                 H.264, 256 x 144, 12 fps, silent
    features/effnet_lite0/<id>.npy float32 [T, 1280], features/flow/<id>.npy float32 [T, 45]: 1 fps, T = duration_s,
                                   computed from video/<id>.mp4 by the suite's own extractors
                                   (:func:`datamodules.features.video_features`: EfficientNet-Lite0 ImageNet
                                   embeddings and Farneback optical-flow statistics), exactly what
                                   ``cli.py prepare --task features`` gives for these videos
    captions.csv                   MusicCaps' columns: one caption per video (genre, instruments, tempo, key, mood)
                                   for text control; audioset_positive_labels are the genre's AudioSet/Freebase ids
    SYNTHETIC.json                 synthetic: true and, per video, genre / tempo / key / cut times

Videos last whole seconds (>= 11 s, so 10-s clips fit) and genres are dealt round-robin, so every split sees several.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import soundfile as sf

from datamodules.synthetic import music_video
from datamodules.synthetic.genres import GENRES, compose
from datamodules.synthetic.ids import youtube_ids
from datamodules.synthetic.marker import write_marker
from music.synth import render

SAMPLE_RATE = 16000
FEATURE_KINDS = ("effnet_lite0", "flow")
MUSICCAPS_COLUMNS = (
    "ytid", "start_s", "end_s", "audioset_positive_labels", "aspect_list", "caption", "author_id",
    "is_balanced_subset", "is_audioset_eval",
)  # fmt: skip


def plan(minutes: float) -> tuple[int, int]:
    """(number of videos, whole seconds per video) for about ``minutes`` minutes in all (at least 3 videos)."""
    total = minutes * 60.0
    length = float(np.clip(total / 12.0, 11.0, 30.0))
    count = max(3, int(round(total / length)))
    return count, int(max(11, round(total / count)))


def splits(count: int) -> list[str]:
    """train / val / test for ``count`` videos: about 10 % each for val and test, at least one each."""
    n_val = n_test = max(1, int(round(0.1 * count)))
    return ["train"] * (count - n_val - n_test) + ["val"] * n_val + ["test"] * n_test


def write(out: Path, minutes: float, seed: int) -> Path:
    """Write a synthetic MV100K-layout dataset of about ``minutes`` minutes into ``out``; returns ``out``."""
    from datamodules.features import video_features

    root = Path(out)
    for sub in ("audio", "video", *(f"features/{k}" for k in FEATURE_KINDS)):
        (root / sub).mkdir(parents=True, exist_ok=True)
    count, seconds = plan(minutes)
    rng = np.random.default_rng(seed)
    names = list(GENRES)
    offset = int(rng.integers(len(names)))
    split_of = splits(count)
    # deal genres so that val and test (the last rows) get different genres too
    genres = [names[(offset + i) % len(names)] for i in range(count)]
    rows, captions, videos = [], [], []
    for i, vid in enumerate(youtube_ids(count, rng)):
        video_rng = np.random.default_rng(rng.integers(2**63))
        genre = GENRES[genres[i]]
        piece = compose(genre, float(seconds), video_rng)
        audio = render(piece.midi, sample_rate=SAMPLE_RATE)
        audio = np.pad(audio, (0, max(0, seconds * SAMPLE_RATE - len(audio))))[: seconds * SAMPLE_RATE]
        sf.write(str(root / "audio" / f"{vid}.wav"), audio, SAMPLE_RATE, subtype="PCM_16")
        frames, cuts = music_video.render(genre, piece.beats, piece.tempo, float(seconds), video_rng)
        mp4 = music_video.write_mp4(root / "video" / f"{vid}.mp4", frames)
        for kind, array in video_features(mp4, FEATURE_KINDS).items():
            np.save(root / "features" / kind / f"{vid}.npy", array.astype(np.float32))
        split = split_of[i]
        rows.append(
            {
                "id": vid,
                "split": split,
                "duration_s": seconds,
                "labels": "",
                "genre": genre.name,
                "tempo_bpm": int(round(piece.tempo)),
                "key": piece.key_name,
                "instruments": "; ".join(piece.instruments()),
            }
        )
        captions.append(
            {
                "ytid": vid,
                "start_s": 0,
                "end_s": seconds,
                "audioset_positive_labels": ",".join(genre.audioset),
                "aspect_list": repr(piece.aspects()),
                "caption": piece.caption(),
                "author_id": 0,
                "is_balanced_subset": True,
                "is_audioset_eval": split != "train",
            }
        )
        videos.append({"id": vid, "split": split, "genre": genre.name, "tempo_bpm": piece.tempo,
                       "key": piece.key_name, "cuts_s": [round(c, 3) for c in cuts]})  # fmt: skip
    with open(root / "videos.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with open(root / "captions.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(MUSICCAPS_COLUMNS))
        writer.writeheader()
        writer.writerows(captions)
    write_marker(
        root,
        "mv100k",
        minutes,
        seed,
        sample_rate=SAMPLE_RATE,
        video_fps=music_video.FPS,
        video_size=list(music_video.SIZE),
        features="datamodules.features.video_features on video/<id>.mp4 (EfficientNet-Lite0 ImageNet, Farneback flow)",
        genres=sorted(GENRES),
        videos=videos,
    )
    return root

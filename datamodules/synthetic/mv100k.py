"""Synthetic music videos in the suite's MV100K layout (``datamodules/mv100k.py`` docstring; V2Meow §4.1).

Six genres (:mod:`datamodules.synthetic.genres`: classical, rock, electronic, jazz, hip hop, ambient) with their own
instrumentation, tempo range and mode; each video's music is a new piece of its genre, rendered with FluidSynth, and
its picture (:mod:`datamodules.synthetic.music_video`) takes palette and shapes from the genre, motion pace and cut
rate from the genre and the piece's tempo, and pulses on the beats. Each piece runs through an energy arc of three
sections (quiet: no drums, soft and sparse; medium; full), which the picture shows by its brightness, shape count and
pace. The piece's lead instrument is one of its genre's two or three (:attr:`Genre.leads`), drawn from a random stream
of its own, so the picture carries no trace of it: what the video tells is genre, tempo and energy, not the lead.
Written::

    videos.csv                     id,split,duration_s,labels + genre,tempo_bpm,key,instruments,lead,arc,energy
                                   (extra columns come back in ``meta``; ``energy``: the level 0/1/2 of every
                                   second, space-separated); labels are empty: the YT8M vocabulary is not used
    audio/<id>.wav                 16-kHz mono PCM_16, t = 0 at the first video frame
    video/<id>.mp4                 H.264, 256 x 144, 12 fps, silent
    features/effnet_lite0/<id>.npy float32 [T, 1280], features/flow/<id>.npy float32 [T, 45],
    features/effnet_tokens/<id>.npy int16 [T, 49] (ids < 8192): 1 fps, T = duration_s, computed from
                                   video/<id>.mp4 by the suite's own extractors
                                   (:func:`datamodules.features.video_features`: EfficientNet-Lite0 ImageNet
                                   embeddings, Farneback optical-flow statistics, quantised EfficientNet patches),
                                   exactly what ``cli.py prepare --task features`` gives for these videos
    captions.csv                   MusicCaps' columns: one caption per video naming genre, lead and other
                                   instruments, bpm, key, mood and energy arc, for text control;
                                   audioset_positive_labels are the genre's AudioSet/Freebase ids
    SYNTHETIC.json                 synthetic: true and, per video, genre / tempo / key / lead / arc / per-second
                                   energy / energy sections / cut times

Videos last whole seconds (>= 11 s, so 10-s clips fit) and genres are dealt round-robin. Splits are stratified by
genre when every genre has at least three videos (>= 18 videos): per genre about 20 % and at least two videos are
held out, alternately val and test (so each genre has both); smaller datasets take the last rows as val and test.
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
FEATURE_KINDS = ("effnet_lite0", "flow", "effnet_tokens")
TOKEN_KINDS = ("effnet_tokens",)
MUSICCAPS_COLUMNS = (
    "ytid", "start_s", "end_s", "audioset_positive_labels", "aspect_list", "caption", "author_id",
    "is_balanced_subset", "is_audioset_eval",
)  # fmt: skip


def plan(minutes: float) -> tuple[int, int]:
    """(number of videos, whole seconds per video) for about ``minutes`` minutes in all (at least 3 videos): about 24
    videos of 11 to 30 s, more of 30 s for larger sizes (so that from about 3.5 minutes every genre has the three
    videos a stratified split needs)."""
    total = minutes * 60.0
    length = float(np.clip(total / 24.0, 11.0, 30.0))
    count = max(3, int(round(total / length)))
    return count, int(max(11, round(total / count)))


def splits(count: int) -> list[str]:
    """train / val / test for ``count`` videos: about 10 % each for val and test, at least one each."""
    n_val = n_test = max(1, int(round(0.1 * count)))
    return ["train"] * (count - n_val - n_test) + ["val"] * n_val + ["test"] * n_test


def stratified_splits(genres: list[str]) -> list[str]:
    """train / val / test of videos whose genres are ``genres``: per genre, about 20 % and at least two videos held
    out (its last ones, alternately val and test), when every genre has >= 3 videos; else :func:`splits`."""
    counts = {g: genres.count(g) for g in genres}
    if min(counts.values()) < 3:
        return splits(len(genres))
    held = {g: min(n - 1, max(2, int(round(0.2 * n)))) for g, n in counts.items()}
    seen = dict.fromkeys(counts, 0)
    out = []
    for genre in genres:
        k = seen[genre] - (counts[genre] - held[genre])  # >= 0 for the held-out ones
        out.append("train" if k < 0 else ("val", "test")[k % 2])
        seen[genre] += 1
    return out


def write(out: Path, minutes: float, seed: int) -> Path:
    """Write a synthetic MV100K-layout dataset of about ``minutes`` minutes into ``out``; returns ``out``."""
    from datamodules.features import video_features
    from datamodules.features.effnet_tokens import TOKEN_DTYPE

    root = Path(out)
    for sub in ("audio", "video", *(f"features/{k}" for k in FEATURE_KINDS)):
        (root / sub).mkdir(parents=True, exist_ok=True)
    count, seconds = plan(minutes)
    rng = np.random.default_rng(seed)
    names = list(GENRES)
    offset = int(rng.integers(len(names)))
    # deal genres so that val and test (the last rows) get different genres too
    genres = [names[(offset + i) % len(names)] for i in range(count)]
    split_of = stratified_splits(genres)
    rows, captions, videos = [], [], []
    for i, vid in enumerate(youtube_ids(count, rng)):
        video_rng = np.random.default_rng(rng.integers(2**63))
        lead_rng = np.random.default_rng(rng.integers(2**63))  # its own stream: the picture never sees the lead
        genre = GENRES[genres[i]]
        lead = genre.leads[int(lead_rng.integers(len(genre.leads)))]
        piece = compose(genre, float(seconds), video_rng, lead=lead)
        energy = piece.energy()
        audio = render(piece.midi, sample_rate=SAMPLE_RATE)
        audio = np.pad(audio, (0, max(0, seconds * SAMPLE_RATE - len(audio))))[: seconds * SAMPLE_RATE]
        sf.write(str(root / "audio" / f"{vid}.wav"), audio, SAMPLE_RATE, subtype="PCM_16")
        frames, cuts = music_video.render(genre, piece.beats, piece.tempo, float(seconds), video_rng, energy=energy)
        mp4 = music_video.write_mp4(root / "video" / f"{vid}.mp4", frames)
        for kind, array in video_features(mp4, FEATURE_KINDS).items():
            dtype = TOKEN_DTYPE if kind in TOKEN_KINDS else np.float32
            np.save(root / "features" / kind / f"{vid}.npy", np.asarray(array).astype(dtype))
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
                "lead": piece.lead_words,
                "arc": piece.arc,
                "energy": " ".join(map(str, energy.tolist())),
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
                       "key": piece.key_name, "lead": piece.lead_words, "lead_program": int(piece.lead[0]),
                       "arc": piece.arc, "energy": energy.tolist(),
                       "sections_s": [[round(a, 3), round(b, 3), int(lv)] for a, b, lv in piece.sections],
                       "cuts_s": [round(c, 3) for c in cuts]})  # fmt: skip
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
        features="datamodules.features.video_features on video/<id>.mp4 (EfficientNet-Lite0 ImageNet, Farneback flow, "
        "effnet_tokens)",
        genres=sorted(GENRES),
        leads={name: [words for _, words in genre.leads] for name, genre in sorted(GENRES.items())},
        energy_levels={"0": "quiet: no drums, soft, sparse", "1": "medium", "2": "full"},
        videos=videos,
    )
    return root

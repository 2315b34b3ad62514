"""Synthetic MUSIC / MUSIC21 (docs/DATASETS.md §2): solo videos of 12 MUSIC categories (Foley Music's eight plus flute,
clarinet, saxophone, trumpet), one corpus voice each.

Writes the id lists ``MUSIC21_solo_videos.json`` (version 2.0, every category) and ``MUSIC_solo_videos.json``
(version 1.0, the MUSIC-11 categories only), the Sound-of-Pixels layout ``audio/<cat>/<ytid>.wav`` (mono 22.05 kHz),
``frames/<cat>/<ytid>.mp4/000001.jpg ...`` (8 fps, frame i centred at (i - 0.5) / 8 s), ``train.csv`` / ``val.csv``
(no header: ``audio_path,frame_path,n_frames``, random 80/20), the raw ``videos/<cat>/<ytid>.mp4`` (25 fps stick figure
with sound), Foley Music's ``pose/<cat>/<ytid>.npy`` (``[T, 3, 65, 1]`` body65 at 22 fps, pixels of the video) and
``midi_sw/<cat>/<ytid>.mid``, and ``SYNTHETIC.json``.
"""

from __future__ import annotations

import csv
import json
import zlib
from pathlib import Path

import cv2
import numpy as np
import soundfile as sf

from datamodules.layouts import convert
from datamodules.synthetic import repertoire
from datamodules.synthetic.ids import youtube_ids
from datamodules.synthetic.instruments import MUSIC11, MUSIC_CATEGORIES, get
from datamodules.synthetic.marker import write_marker
from datamodules.synthetic.recording import record, solo_plan

VIDEO_FPS = 25.0
FRAME_FPS = 8.0  # Sound of Pixels' extracted frames
POSE_FPS = 22.0  # Foley Music's pose files
SAMPLE_RATE = 22050
VIDEO_SIZE = (320, 180)


def write(out: Path, minutes: float, seed: int) -> Path:
    """Write a synthetic MUSIC dataset of about ``minutes`` minutes to ``out``; returns ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, zlib.crc32(b"music")])
    categories, seconds = solo_plan(sorted(MUSIC_CATEGORIES), minutes, 5, rng)  # each category once from 1.4 min
    ids = youtube_ids(len(categories), rng)
    videos: dict[str, list[str]] = {}
    rows, recordings = [], []
    for item, (category, ytid) in enumerate(zip(categories, ids)):
        key = MUSIC_CATEGORIES[category]
        work = repertoire.pick_work(rng, item, minutes > 1.0)
        take = record(work, [key], seconds, rng, SAMPLE_RATE, VIDEO_FPS, VIDEO_SIZE)
        for folder in ("audio", "videos", "pose", "midi_sw"):
            (out / folder / category).mkdir(parents=True, exist_ok=True)
        audio = out / "audio" / category / f"{ytid}.wav"
        sf.write(audio, take.mix, SAMPLE_RATE, subtype="PCM_16")
        take.write_video(out / "videos" / category / f"{ytid}.mp4")
        frame_dir = out / "frames" / category / f"{ytid}.mp4"
        frame_dir.mkdir(parents=True, exist_ok=True)
        n_frames = int(take.duration * FRAME_FPS)
        every = VIDEO_FPS / FRAME_FPS
        for i, frame in enumerate(take.frames(every=every, offset=0.5), start=1):
            if i > n_frames:
                break
            cv2.imwrite(str(frame_dir / f"{i:06d}.jpg"), frame[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])
        n_frames = min(n_frames, len(list(frame_dir.glob("*.jpg"))))
        pose = convert(take.keypoints(0, POSE_FPS, rng), "openpose67", "body65")
        np.save(out / "pose" / category / f"{ytid}.npy", pose.transpose(0, 2, 1)[..., None].astype(np.float32))
        midi = repertoire.to_pretty_midi(take.excerpt.parts, [get(key).program])
        midi.write(str(out / "midi_sw" / category / f"{ytid}.mid"))
        videos.setdefault(category, []).append(ytid)
        rows.append((f"audio/{category}/{ytid}.wav", f"frames/{category}/{ytid}.mp4", n_frames))
        recordings.append(
            {"ytid": ytid, "category": category, "work": work, "tempo_scale": round(take.excerpt.tempo_scale, 4),
             "transpose": take.excerpt.transpose}
        )  # fmt: skip
    order = rng.permutation(len(rows))
    n_val = max(1, int(round(0.2 * len(rows))))
    for name, chosen in (("val", order[:n_val]), ("train", order[n_val:])):
        with open(out / f"{name}.csv", "w", newline="") as handle:
            csv.writer(handle).writerows(rows[k] for k in sorted(chosen))
    (out / "MUSIC21_solo_videos.json").write_text(json.dumps({"version": 2.0, "videos": videos}, indent=1))
    music11 = {category: ids for category, ids in videos.items() if category in MUSIC11}
    (out / "MUSIC_solo_videos.json").write_text(json.dumps({"version": 1.0, "videos": music11}, indent=1))
    write_marker(
        out,
        "music",
        minutes,
        seed,
        note="SYNTHETIC MUSIC: music21-corpus voices rendered with FluidSynth; keypoints and stick-figure video "
        "derived from the notes by rules (datamodules/synthetic/performer.py). Not a real recording.",
        sample_rate=SAMPLE_RATE,
        video_fps=VIDEO_FPS,
        frame_fps=FRAME_FPS,
        pose_fps=POSE_FPS,
        pose_layout="body65",
        recordings=recordings,
    )
    return out


__all__ = ["FRAME_FPS", "POSE_FPS", "SAMPLE_RATE", "VIDEO_FPS", "write"]

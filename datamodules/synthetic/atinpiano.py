"""Synthetic AtinPiano data in the form Foley Music released it (docs/DATASETS.md §4).

Each "video" is an excerpt of real piano music (:mod:`datamodules.synthetic.piano_pieces`) played by the two
rule-driven hands of :mod:`datamodules.synthetic.hands` (the same hand model that the Audeo keyboard renderer draws),
seen by a top-view camera of a 1280 x 720 video: the keyboard spans most of the frame width, the player sits at the
bottom. Written::

    pose/<ytid>.npy     float32 [T, 2, 42, 1] at 22 fps (Foley's AtinPiano rate): x, y in pixels of the 1280 x 720
                        frame; keypoints 0-20 the left hand, 21-41 the right hand (OpenPose hand order); a hand the
                        "detector" missed in a frame is all zeros, as OpenPose writes it
    midi/<ytid>.midi    the performance (tracks "Right hand", "Left hand"; GM piano), t = 0 at pose frame 0
    audio/<ytid>.wav    22.05-kHz PCM_16 FluidSynth rendering (not in Foley's release; for listening and audio fields)
    train.csv, val.csv  header vid,start_time,duration: one row per video (start 0, its whole length)
    SYNTHETIC.json      synthetic: true and the corpus source of every ytid

Per video the camera differs a little (scale, position, roll); per frame it shakes slightly and every keypoint gets
detector noise. ``ytid`` values are made-up 11-character YouTube-style ids (:mod:`datamodules.synthetic.ids`; some
start with ``_``, a real gotcha).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import soundfile as sf

from datamodules.synthetic import hands, keyboard, piano_pieces
from datamodules.synthetic.ids import youtube_ids
from datamodules.synthetic.keyboard import smooth_walk
from datamodules.synthetic.marker import write_marker
from music.roll import midi_to_roll
from music.synth import render

POSE_FPS = 22.0
SAMPLE_RATE = 22050
FRAME_SIZE = (1280, 720)  # width, height
TAIL_S = 0.4
MISS_RATE = 0.01  # chance per frame and hand that the hand detector misses it


def plan(minutes: float) -> tuple[int, int, float]:
    """(train videos, val videos, seconds per video) for about ``minutes`` minutes; >= 8 s each (a clip is 6 s)."""
    total = minutes * 60.0
    length = float(np.clip(total / 8.0, 8.0, 60.0))
    count = max(2, int(round(total / length)))
    length = max(total / count, 8.0)
    val = max(1, int(round(count * 13 / 122)))  # Foley's lists: 109 train, 13 val
    return count - val, val, length


def camera(rng: np.random.Generator, frames: int) -> tuple[keyboard.View, np.ndarray, float]:
    """A video's view of the keyboard (pixels), its per-frame shake [T, 2] (px) and its roll angle (radians)."""
    width, height = FRAME_SIZE
    span = width * rng.uniform(0.86, 0.95)
    sx = span / keyboard.N_WHITE
    sy = sx * 150.0 / 23.5  # a white key is 23.5 mm wide, 150 mm long
    x0 = (width - span) / 2 + rng.uniform(-25, 25)
    y0 = height * rng.uniform(0.36, 0.44)
    shake = np.stack([smooth_walk(rng, frames, 0.8, 5), smooth_walk(rng, frames, 0.6, 5)], axis=1)
    return keyboard.View(width, height, x0, y0, sx, sy), shake, float(rng.normal(0.0, 0.012))


def pose_array(points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Hand keypoints [T, 2 hands, 21, 2] in keyboard units -> Foley's pose array float32 [T, 2, 42, 1] in pixels."""
    frames = len(points)
    view, shake, angle = camera(rng, frames)
    px = view.to_pixels(points.reshape(frames, 42, 2))
    centre = np.array(FRAME_SIZE, dtype=np.float64) / 2
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    px = (px - centre) @ rotation.T + centre + shake[:, None, :]
    px += rng.normal(0.0, 1.2, px.shape)
    missed = rng.random((frames, 2)) < MISS_RATE
    px = px.reshape(frames, 2, 21, 2)
    px[missed] = 0.0
    return np.ascontiguousarray(px.reshape(frames, 42, 2).transpose(0, 2, 1)[..., None]).astype(np.float32)


def _write_video(root: Path, ytid: str, excerpt: piano_pieces.Excerpt, rng: np.random.Generator) -> tuple[float, dict]:
    frames = int(np.ceil((excerpt.duration + TAIL_S) * POSE_FPS))
    right = midi_to_roll(excerpt.hand("right"), POSE_FPS, frames=frames, binary=True).T > 0
    left = midi_to_roll(excerpt.hand("left"), POSE_FPS, frames=frames, binary=True).T > 0
    points, _ = hands.play_both(left, right, POSE_FPS, rng)
    np.save(root / "pose" / f"{ytid}.npy", pose_array(points, rng))
    excerpt.midi.write(str(root / "midi" / f"{ytid}.midi"))
    audio = render(excerpt.midi, sample_rate=SAMPLE_RATE)
    sf.write(str(root / "audio" / f"{ytid}.wav"), audio, SAMPLE_RATE, subtype="PCM_16")
    duration = frames / POSE_FPS
    return duration, {"vid": ytid, "pose_frames": frames, **excerpt.meta()}


def write(out: Path, minutes: float, seed: int) -> Path:
    """Write a synthetic AtinPiano dataset of about ``minutes`` minutes of music into ``out``; returns ``out``."""
    root = Path(out)
    for sub in ("pose", "midi", "audio"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    n_train, n_val, seconds = plan(minutes)
    rng = np.random.default_rng(seed)
    pool = piano_pieces.works(minutes)
    ids = iter(youtube_ids(n_train + n_val, rng))
    videos = []
    for split, count in (("train", n_train), ("val", n_val)):
        rows = []
        for _ in range(count):
            video_rng = np.random.default_rng(rng.integers(2**63))
            ytid = next(ids)
            excerpt = piano_pieces.performance(pool, seconds, video_rng)
            duration, meta = _write_video(root, ytid, excerpt, video_rng)
            rows.append((ytid, 0.0, duration))
            videos.append({"split": split, **meta})
        with open(root / f"{split}.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["vid", "start_time", "duration"])
            writer.writerows((vid, f"{start:.1f}", repr(duration)) for vid, start, duration in rows)
    write_marker(
        root,
        "atinpiano",
        minutes,
        seed,
        pose_fps=POSE_FPS,
        sample_rate=SAMPLE_RATE,
        frame_size=list(FRAME_SIZE),
        pose_layout="hands42: 0-20 left hand, 21-41 right hand (OpenPose hand order), x/y pixels, zeros = missed",
        videos=videos,
    )
    return root

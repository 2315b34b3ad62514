"""Synthetic AIST++ (docs/DATASETS.md §8): dancers whose bounces, steps and arm hits fall on the beats of generated
dance music (drum groove + bass/piano on chorale harmony, 80-140 bpm), seen by 9 cameras.

Writes ``keypoints2d/<seq>.pkl`` (``keypoints2d`` float32 ``(9, N, 17, 3)`` COCO-17 pixels of a 1920x1080 canvas at
60 fps, NaN where the "detector" missed a joint; ``det_scores`` ``(9, N)``; ``timestamps`` ``(N,)`` in seconds),
``keypoints3d/<seq>.pkl`` (``keypoints3d`` / ``keypoints3d_optim`` ``(N, 17, 3)``, centimetres),
``cameras/setting1.json`` + ``cameras/mapping.txt``, ``splits/{crossmodal,pose}_{train,val,test}.txt``,
``ignore_list.txt``, the music ``music/m{GEN}{k}.wav`` (mono 44.1 kHz), a stick-figure video of camera c01 per
sequence ``videos/<seq with c01>.mp4`` (60 fps, small, with the music), each piece's MIDI ``midi/m{GEN}{k}.mid``
(drums, bass, piano: what the wav renders; not part of the real AIST++) and ``SYNTHETIC.json`` (with each piece's exact
bpm, beat and downbeat times and the times of its fills' hits, where the dancer punches: its sharpest moves).
"""

from __future__ import annotations

import json
import pickle
import zlib
from pathlib import Path

import cv2
import numpy as np
import soundfile as sf

from datamodules.synthetic import cameras, detector, stick_video
from datamodules.synthetic.dance_music import compose
from datamodules.synthetic.dancer import FPS, dance
from datamodules.synthetic.marker import write_marker
from datamodules.synthetic.repertoire import CHORALES

GENRES = ("BR", "PO", "LO", "MH", "LH", "HO", "WA", "KR", "JS", "JB")
SAMPLE_RATE = 44100
VIDEO_SIZE = (320, 180)
BPM_RANGE = (80.0, 140.0)


def camera_json(ring: list[cameras.Camera]) -> list[dict]:
    """The AIST++ ``cameras/setting*.json`` form: name, size, matrix, distortions, Rodrigues rotation, translation
    (centimetres, as the AIST++ 3-D keypoints)."""
    return [
        {
            "name": cam.name,
            "size": list(cam.size),
            "matrix": cam.matrix.tolist(),
            "distortions": [0.0, 0.0, 0.0, 0.0, 0.0],
            "rotation": cv2.Rodrigues(cam.rotation)[0].reshape(-1).tolist(),
            "translation": (cam.translation * 100.0).tolist(),
        }
        for cam in ring
    ]


def observe_views(joints: np.ndarray, ring: list[cameras.Camera], rng: np.random.Generator):
    """``keypoints2d`` ``(views, N, 17, 3)`` with NaN for missed joints, and ``det_scores`` ``(views, N)``."""
    views, scores = [], []
    for cam in ring:
        pixels, depth = cam.project(joints)
        scale = float(np.median(cam.matrix[0, 0] * 0.5 / depth))  # ~ shoulder-to-hip length in pixels
        seen = detector.observe(pixels, rng, scale, miss_rate=0.003)
        seen[seen[..., 2] == 0] = np.nan
        views.append(seen)
        scores.append(np.clip(rng.normal(0.93, 0.03, len(joints)), 0.5, 1.0))
    return np.stack(views).astype(np.float32), np.stack(scores).astype(np.float32)


def write_video(path: Path, keypoints2d: np.ndarray, canvas: tuple[int, int], audio: np.ndarray) -> None:
    """Stick figure of one view (keypoints scaled from ``canvas`` to :data:`VIDEO_SIZE`) with the music."""
    from datamodules.mux import mux_audio

    factor = VIDEO_SIZE[0] / canvas[0]
    points = np.nan_to_num(keypoints2d[..., :2]) * factor
    frames = (stick_video.draw_frame(VIDEO_SIZE, [p], "coco17", thickness=1) for p in points)
    silent = path.with_name(f".{path.stem}.silent.mp4")
    stick_video.write_mp4(silent, frames, FPS, VIDEO_SIZE)
    try:
        mux_audio(silent, audio[: int(len(points) / FPS * SAMPLE_RATE)], SAMPLE_RATE, path)
    finally:
        silent.unlink(missing_ok=True)


def write(out: Path, minutes: float, seed: int) -> Path:
    """Write a synthetic AIST++ dataset of about ``minutes`` minutes of dance to ``out``; returns ``out``."""
    out = Path(out)
    rng = np.random.default_rng([seed, zlib.crc32(b"aistpp")])
    total = minutes * 60.0
    seconds = float(np.clip(total / 6, 8.0, max(30.0, total / 60)))  # <= 60 sequences: 6 pieces x 10 genres
    count = max(3, int(round(total / seconds)))
    for folder in ("keypoints2d", "keypoints3d", "cameras", "splits", "music", "midi", "videos"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    ring = cameras.ring()
    (out / "cameras" / "setting1.json").write_text(json.dumps(camera_json(ring), indent=1))
    genres = [GENRES[k] for k in rng.permutation(len(GENRES))]
    used: dict[str, int] = {}
    names, pieces, sequences, mapping = [], {}, [], []
    roles = ["train"] * (count - 2) + ["val", "test"]
    for index in range(count):
        genre = genres[index % len(genres)]
        k = used.get(genre, 0)
        used[genre] = k + 1
        piece = f"m{genre}{k % 6}"
        role = roles[index]
        dancer = int(rng.choice([d for d in range(1, 31) if (d % 3 == 0) == (role == "test")]))
        situation = "sBM" if role != "train" or rng.random() < 0.7 else "sFM"
        seq = f"g{genre}_{situation}_cAll_d{dancer:02d}_{piece}_ch{index + 1:02d}"
        bpm = float(rng.uniform(*BPM_RANGE))
        work = CHORALES[int(rng.integers(len(CHORALES)))]
        music = compose(genre, bpm, seconds, work, rng, SAMPLE_RATE)
        sf.write(out / "music" / f"{piece}.wav", music.audio, SAMPLE_RATE, subtype="PCM_16")
        music.midi.write(str(out / "midi" / f"{piece}.mid"))
        duration = len(music.beats) * 60.0 / bpm
        moves = dance(genre, music.beats, duration, rng, fills=music.drums.fill_times())
        keypoints2d, det_scores = observe_views(moves.joints, ring, rng)
        frames = keypoints2d.shape[1]
        with open(out / "keypoints2d" / f"{seq}.pkl", "wb") as handle:
            pickle.dump(
                {"keypoints2d": keypoints2d, "det_scores": det_scores, "timestamps": np.arange(frames) / FPS}, handle
            )
        centimetres = (moves.joints * 100.0).astype(np.float32)
        with open(out / "keypoints3d" / f"{seq}.pkl", "wb") as handle:
            pickle.dump({"keypoints3d": centimetres, "keypoints3d_optim": centimetres.copy()}, handle)
        video = out / "videos" / f"{seq.replace('_cAll_', '_c01_')}.mp4"
        write_video(video, keypoints2d[0], ring[0].size, music.audio)
        mapping.append(f"{seq} setting1")
        names.append((seq, role))
        pieces[piece] = {
            "bpm": round(bpm, 4),
            "work": work,
            "beats": np.round(music.beats, 5).tolist(),
            "downbeats": np.round(music.downbeats, 5).tolist(),
            "fill_times": np.round(music.drums.fill_times(), 5).tolist(),
        }
        sequences.append({"name": seq, "genre": genre, "music": piece, "split": role, "frames": frames})
    (out / "cameras" / "mapping.txt").write_text("".join(f"{line}\n" for line in mapping))
    for split_set in ("crossmodal", "pose"):
        for role in ("train", "val", "test"):
            lines = [seq for seq, r in names if r == role]
            (out / "splits" / f"{split_set}_{role}.txt").write_text("".join(f"{line}\n" for line in lines))
    (out / "ignore_list.txt").write_text("")
    write_marker(
        out,
        "aistpp",
        minutes,
        seed,
        note="SYNTHETIC AIST++: generated dance music (drum grooves + bass/piano on music21 chorale harmony, "
        "FluidSynth) and rule-driven dancers whose bounces fall on the beats (datamodules/synthetic/dancer.py). "
        "Not a real recording.",
        fps=FPS,
        sample_rate=SAMPLE_RATE,
        canvas=list(ring[0].size),
        beats="exact beat times per music piece below (seconds from the start of the wav and of the sequence)",
        midi="midi/m{GEN}{k}.mid: the MIDI each music piece was rendered from (drums on the GM drum channel)",
        pieces=pieces,
        sequences=sequences,
    )
    return out


__all__ = ["GENRES", "SAMPLE_RATE", "write"]

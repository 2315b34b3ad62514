"""Synthetic Solos (docs/DATASETS.md §3): solo recordings of the 13 Solos categories, one corpus voice each.

Writes ``solos_ids.json``, ``solos_timestamps.json`` (``[first, last]`` frame segments at 25 fps, both included),
the skeleton release ``skeleton.npy`` (a RAW float32 memmap ``(N, 3, 47)``, no .npy header, pixels of the video) +
``skeleton_dict.json`` (``{ytid: [start, stop), "_counter": N}``; some ids start with ``_``), the "downloaded" videos
``videos/<Category>/<ytid>.mp4`` (25 fps stick figure with sound), the extracted audio ``audio/<Category>/<ytid>.wav``
(mono 16 kHz, as the Solos dev scripts make it), pseudo ground-truth ``midi/<Category>/<ytid>.mid`` (what ``prepare
--task transcribe`` would write) and ``SYNTHETIC.json``.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import soundfile as sf

from datamodules.layouts import convert
from datamodules.synthetic import repertoire
from datamodules.synthetic.ids import youtube_ids
from datamodules.synthetic.instruments import SOLOS_CATEGORIES, get
from datamodules.synthetic.marker import write_marker
from datamodules.synthetic.recording import record, solo_plan

FPS = 25.0
SAMPLE_RATE = 16000
VIDEO_SIZE = (320, 180)


def generator(seed: int) -> np.random.Generator:
    """The random generator a dataset of ``seed`` is written with (its first draws are :func:`plan`'s, then the
    ids')."""
    return np.random.default_rng([seed, zlib.crc32(b"solos")])


def plan(minutes: float, rng: np.random.Generator) -> tuple[list[str], float]:
    """Categories of the recordings (cycling through all 13 in random order) and the length of each."""
    return solo_plan(list(SOLOS_CATEGORIES), minutes, 4, rng)  # all 13 categories from 1.5 min; >= 151 frames (6 s)


def write(out: Path, minutes: float, seed: int) -> Path:
    """Write a synthetic Solos dataset of about ``minutes`` minutes to ``out``; returns ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = generator(seed)
    categories, seconds = plan(minutes, rng)
    ids = youtube_ids(len(categories), rng)
    id_lists: dict[str, list[str]] = {category: [] for category in SOLOS_CATEGORIES}
    stamps: dict[str, dict[str, list[list[int]]]] = {category: {} for category in SOLOS_CATEGORIES}
    index: dict[str, list[int]] = {}
    skeletons, recordings, counter = [], [], 0
    for item, (category, ytid) in enumerate(zip(categories, ids)):
        key = SOLOS_CATEGORIES[category]
        work = repertoire.pick_work(rng, item, minutes > 1.0)
        take = record(work, [key], seconds, rng, SAMPLE_RATE, FPS, VIDEO_SIZE)
        keypoints = convert(take.keypoints(0, FPS, rng), "openpose67", "solos47")  # [T, 47, 3]
        frames = len(keypoints)
        skeletons.append(keypoints.transpose(0, 2, 1))
        index[ytid] = [counter, counter + frames]
        counter += frames
        id_lists[category].append(ytid)
        stamps[category][ytid] = [[0, frames - 1]]  # [first, last], both included, as the Solos tools write
        for folder in ("audio", "videos", "midi"):
            (out / folder / category).mkdir(parents=True, exist_ok=True)
        sf.write(out / "audio" / category / f"{ytid}.wav", take.mix, SAMPLE_RATE, subtype="PCM_16")
        take.write_video(out / "videos" / category / f"{ytid}.mp4")
        midi = repertoire.to_pretty_midi(take.excerpt.parts, [get(key).program])
        midi.write(str(out / "midi" / category / f"{ytid}.mid"))
        recordings.append(
            {
                "ytid": ytid,
                "category": category,
                "work": work,
                "tempo_scale": round(take.excerpt.tempo_scale, 4),
                "transpose": take.excerpt.transpose,
                "frames": frames,
            }
        )
    memmap = np.memmap(out / "skeleton.npy", dtype=np.float32, mode="w+", shape=(counter, 3, 47))
    memmap[:] = np.concatenate(skeletons).astype(np.float32)
    memmap.flush()
    del memmap
    (out / "skeleton_dict.json").write_text(json.dumps({**index, "_counter": counter}))
    (out / "solos_ids.json").write_text(json.dumps(id_lists, indent=1))
    (out / "solos_timestamps.json").write_text(json.dumps(stamps))
    write_marker(
        out,
        "solos",
        minutes,
        seed,
        note="SYNTHETIC Solos: music21-corpus voices rendered with FluidSynth; skeletons and stick-figure video "
        "derived from the notes by rules (datamodules/synthetic/performer.py). Not a real recording.",
        fps=FPS,
        sample_rate=SAMPLE_RATE,
        skeleton_layout="solos47",
        timestamps="[first_frame, last_frame] at 25 fps, both included",
        recordings=recordings,
    )
    return out


__all__ = ["FPS", "SAMPLE_RATE", "generator", "plan", "write"]

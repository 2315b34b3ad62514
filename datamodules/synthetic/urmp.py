"""Synthetic URMP (docs/DATASETS.md §1): duets to quintets of the 13 URMP instruments playing corpus excerpts.

Per piece folder ``NN_Name_inst_inst...``: ``AuMix_*`` and ``AuSep_*`` (mono 48 kHz PCM_24), ``Notes_*`` (onset,
mean F0 in Hz with a few cents of intonation, duration), ``F0s_*`` (10 ms hop, vibrato on strings and winds, 0 when
silent), the score ``Sco_*.mid`` (one track per part), ``Vid_*.mp4`` (stick-figure ensemble at 29.97 fps with the
mixture as soundtrack); plus Foley Music's released forms ``pose/<inst>/PoseSep_{k}_{inst}_{NN}_{Piece}.npy``
(``[T, 3, 65, 1]`` body65 at 22 fps, pixels of ``Vid``) and ``midi/<inst>/ScoSep_*.mid``; ``Supplementary_Files/``;
``SYNTHETIC.json``.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import soundfile as sf

from datamodules.layouts import convert
from datamodules.synthetic import repertoire
from datamodules.synthetic.instruments import URMP_KEYS, get
from datamodules.synthetic.marker import write_marker
from datamodules.synthetic.recording import record

SAMPLE_RATE = 48000
VIDEO_FPS = 30000 / 1001
POSE_FPS = 22.0  # Foley Music's pose files
F0_HOP = 0.01
VIDEO_SIZE = (480, 270)
NAMES = (
    "Aria", "Bourree", "Canon", "Dirge", "Elegy", "Fantasia", "Gavotte", "Hymn", "Invention", "Jig", "Lament",
    "Minuet", "Nocturne", "Ode", "Pastorale", "Rondo", "Sarabande", "Toccata", "Vesper", "Waltz", "Chaconne",
    "Ballade", "Cantilena", "Elegie", "Intermezzo", "Madrigal", "Passacaglia", "Romance", "Serenade", "Tarantella",
)  # fmt: skip
VIBRATO = {"bowed": 18.0, "woodwind": 8.0, "brass": 6.0}  # cents


def ensembles(count: int, rng: np.random.Generator) -> list[list[str]]:
    """``count`` line-ups of 2-5 URMP instruments that together use all 13 (once ``count`` allows), violins most."""
    pool = list(URMP_KEYS)
    rng.shuffle(pool)
    lineups = []
    for _ in range(count):
        size = int(rng.choice([2, 3, 3, 4, 4, 5]))
        lineup = [pool.pop() for _ in range(min(size - 1, len(pool)))]
        if not pool:
            pool = list(URMP_KEYS)
            rng.shuffle(pool)
        lineup.insert(0, "vn")  # URMP: violin is the most common part (34 of 149 tracks)
        while len(lineup) < size:
            lineup.append(str(rng.choice(URMP_KEYS)))
        lineups.append(lineup)
    return lineups


def generator(seed: int) -> np.random.Generator:
    """The random generator a dataset of ``seed`` is written with (its first draws are :func:`plan`'s)."""
    return np.random.default_rng([seed, zlib.crc32(b"urmp")])


def plan(minutes: float, rng: np.random.Generator) -> tuple[float, list[list[str]]]:
    """The length of each piece and the line-up of each piece of a ``minutes``-minute dataset (``rng`` from
    :func:`generator`; the writer draws these first, so the line-ups are known without writing anything)."""
    total = minutes * 60.0
    piece_seconds = float(np.clip(total / 6, 7.0, 40.0))
    count = max(2, int(round(total / piece_seconds)))
    return piece_seconds, ensembles(count, rng)


def piece_name(index: int) -> str:
    """The name of piece ``index`` (0-based): Aria, Bourree, ..., then AriaBis, ..."""
    return NAMES[index % len(NAMES)] + ("" if index < len(NAMES) else "Bis" * (index // len(NAMES)))


def write_notes(path: Path, notes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``Notes_*.txt``: ``onset  pitch_Hz  duration`` per line; the pitch is the note's mean F0 (a few cents off)."""
    cents = rng.normal(0.0, 4.0, len(notes))
    hz = 440.0 * 2.0 ** ((notes[:, 2] - 69 + cents / 100) / 12)
    rows = np.stack([notes[:, 0], hz, notes[:, 1] - notes[:, 0]], axis=1)
    np.savetxt(path, rows, fmt=["%.3f", "%.2f", "%.3f"], delimiter="\t")
    return hz


def write_f0(path: Path, notes: np.ndarray, hz: np.ndarray, duration: float, family: str, rng: np.random.Generator):
    """``F0s_*.txt``: ``time  f0_Hz`` every 10 ms, f0 = 0 when unvoiced; vibrato after the first 0.2 s of a note."""
    times = np.arange(0.0, duration, F0_HOP) + 0.023
    f0 = np.zeros(len(times))
    depth = VIBRATO.get(family, 0.0)
    rate = float(rng.uniform(5.0, 6.2))
    for (start, end), mean in zip(notes[:, :2], hz):
        inside = (times >= start + 0.02) & (times < end - 0.02)
        onset = np.clip((times[inside] - start - 0.2) / 0.2, 0.0, 1.0)
        wobble = depth * onset * np.sin(2 * np.pi * rate * (times[inside] - start))
        f0[inside] = mean * 2.0 ** (wobble / 1200)
    np.savetxt(path, np.stack([times, f0], axis=1), fmt=["%.3f", "%.2f"], delimiter="\t")


def write(out: Path, minutes: float, seed: int) -> Path:
    """Write a synthetic URMP dataset of about ``minutes`` minutes of music to ``out``; returns ``out``."""
    out = Path(out)
    rng = generator(seed)
    piece_seconds, lineups = plan(minutes, rng)
    large = minutes > 1.0
    (out / "Supplementary_Files").mkdir(parents=True, exist_ok=True)
    pieces = []
    for index, lineup in enumerate(lineups):
        number = index + 1
        name = piece_name(index)
        folder = out / f"{number:02d}_{name}_{'_'.join(lineup)}"
        folder.mkdir(parents=True)
        work = repertoire.pick_work(rng, index, large)
        take = record(work, lineup, piece_seconds, rng, SAMPLE_RATE, VIDEO_FPS, VIDEO_SIZE)
        tag = f"{number:02d}_{name}"
        sf.write(folder / f"AuMix_{tag}_{'_'.join(lineup)}.wav", take.mix, SAMPLE_RATE, subtype="PCM_24")
        programs = [get(key).program for key in lineup]
        score = repertoire.to_pretty_midi(take.excerpt.parts, programs)
        score.write(str(folder / f"Sco_{tag}_{'_'.join(lineup)}.mid"))
        for part, (key, notes, audio) in enumerate(zip(lineup, take.excerpt.parts, take.audio), start=1):
            sep = f"{part}_{key}_{tag}"
            sf.write(folder / f"AuSep_{sep}.wav", audio, SAMPLE_RATE, subtype="PCM_24")
            hz = write_notes(folder / f"Notes_{sep}.txt", notes, rng)
            write_f0(folder / f"F0s_{sep}.txt", notes, hz, take.duration, get(key).family, rng)
            keypoints = convert(take.keypoints(part - 1, POSE_FPS, rng), "openpose67", "body65")
            pose = out / "pose" / key / f"PoseSep_{sep}.npy"
            pose.parent.mkdir(parents=True, exist_ok=True)
            np.save(pose, keypoints.transpose(0, 2, 1)[..., None].astype(np.float32))
            midi = out / "midi" / key / f"ScoSep_{sep}.mid"
            midi.parent.mkdir(parents=True, exist_ok=True)
            repertoire.to_pretty_midi([notes], [get(key).program]).write(str(midi))
        take.write_video(folder / f"Vid_{tag}_{'_'.join(lineup)}.mp4")
        pieces.append(
            {
                "folder": folder.name,
                "work": work,
                "tempo_scale": round(take.excerpt.tempo_scale, 4),
                "transpose": take.excerpt.transpose,
                "instruments": lineup,
                "seconds": round(take.duration, 3),
            }
        )
    write_marker(
        out,
        "urmp",
        minutes,
        seed,
        note="SYNTHETIC URMP: music21-corpus excerpts rendered with FluidSynth; keypoints and stick-figure video "
        "derived from the notes by rules (datamodules/synthetic/performer.py). Not a real recording.",
        sample_rate=SAMPLE_RATE,
        video_fps=VIDEO_FPS,
        pose_fps=POSE_FPS,
        pose_layout="body65",
        pose_files="pose/<inst>/PoseSep_{k}_{inst}_{NN}_{Piece}.npy [T, 3, 65, 1], pixels of Vid_*",
        f0_hop=F0_HOP,
        pieces=pieces,
    )
    return out


__all__ = ["POSE_FPS", "SAMPLE_RATE", "VIDEO_FPS", "ensembles", "generator", "piece_name", "plan", "write"]

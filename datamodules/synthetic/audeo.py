"""Synthetic Audeo data (Paul Barton top-view piano videos, docs/DATASETS.md §5) in the released Google-Drive layout.

Each "video" is an excerpt of real piano music (:mod:`datamodules.synthetic.piano_pieces`) played by two rule-driven
hands (:mod:`datamodules.synthetic.hands`) on a rendered top-view keyboard (:mod:`datamodules.synthetic.keyboard`),
at 25 fps, starting at the first key press (Audeo trims the silence before it). Written::

    input_images/{training,testing}/<video>/frame{N}.jpg   grayscale 900x100 keyboard crops, N = 0, 1, ... consecutive
    labels/{training,testing}/<video>.pkl                  pickled {N: float32 (88,)}: 1.0 = key down at frame N
    midi/{training,testing}/<video>/<s>-<e>.npz            'midi' float32 (e - s <= 50, 88): the same pseudo-GT roll,
                                                           2-s segments of frames s..e-1, the last one shorter
    estimate_Roll/{training,testing}/<video>/<s>-<e>.npz   'logit' float64 (50, 88), 'roll' int64 (50, 88): a
                                                           simulated Video2Roll output (below); columns outside 15..65
                                                           are 0, rows past the video's end are 0
    audio/{training,testing}/<video>.wav                   16-kHz PCM_16 FluidSynth rendering, t = 0 at frame 0
    OF_midi_files/{training,testing}/<video>.mid           the performance's MIDI (stands in for Onsets-and-Frames')
    SYNTHETIC.json                                         synthetic: true, the corpus source of each video

Videos are named as in the release: ``Bach Prelude and Fugue No.{i} B1`` (training) and ``... B2`` (testing); the marker
says which corpus work each one really plays.

Labels follow the keys the video shows held down (note-on to note-off), so ground truth and picture agree. The
simulated ``estimate_Roll`` is what an imperfect Video2Roll would give (Audeo §3, Fig. 6): a logit that grows with how
much of the pressed key the hands leave visible (occlusion misses), confusions with pressed neighbours, blurred
onsets/offsets and noise; ``roll = sigmoid(logit) >= 0.4`` as in the released inference code. It is input for the
Roll2Midi stage when no trained Video2Roll is at hand, never a result.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import cv2
import numpy as np
import soundfile as sf

from datamodules.synthetic import hands, keyboard, piano_pieces
from datamodules.synthetic.marker import write_marker
from music.roll import midi_to_roll
from music.synth import render

FPS = 25
SAMPLE_RATE = 16000
SEGMENT = 50
MIN_KEY, MAX_KEY = 15, 65
TAIL_S = 0.4
JPEG_QUALITY = 85
SPLITS = ("training", "testing")


def video_name(index: int, split: str) -> str:
    """The release's folder name for video ``index`` (1-based) of ``split``."""
    return f"Bach Prelude and Fugue No.{index} {'B1' if split == 'training' else 'B2'}"


def plan(minutes: float) -> tuple[int, int, float]:
    """(training videos, testing videos, seconds per video) for about ``minutes`` minutes of music in all."""
    total = minutes * 60.0
    length = float(np.clip(total / 8.0, 4.0, 40.0))
    count = max(2, int(round(total / length)))
    length = total / count
    testing = max(1, int(round(count * 3 / 27)))  # the release: 24 training, 3 testing
    return count - testing, testing, length


def simulated_estimate(pressed: np.ndarray, visible: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Video2Roll-like logits [T, 88] for ``pressed`` (bool [T, 88]) given key visibility [T, 88] (0..1)."""
    frames = len(pressed)
    p = pressed.astype(np.float64)
    logit = np.where(pressed, -1.0 + 5.0 * visible, -4.5)
    neighbours = np.zeros_like(p)
    for shift in (-2, -1, 1, 2):
        neighbours = np.maximum(neighbours, np.roll(p, shift, axis=1))
    logit += np.where(pressed, 0.0, 2.2 * neighbours * rng.uniform(0.0, 1.0, p.shape))
    if frames > 1:
        changed = np.zeros_like(pressed)
        changed[1:] |= pressed[1:] != pressed[:-1]
        changed[:-1] |= pressed[:-1] != pressed[1:]
        logit = np.where(changed, 0.55 * logit + 0.45 * np.where(pressed, -2.0, 1.0), logit)
    logit += rng.normal(0.0, 0.9, p.shape)
    out = np.zeros_like(logit)
    out[:, MIN_KEY : MAX_KEY + 1] = logit[:, MIN_KEY : MAX_KEY + 1]
    return out


def _write_video(root: Path, split: str, name: str, excerpt: piano_pieces.Excerpt, rng: np.random.Generator) -> dict:
    frames = int(np.ceil((excerpt.duration + TAIL_S) * FPS))
    right = midi_to_roll(excerpt.hand("right"), FPS, frames=frames, binary=True).T > 0
    left = midi_to_roll(excerpt.hand("left"), FPS, frames=frames, binary=True).T > 0
    pressed = left | right
    keypoints, lift = hands.play_both(left, right, FPS, rng)
    images, visible = keyboard.render_video(pressed, keypoints, lift, rng, FPS)

    folder = root / "input_images" / split / name
    folder.mkdir(parents=True)
    for n, image in enumerate(images):
        if not cv2.imwrite(str(folder / f"frame{n}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
            raise RuntimeError(f"synthetic audeo: could not write {folder / f'frame{n}.jpg'}")

    labels = {n: pressed[n].astype(np.float32) for n in range(frames)}
    (root / "labels" / split).mkdir(parents=True, exist_ok=True)
    with open(root / "labels" / split / f"{name}.pkl", "wb") as handle:
        pickle.dump(labels, handle, protocol=pickle.HIGHEST_PROTOCOL)

    logits = simulated_estimate(pressed, visible, rng)
    for sub in ("midi", "estimate_Roll"):
        (root / sub / split / name).mkdir(parents=True)
    for start in range(0, frames, SEGMENT):
        end = min(start + SEGMENT, frames)
        stem = f"{start}-{end}"
        np.savez(root / "midi" / split / name / f"{stem}.npz", midi=pressed[start:end].astype(np.float32))
        logit = np.zeros((SEGMENT, keyboard.N_KEYS))
        logit[: end - start] = logits[start:end]
        roll = np.zeros((SEGMENT, keyboard.N_KEYS), dtype=np.int64)
        roll[: end - start] = 1.0 / (1.0 + np.exp(-logits[start:end])) >= 0.4
        roll[:, :MIN_KEY] = 0
        roll[:, MAX_KEY + 1 :] = 0
        np.savez(root / "estimate_Roll" / split / name / f"{stem}.npz", logit=logit, roll=roll)

    audio = render(excerpt.midi, sample_rate=SAMPLE_RATE)
    audio = np.pad(audio, (0, max(0, frames * SAMPLE_RATE // FPS - len(audio))))[: frames * SAMPLE_RATE // FPS]
    (root / "audio" / split).mkdir(parents=True, exist_ok=True)
    sf.write(str(root / "audio" / split / f"{name}.wav"), audio, SAMPLE_RATE, subtype="PCM_16")
    (root / "OF_midi_files" / split).mkdir(parents=True, exist_ok=True)
    excerpt.midi.write(str(root / "OF_midi_files" / split / f"{name}.mid"))
    return {"split": split, "video": name, "frames": frames, **excerpt.meta()}


def write(out: Path, minutes: float, seed: int) -> Path:
    """Write a synthetic Audeo dataset of about ``minutes`` minutes of music into ``out``; returns ``out``."""
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    n_train, n_test, seconds = plan(minutes)
    rng = np.random.default_rng(seed)
    pool = piano_pieces.works(minutes)
    videos = []
    for split, count in (("training", n_train), ("testing", n_test)):
        for i in range(1, count + 1):
            video_rng = np.random.default_rng(rng.integers(2**63))
            excerpt = piano_pieces.performance(pool, seconds, video_rng)
            videos.append(_write_video(root, split, video_name(i, split), excerpt, video_rng))
    write_marker(
        root,
        "audeo",
        minutes,
        seed,
        fps=FPS,
        sample_rate=SAMPLE_RATE,
        frame_size=[keyboard.crop_view().height, keyboard.crop_view().width],
        estimate_roll="simulated Video2Roll output (occlusion, neighbour confusion, onset blur, noise)",
        videos=videos,
    )
    return root

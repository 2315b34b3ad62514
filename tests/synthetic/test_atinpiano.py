"""Synthetic AtinPiano data: Foley Music's released form exactly, hands that really play the notes, notes in the
DataModule's batches (determinism and the round trip: test_contract.py)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile as sf

from datamodules.synthetic import hands
from datamodules.synthetic.atinpiano import FRAME_SIZE, POSE_FPS, SAMPLE_RATE
from datamodules.synthetic.keyboard import GEOMETRY
from music.roll import midi_to_roll

TIPS = [4, 8, 12, 16, 20]


@pytest.fixture(scope="module")
def root(written) -> Path:
    return written("atinpiano")


def _rows(root: Path, split: str) -> list[dict[str, str]]:
    with open(root / f"{split}.csv", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ["vid", "start_time", "duration"]
        return list(reader)


def test_layout_names_shapes_dtypes(root: Path) -> None:
    train, val = _rows(root, "train"), _rows(root, "val")
    assert train and val
    vids = [r["vid"] for r in train + val]
    assert len(set(vids)) == len(vids) and all(re.fullmatch(r"[A-Za-z0-9_-]{11}", v) for v in vids)
    assert sorted(p.stem for p in (root / "pose").glob("*.npy")) == sorted(vids)
    assert sorted(p.name for p in (root / "midi").iterdir()) == sorted(f"{v}.midi" for v in vids)
    left_of = []  # per video: is hand 0 (keypoints 0-20) left of hand 1 on average?
    for row in train + val:
        vid, duration = row["vid"], float(row["duration"])
        assert float(row["start_time"]) == 0.0 and duration >= 6.0
        pose = np.load(root / "pose" / f"{vid}.npy")
        assert pose.dtype == np.float32 and pose.ndim == 4 and pose.shape[1:] == (2, 42, 1)
        assert len(pose) == round(duration * POSE_FPS)
        points = pose[..., 0].transpose(0, 2, 1).reshape(len(pose), 2, 21, 2)  # [T, hand, joint, xy]
        missed = np.all(points == 0, axis=(2, 3))
        seen = points[~missed]
        assert np.all(np.any(points != 0, axis=3) == ~missed[..., None]), "a missed hand is all zeros, nothing else is"
        assert seen[..., 0].min() > 0 and seen[..., 0].max() < FRAME_SIZE[0]
        assert seen[..., 1].min() > 0 and seen[..., 1].max() < FRAME_SIZE[1]
        both = ~missed.any(1)
        left_of.append(points[both, 0, :, 0].mean() < points[both, 1, :, 0].mean())
        midi = pretty_midi.PrettyMIDI(str(root / "midi" / f"{vid}.midi"))
        assert sorted(i.name for i in midi.instruments) == ["Left hand", "Right hand"]
        assert all(i.program == 0 and not i.is_drum for i in midi.instruments)
        notes = [n for i in midi.instruments for n in i.notes]
        assert min(n.start for n in notes) == 0.0 and max(n.end for n in notes) <= duration
        info = sf.info(str(root / "audio" / f"{vid}.wav"))
        assert info.samplerate == SAMPLE_RATE and info.channels == 1
    assert np.mean(left_of) >= 0.75, "keypoints 0-20 are the left hand (hands may cross in a few pieces)"


def test_hands_follow_the_notes_on_disk(root: Path) -> None:
    """In every video, where each hand's fingertips are tracks the pitch of that hand's notes."""
    correlations = []
    for row in _rows(root, "train") + _rows(root, "val"):
        pose = np.load(root / "pose" / f"{row['vid']}.npy")[..., 0]  # [T, 2, 42]
        midi = pretty_midi.PrettyMIDI(str(root / "midi" / f"{row['vid']}.midi"))
        for hand, name in ((0, "Left hand"), (1, "Right hand")):
            one = pretty_midi.PrettyMIDI()
            one.instruments.append(next(i for i in midi.instruments if i.name == name))
            roll = midi_to_roll(one, POSE_FPS, frames=len(pose), binary=True)  # [88, T]
            playing = roll.any(0) & (pose[:, 0, 21 * hand : 21 * hand + 21] != 0).all(1)
            pitch = (roll[:, playing] * np.arange(88)[:, None]).sum(0) / roll[:, playing].sum(0)
            tips_x = pose[playing][:, 0, [21 * hand + t for t in TIPS]].mean(1)
            correlations.append(np.corrcoef(pitch, tips_x)[0, 1])
    assert np.median(correlations) > 0.8 and min(correlations) > 0.5, correlations


def test_pressing_fingertips_sit_on_their_keys() -> None:
    rng = np.random.default_rng(0)
    frames = 60
    right = np.zeros((frames, 88), dtype=bool)
    left = np.zeros((frames, 88), dtype=bool)
    chords = [(39, 43, 46), (41, 44, 48, 51), (51,), (40, 42, 44, 45, 47)]  # C4 E4 G4 ... incl. black keys
    for i, chord in enumerate(chords):
        right[15 * i + 2 : 15 * i + 12, list(chord)] = True
        left[15 * i + 2 : 15 * i + 12, [k - 24 for k in chord]] = True
    points, lift = hands.play_both(left, right, 25.0, rng)
    assert points.shape == (frames, 2, 21, 2) and lift.shape == (frames, 2, 5)
    for t in range(frames):
        for h, roll in enumerate((left, right)):
            keys = np.flatnonzero(roll[t])
            tips = points[t, h, TIPS]
            assert (lift[t, h] == 0).sum() == len(keys)
            for k in keys:
                inside = (tips[:, 0] > GEOMETRY.left[k] - 0.1) & (tips[:, 0] < GEOMETRY.right[k] + 0.1)
                assert inside.any(), (t, h, k)
                y = tips[inside, 1]
                assert np.any(np.abs(y - (0.45 if GEOMETRY.is_black[k] else 0.80)) < 0.2)
    thumb, pinky = points[:, 1, 4, 0], points[:, 1, 20, 0]
    assert np.all(thumb < pinky), "right thumb plays the lower keys"
    assert np.all(points[:, 0, 4, 0] > points[:, 0, 20, 0]), "left thumb plays the higher keys"


def test_datamodule_batches_have_notes(round_trip) -> None:
    _, batch = round_trip("atinpiano")
    assert batch["roll"].sum() > 0 and batch["events_mask"].sum() > 10

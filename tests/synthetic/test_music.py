"""Synthetic MUSIC (docs/DATASETS.md §2): id JSONs, Sound-of-Pixels layout, Foley pose/MIDI, determinism."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import soundfile as sf

from datamodules.synthetic import instruments, read_marker, write
from tests.helpers.synthetic_checks import tree_digest

MINUTES = 0.1


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return write("music", tmp_path_factory.mktemp("music"), minutes=MINUTES, seed=0)


def test_id_jsons(root):
    music21 = json.loads((root / "MUSIC21_solo_videos.json").read_text())
    music11 = json.loads((root / "MUSIC_solo_videos.json").read_text())
    assert music21["version"] == 2.0 and music11["version"] == 1.0
    assert set(music21["videos"]) <= set(instruments.MUSIC_CATEGORIES)
    assert set(music11["videos"]) <= set(instruments.MUSIC11)
    for category, ids in music11["videos"].items():
        assert ids == music21["videos"][category]
    assert all(len(v) == 11 for ids in music21["videos"].values() for v in ids)


def test_sound_of_pixels_layout(root):
    rows = []
    for name in ("train.csv", "val.csv"):
        with open(root / name, newline="") as handle:
            part = list(csv.reader(handle))
        assert part and all(len(row) == 3 for row in part)
        rows += part
    music21 = json.loads((root / "MUSIC21_solo_videos.json").read_text())["videos"]
    assert len(rows) == sum(len(v) for v in music21.values())
    for audio, frames, count in rows:
        info = sf.info(root / audio)
        assert (info.samplerate, info.channels) == (22050, 1)
        jpgs = sorted(p.name for p in (root / frames).glob("*.jpg"))
        assert jpgs == [f"{i:06d}.jpg" for i in range(1, int(count) + 1)]
        assert abs(int(count) - info.duration * 8) <= 2


def test_foley_pose_and_midi(root):
    for category, ids in json.loads((root / "MUSIC21_solo_videos.json").read_text())["videos"].items():
        for ytid in ids:
            pose = np.load(root / "pose" / category / f"{ytid}.npy")
            assert pose.dtype == np.float32 and pose.shape[1:] == (3, 65, 1)
            duration = sf.info(root / "audio" / category / f"{ytid}.wav").duration
            assert abs(pose.shape[0] - duration * 22) <= 1
            assert (root / "midi_sw" / category / f"{ytid}.mid").is_file()
            assert (root / "videos" / category / f"{ytid}.mp4").is_file()


def test_round_trip_through_the_music_datamodule(root):
    from datamodules.music import MUSICDataModule

    dm = MUSICDataModule(root=str(root), fields=("keypoints", "audio", "events", "instrument"), clip_seconds=2.0,
                         batch_size=2)  # fmt: skip
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["keypoints"].shape[1:] == (44, 65, 3) and batch["events"].shape[1] == 512
    assert all(m["synthetic"] for m in batch["meta"]) and read_marker(root)["synthetic"] is True


def test_same_seed_same_bytes(root, tmp_path):
    assert tree_digest(write("music", tmp_path / "again", minutes=MINUTES, seed=0)) == tree_digest(root)

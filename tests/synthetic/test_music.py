"""Synthetic MUSIC (docs/DATASETS.md §2): id JSONs, Sound-of-Pixels layout, Foley pose/MIDI (determinism and the
round trip: test_contract.py)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import soundfile as sf

from datamodules.synthetic import instruments


@pytest.fixture(scope="module")
def root(written):
    return written("music")


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

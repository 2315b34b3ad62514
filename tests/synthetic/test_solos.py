"""Synthetic Solos (docs/DATASETS.md §3): id/timestamp JSONs, the raw skeleton memmap, audio, video, notes in the
DataModule's rolls (determinism and the round trip: test_contract.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from datamodules.synthetic import instruments
from tests.helpers.synthetic_checks import video_info


@pytest.fixture(scope="module")
def root(written):
    return written("solos")


def test_id_lists_and_timestamps(root):
    ids = json.loads((root / "solos_ids.json").read_text())
    stamps = json.loads((root / "solos_timestamps.json").read_text())
    assert set(ids) == set(instruments.SOLOS_CATEGORIES) == set(stamps)
    every = [v for vs in ids.values() for v in vs]
    assert len(every) >= 4 and len(set(every)) == len(every)
    assert all(len(v) == 11 for v in every) and any(v.startswith("_") for v in every)
    for category, videos in ids.items():
        assert set(stamps[category]) == set(videos)
        for segments in stamps[category].values():
            assert all(end - start >= 151 for start, end in segments)


def test_skeleton_is_a_raw_float32_memmap_indexed_by_the_dict(root):
    index = json.loads((root / "skeleton_dict.json").read_text())
    count = index.pop("_counter")
    assert (root / "skeleton.npy").stat().st_size == count * 3 * 47 * 4  # no .npy header
    spans = sorted(index.values())
    assert spans[0][0] == 0 and spans[-1][1] == count
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))  # contiguous
    skeleton = np.memmap(root / "skeleton.npy", dtype=np.float32, mode="r", shape=(count, 3, 47))
    conf = skeleton[:, 2]
    assert conf.min() >= 0 and conf.max() <= 1 and 0 < (conf == 0).mean() < 0.1
    seen = conf > 0
    x, y = skeleton[:, 0][seen], skeleton[:, 1][seen]
    assert x.min() > -20 and x.max() < 340 and y.min() > -20 and y.max() < 200
    # joints 7-26 are the right hand (root RWrist = 3), 27-46 the left hand (root LWrist = 6)
    first = np.asarray(skeleton[: spans[0][1]])
    right = np.nanmean(np.where(first[:, 2, 7:27] > 0, first[:, 0, 7:27], np.nan))
    left = np.nanmean(np.where(first[:, 2, 27:47] > 0, first[:, 0, 27:47], np.nan))
    assert abs(right - np.median(first[:, 0, 3])) < abs(right - np.median(first[:, 0, 6]))
    assert abs(left - np.median(first[:, 0, 6])) < abs(left - np.median(first[:, 0, 3]))


def test_audio_video_and_midi_per_id(root):
    ids = json.loads((root / "solos_ids.json").read_text())
    index = json.loads((root / "skeleton_dict.json").read_text())
    for category, videos in ids.items():
        for ytid in videos:
            info = sf.info(root / "audio" / category / f"{ytid}.wav")
            assert (info.samplerate, info.channels) == (16000, 1)
            frames = index[ytid][1] - index[ytid][0]
            assert abs(frames - info.duration * 25) <= 1
            assert (root / "midi" / category / f"{ytid}.mid").is_file()
    category = next(c for c, v in ids.items() if v)
    video = video_info(root / "videos" / category / f"{ids[category][0]}.mp4")
    assert video["fps"] == 25.0 and video["audio"] and video["size"] == (320, 180)


def test_datamodule_rolls_have_notes(round_trip):
    _, batch = round_trip("solos")
    assert batch["roll"].sum() > 0

"""The synthetic URMP / Solos worlds as MI Net (§4) needs them: enough recordings of every instrument for its splits,
timbres that name the instrument, and postures that are confusable but separable where the paper's are (violin vs
viola, oboe vs clarinet)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from datamodules.solos import mi_net_held_out as solos_held_out
from datamodules.synthetic import instrument_probes as probes
from datamodules.synthetic import solos as synthetic_solos
from datamodules.synthetic import urmp as synthetic_urmp
from datamodules.synthetic.ids import youtube_ids
from datamodules.synthetic.instruments import SOLOS_CATEGORIES, URMP_KEYS
from datamodules.synthetic.repertoire import CHORALES
from datamodules.urmp import Track
from datamodules.urmp import mi_net_held_out as urmp_held_out

MI_NET_MINUTES = {"urmp": 15.0, "solos": 40.0}  # the synthetic sizes of MI Net's configs (docs/MI_NET.md)


def test_every_urmp_instrument_has_three_training_and_one_held_out_track():
    _, lineups = synthetic_urmp.plan(MI_NET_MINUTES["urmp"], synthetic_urmp.generator(0))
    tracks = [
        Track(Path("."), index + 1, synthetic_urmp.piece_name(index), part, key)
        for index, lineup in enumerate(lineups)
        for part, key in enumerate(lineup, start=1)
    ]
    held = urmp_held_out(tracks)
    train = Counter(t.instrument for t in tracks if t.key not in held)
    test = Counter(t.instrument for t in tracks if t.key in held)
    print(f"synthetic URMP {MI_NET_MINUTES['urmp']:g} min, MI Net split: train {dict(train)}, test {dict(test)}")
    assert set(test) == set(URMP_KEYS) and min(test.values()) >= 1
    assert set(train) == set(URMP_KEYS) and min(train.values()) >= 3


def test_every_solos_category_has_three_training_and_one_held_out_video():
    rng = synthetic_solos.generator(0)
    categories, _ = synthetic_solos.plan(MI_NET_MINUTES["solos"], rng)
    pairs = list(zip(categories, youtube_ids(len(categories), rng)))  # the writer's own draws, in its order
    held = solos_held_out(pairs)
    train = Counter(c for c, v in pairs if v not in held)
    test = Counter(c for c, v in pairs if v in held)
    print(f"synthetic Solos {MI_NET_MINUTES['solos']:g} min, MI Net split: train {dict(train)}, test {dict(test)}")
    assert set(test) == set(train) == set(SOLOS_CATEGORIES)
    assert min(test.values()) >= 1 and min(train.values()) >= 3


@pytest.fixture(scope="module")
def pose_takes():
    works = list(CHORALES[:10])
    return probes.solo_takes(list(URMP_KEYS), works, 8.0, seed=0, audio=False), set(works[7:])


def pose(take):
    return probes.pose_features(take.keypoints, 25.0)


def test_timbre_names_the_instrument_of_held_out_takes():
    torch.set_num_threads(1)
    works = list(CHORALES[:4])
    takes = probes.solo_takes(list(URMP_KEYS), works, 8.0, seed=1)
    result = probes.held_out_probe(takes, lambda t: probes.timbre_features(t.audio, 16000), {works[-1]})
    print(f"timbre probe, 13 instruments, held-out work: accuracy {result.accuracy:.3f} (chance {result.chance:.3f})")
    assert result.accuracy >= 0.5 and result.accuracy >= 6 * result.chance


@pytest.mark.parametrize("pair", [("vn", "va"), ("cl", "ob")])
def test_alike_postures_are_separable_from_the_pose_alone(pose_takes, pair):
    torch.set_num_threads(1)
    takes, held = pose_takes
    result = probes.held_out_probe([t for t in takes if t.instrument in pair], pose, held)
    print(f"pose probe {pair}: accuracy {result.accuracy:.3f}, confusion {result.confusion.tolist()}")
    assert result.accuracy >= result.chance + 0.2


def test_alike_postures_are_each_others_nearest_instrument(pose_takes):
    takes, _ = pose_takes
    features = {key: np.concatenate([pose(t) for t in takes if t.instrument == key]) for key in URMP_KEYS}
    every = np.concatenate(list(features.values()))
    mean, std = every.mean(0), every.std(0) + 1e-6
    centres = {key: ((x - mean) / std).mean(0) for key, x in features.items()}

    def nearest(key: str) -> str:
        return min((k for k in URMP_KEYS if k != key), key=lambda k: np.linalg.norm(centres[key] - centres[k]))

    assert [nearest(k) for k in ("vn", "va", "ob", "cl")] == ["va", "vn", "cl", "ob"]
    # ... yet not the same posture: the pair's distance is well above the spread of one instrument's takes
    for a, b in (("vn", "va"), ("ob", "cl")):
        spread = np.linalg.norm(((features[a] - mean) / std) - centres[a], axis=1).mean()
        assert np.linalg.norm(centres[a] - centres[b]) > 0.1 * spread

"""RhythmicNet's style rules (models/rhythmic_net/style.py)."""

from __future__ import annotations

import numpy as np
import pytest

from models.rhythmic_net.style import directogram, rhythm_grid, style_events


def test_directogram_bins_motion_by_direction() -> None:
    keypoints = np.zeros((3, 2, 2))
    keypoints[1, 0] = (2.0, 0.0)  # joint 0 moves right by 2
    keypoints[2, 1] = (0.0, 1.0)  # joint 1 moves +y by 1 (joint 0 back left by 2)
    d = directogram(keypoints, bins=4)
    assert np.allclose(d[0], 0) and np.allclose(d[1], [2, 0, 0, 0]) and np.allclose(d[2], [0, 1, 2, 0])


def test_style_finds_the_jerks_of_a_still_skeleton() -> None:
    rng = np.random.default_rng(0)
    fps, seconds = 60.0, 20
    keypoints = np.tile(rng.uniform(0, 500, (1, 17, 2)), (int(fps * seconds), 1, 1))
    keypoints += rng.normal(0, 0.2, keypoints.shape)  # sensor noise
    jerks = np.sort(rng.choice(np.arange(60, len(keypoints) - 60), 12, replace=False))
    for frame in jerks:
        keypoints[frame : frame + 3] += rng.normal(0, 40, (1, 17, 2))  # a sharp 50-ms move and back
    events = style_events(keypoints, fps)
    assert len(events) > 0
    near = np.mean([np.min(np.abs(jerks / fps - t)) <= 0.15 for t in events])
    chance = min(1.0, len(jerks) * 0.3 / seconds)  # a random event lies within 150 ms of a jerk this often
    assert near >= 2 * chance


def test_rhythm_grid_taps_beats_on_the_quarter_steps() -> None:
    beats = 0.25 + 0.5 * np.arange(8)  # 120 bpm, first beat at 0.25 s
    taps, start, step = rhythm_grid(beats, style=[0.625], duration=4.0)
    assert step == pytest.approx(0.125) and start == pytest.approx(0.0)
    assert np.array_equal(np.flatnonzero(taps), sorted([2 + 4 * k for k in range(8)] + [5]))
    with pytest.raises(ValueError, match="2 beats"):
        rhythm_grid([1.0], [], 4.0)

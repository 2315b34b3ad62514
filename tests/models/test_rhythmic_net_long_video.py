"""RhythmicNet over a video longer than Video2Rhythm's 300-frame window (models/rhythmic_net/chain.py): overlapping
windows, their activations averaged, one DBN beat tracking over the whole video."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from datamodules.layouts import convert, get_layout
from datamodules.synthetic.dancer import FPS, dance
from metrics.beat_fmeasure import BeatFMeasure
from metrics.dbn_beat import dbn_beat_track
from models.rhythmic_net.chain import overlap_average, video_beats, video_keypoints, window_starts
from models.rhythmic_net.networks import keypoint_motion

WINDOW, HOP = 300, 150
MID_HIP, R_ANKLE, L_ANKLE = (get_layout("rhythmic17").joints.index(n) for n in ("MidHip", "RAnkle", "LAnkle"))
PX = 300.0  # pixels per metre of the front view
DIP_PX = 10.0  # hips this much lower than at rest (above the grounded ankle) count as a dip


@pytest.fixture(scope="module")
def synthetic_aistpp() -> Path:
    from datamodules.synthetic import ensure

    return ensure("aistpp", 0.5, 0)


def test_window_starts_overlap_and_cover_the_video() -> None:
    assert window_starts(1000, WINDOW, HOP) == [0, 150, 300, 450, 600, 700]  # the last one ends at the video's end
    assert window_starts(1050, WINDOW, HOP) == [0, 150, 300, 450, 600, 750]
    assert window_starts(300, WINDOW, HOP) == [0] and window_starts(120, WINDOW, HOP) == [0]
    for bad in (0, 300, 400):
        with pytest.raises(ValueError, match="hop"):
            window_starts(1000, WINDOW, bad)


def test_overlap_average_is_the_mean_of_the_covering_windows() -> None:
    parts = torch.stack([torch.full((4,), 1.0), torch.full((4,), 3.0), torch.full((4,), 5.0)])
    out = overlap_average(parts, [0, 2, 4], 8)
    # frames 2 and 4 start a window: that window's first frame (no motion) does not count there
    assert out.tolist() == [1.0, 1.0, 1.0, 2.0, 3.0, 4.0, 5.0, 5.0]
    with pytest.raises(ValueError, match="window starts"):
        overlap_average(parts, [0, 2], 8)


def _dance(seconds: float, bpm: float, seed: int = 0) -> tuple[torch.Tensor, np.ndarray]:
    """rhythmic17 keypoints [T, 17, 3] (px, image y down) of the synthetic dancer bouncing on beats at ``bpm``, and
    the beat times."""
    beats = np.arange(0.3, seconds, 60.0 / bpm)
    moves = dance("BR", beats, seconds, np.random.default_rng(seed))
    xy = moves.joints[..., :2] * np.array([PX, -PX]) + np.array([640.0, 600.0])  # front view, metres -> px
    coco = np.concatenate([xy, np.ones_like(xy[..., :1])], axis=-1)
    return torch.from_numpy(convert(coco, "coco17", "rhythmic17")).float(), beats


def _dip_model(rest: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """A stand-in beat net, time-translation invariant like Video2Rhythm: how far the hips dip towards the grounded
    ankle at each frame, below their ``rest`` height (px) ([B, T, V, C] -> [B, T] in [0, 1]), times whether the frame
    has motion (a window's first frame has none, as in Video2Rhythm's frame-difference input)."""

    def activation(keypoints: torch.Tensor) -> torch.Tensor:
        height = keypoints[..., [R_ANKLE, L_ANKLE], 1].amax(-1) - keypoints[..., MID_HIP, 1]  # image y down
        dip = torch.sigmoid(0.5 * (rest - DIP_PX - height))
        moving = keypoint_motion(keypoints, 100.0).abs().flatten(2).sum(-1) > 0
        return dip * moving

    return activation


def _rest(keypoints: torch.Tensor) -> float:
    return float((keypoints[:, [R_ANKLE, L_ANKLE], 1].amax(-1) - keypoints[:, MID_HIP, 1]).max())


def test_long_dance_gets_the_beats_of_one_long_window() -> None:
    keypoints, truth = _dance(21.0, 112.0)
    frames = keypoints.shape[0]
    starts = window_starts(frames, WINDOW, HOP)
    assert frames > 4 * WINDOW and starts[-1] + WINDOW == frames and len(starts) == 8  # overlapping windows
    windows = torch.stack([keypoints[s : s + WINDOW] for s in starts])
    model = _dip_model(_rest(keypoints))
    windowed = overlap_average(model(windows), starts, frames)
    whole = model(keypoints[None])[0]  # one long window (the stand-in has no position table)
    assert torch.allclose(windowed, whole, atol=1e-6)
    beats = dbn_beat_track(windowed, fps=FPS)
    assert np.array_equal(beats, dbn_beat_track(whole, fps=FPS))
    # beats all along the dance: none missing or doubled at the seams (every 150 frames = 2.5 s)
    period = 60.0 / 112.0
    gaps = np.diff(beats)
    assert gaps.max() < 1.3 * period and gaps.min() > 0.7 * period
    assert beats[0] < truth[0] + period and beats[-1] > frames / FPS - 2 * period
    score = BeatFMeasure(tolerance=0.07)
    score.update([beats], [truth])
    assert float(score.compute()["f_measure"]) >= 0.95
    # plain means (each window's motion-less first frame counted) would dent the activation at every seam
    plain = torch.zeros(frames)
    count = torch.zeros(frames)
    for part, s in zip(model(windows), starts):
        plain[s : s + WINDOW] += part
        count[s : s + WINDOW] += 1
    seams = torch.tensor([s for s in starts[1:]])
    assert not torch.allclose((plain / count)[seams], whole[seams], atol=1e-3)


class _StandIn(torch.nn.Module):
    """A RhythmicNet-like holder of the stand-in beat net for :func:`video_beats`."""

    device = torch.device("cpu")

    def __init__(self, rest: float) -> None:
        super().__init__()
        self.net, self.calls = _dip_model(rest), 0

    def beat_activation(self, keypoints: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.net(keypoints)

    def track_beats(self, activation: torch.Tensor) -> list[np.ndarray]:
        return [dbn_beat_track(row, fps=FPS) for row in activation]


def test_video_beats_batches_windows_and_tracks_once() -> None:
    from models.rhythmic_net.chain import VideoKeypoints

    keypoints, truth = _dance(21.0, 112.0, seed=1)
    frames = keypoints.shape[0]
    starts = window_starts(frames, WINDOW, HOP)
    seen = VideoKeypoints(torch.stack([keypoints[s : s + WINDOW] for s in starts]), starts, keypoints, frames / FPS)
    model = _StandIn(_rest(keypoints))
    activation, beats = video_beats(model, seen, batch=3)  # type: ignore[arg-type]
    assert model.calls == -(-len(starts) // 3) and activation.shape == (frames,)
    score = BeatFMeasure(tolerance=0.07)
    score.update([beats], [truth])
    assert float(score.compute()["f_measure"]) >= 0.95


def test_video_keypoints_of_a_synthetic_aistpp_video(synthetic_aistpp: Path) -> None:
    video = sorted((synthetic_aistpp / "videos").glob("*.mp4"))[0]
    source = synthetic_aistpp / "keypoints2d" / f"{video.stem.replace('_c01_', '_cAll_')}.pkl"
    seen = video_keypoints(video, FPS, "rhythmic17", WINDOW, HOP, source)
    assert seen.frames == round(seen.duration * FPS) > WINDOW
    assert seen.starts == [0, seen.frames - WINDOW] and seen.windows.shape == (2, WINDOW, 17, 3)
    # the second window is the same stretch of the sequence (each normalised on its own: compare the hips' motion
    # up to scale)
    late = seen.windows[1, :, MID_HIP, 1].diff()
    whole = seen.sequence[seen.starts[1] :, MID_HIP, 1].diff()
    assert float(torch.corrcoef(torch.stack([late, whole]))[0, 1]) > 0.99

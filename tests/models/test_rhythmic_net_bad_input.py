"""RhythmicNet's bad input: one error naming the file (or clip) and the cause, for the chain's keypoints, the
training batches and the chain's beats (the data sets' own cases: tests/datamodules/test_groove_midi.py,
test_multitrack_midi.py; checkpoints of another stage: tests/models/test_rhythmic_net*.py)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from models.rhythmic_net import RhythmicNet
from models.rhythmic_net.chain import video_keypoints

TINY = dict(stgcn_channels=(8, 8), beat_d_model=16, beat_layers=1, beat_feedforward=32, max_relative_position=8)


@pytest.fixture(scope="module")
def synthetic_aistpp() -> Path:
    from datamodules.synthetic import ensure

    return ensure("aistpp", 0.5, 0)


@pytest.fixture(scope="module")
def video(synthetic_aistpp: Path) -> Path:
    return sorted((synthetic_aistpp / "videos").glob("*.mp4"))[0]


def _pickle(path: Path, keypoints2d: np.ndarray) -> Path:
    with open(path, "wb") as handle:
        pickle.dump({"keypoints2d": keypoints2d, "det_scores": np.ones(keypoints2d.shape[:2])}, handle)
    return path


def _seen(video: Path, source: Path):
    return video_keypoints(video, 60.0, "rhythmic17", 300, 150, source)


def test_keypoints_of_another_joint_count_name_the_file(tmp_path: Path, video: Path) -> None:
    source = _pickle(tmp_path / "ten_joints.pkl", np.ones((9, 400, 10, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"ten_joints\.pkl: keypoints2d has shape \(9, 400, 10, 3\)"):
        _seen(video, source)


def test_keypoints_without_a_visible_joint_name_the_file(tmp_path: Path, video: Path) -> None:
    source = _pickle(tmp_path / "nobody.pkl", np.full((9, 400, 17, 3), np.nan, dtype=np.float32))
    with pytest.raises(ValueError, match=r"nobody\.pkl: no visible joint in any of its 400 frames"):
        _seen(video, source)


def test_fewer_than_two_keypoint_frames_name_the_file(tmp_path: Path, video: Path) -> None:
    rng = np.random.default_rng(0)
    source = _pickle(tmp_path / "one_frame.pkl", rng.uniform(100, 500, (9, 1, 17, 3)).astype(np.float32))
    with pytest.raises(ValueError, match=r"one_frame\.pkl: 1 keypoint frame\(s\).*at least 2 frames"):
        _seen(video, source)


def test_a_video_of_unknown_frame_rate_is_named(
    tmp_path: Path, video: Path, synthetic_aistpp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import models.video_windows as video_windows

    monkeypatch.setattr(video_windows, "video_info", lambda path: (0.0, 7.2))
    source = synthetic_aistpp / "keypoints2d" / f"{video.stem.replace('_c01_', '_cAll_')}.pkl"
    with pytest.raises(ValueError, match=rf"{video.name}: unknown frame rate"):
        _seen(video, source)


def test_training_batches_name_their_keypoint_files() -> None:
    model = RhythmicNet(**TINY)
    metas = [{"keypoints_source": "a.pkl", "start": 0.0}, {"keypoints_source": "b.pkl", "start": 5.0}]
    hidden = torch.rand(2, 40, 17, 3)
    hidden[1, ..., 2] = 0
    with pytest.raises(ValueError, match=r"clips \[1\] \(of b\.pkl at 5\.00 s\) have no visible joint"):
        model.training_step({"keypoints": hidden, "beats": torch.zeros(2, 40), "meta": metas}, 0)
    with pytest.raises(ValueError, match=r"keypoints \(of a\.pkl at 0\.00 s, b\.pkl at 5\.00 s\).*rhythmic17"):
        model.training_step({"keypoints": torch.rand(2, 40, 25, 3), "beats": torch.zeros(2, 40), "meta": metas}, 0)


def test_no_beat_found_names_the_video(
    tmp_path: Path, video: Path, synthetic_aistpp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drums = dict(drum_d_model=16, drum_encoder_layers=1, drum_decoder_layers=1, drum_heads=2, drum_feedforward=32,
                 unet_down=(4, 8), unet_up=(4,), unet_down_dropout=(0.0, 0.15), unet_up_dropout=(0.15,))  # fmt: skip
    paths = {}
    for stage in ("video2rhythm", "rhythm2drum"):
        net = RhythmicNet(stage=stage, **TINY, **drums)
        paths[f"{stage}_ckpt"] = str(tmp_path / f"{stage}.ckpt")
        torch.save({"state_dict": net.state_dict(), "hyper_parameters": dict(net.hparams)}, paths[f"{stage}_ckpt"])
    model = RhythmicNet(stage="drum2music", music_d_model=32, music_encoder_layers=1, music_decoder_layers=1,
                        music_heads=2, music_feedforward=64, max_bar_tokens=32, **TINY, **drums, **paths)  # fmt: skip
    monkeypatch.setattr(model, "beat_activation", lambda keypoints: torch.zeros(keypoints.shape[:2]))
    source = synthetic_aistpp / "keypoints2d" / f"{video.stem.replace('_c01_', '_cAll_')}.pkl"
    with pytest.raises(ValueError, match=rf"no beat found in .*{video.name} \(0 beat\(s\) tracked\)"):
        model.generate_from_video(str(video), str(source), instrument="none")

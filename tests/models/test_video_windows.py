"""A whole video as consecutive model windows (models/video_windows.py): the windows cover the whole video, the last
one padded past its end; keypoint sources are read at their own frame rates."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from models.video_windows import keypoint_source_fps, keypoint_windows, video_info, window_count
from tests.helpers.real_formats import write_openpose_folder, write_video_file


def test_window_count_covers_the_duration() -> None:
    assert window_count(7.0, 6.0) == 2  # the last window is partial
    assert window_count(12.0, 6.0) == 2  # exact multiple: no empty window
    assert window_count(12.04, 6.0) == 3
    assert window_count(0.2, 6.0) == 1
    with pytest.raises(ValueError, match="clip_seconds"):
        window_count(7.0, 0.0)


def test_keypoint_source_rates() -> None:
    assert keypoint_source_fps("folder", 25.0) == 25.0  # OpenPose JSON: one file per video frame
    assert keypoint_source_fps("pose.npy", 25.0) == 22.0  # Foley Music pose files
    assert keypoint_source_fps("seq.pkl", 25.0) == 60.0  # AIST++ keypoints2d


def test_keypoint_windows_cover_a_7s_video(tmp_path: Path) -> None:
    video = write_video_file(tmp_path / "clip.mp4", 7.0, fps=25, size=(64, 48))
    keypoints = write_openpose_folder(tmp_path / "clip_openpose", 175, 25, name="clip")
    assert video_info(video) == pytest.approx((25.0, 7.0))
    windows = keypoint_windows(video, 6.0, 22.0, "body65", keypoints)
    assert windows.count == 2 and windows.duration == pytest.approx(7.0)
    assert windows.inputs.shape == (2, 132, 65, 3) and torch.isfinite(windows.inputs).all()
    assert [windows.start(k) for k in range(windows.count)] == [0.0, 6.0]
    confidence = windows.inputs[..., 2].numpy()
    assert (confidence[0] > 0).any(axis=1).all()  # every frame of the first window has the figure
    assert (confidence[1, :22] > 0).any(axis=1).all()  # the last second of the video starts the second window
    short = keypoint_windows(video, 3.5, 22.0, "body65", keypoints)
    assert short.count == 2 and short.inputs.shape[1] == 77
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        keypoint_windows(tmp_path / "missing.mp4", 6.0, 22.0, "body65", keypoints)

"""Raw video/images -> OpenPose JSON with MediaPipe in its own venv (datamodules.prepare.keypoints), for real."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from datamodules.keypoints import read_openpose_folder, read_openpose_json
from datamodules.layouts import BODY25_JOINTS
from datamodules.prepare.keypoints import openpose_module, prepare_keypoints, write_openpose_folder
from datamodules.video import write_video

J = {name: k for k, name in enumerate(BODY25_JOINTS)}


@pytest.fixture(scope="module")
def mediapipe_python() -> Path:
    from datamodules.prepare.mediapipe_env import ensure_venv

    try:
        return ensure_venv()
    except RuntimeError as error:
        pytest.skip(f"the MediaPipe venv cannot be created here ({str(error).splitlines()[0]})")


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    data = pytest.importorskip("skimage.data")
    return data.astronaut()  # a real photo of a person, RGB 512 x 512


def test_astronaut_gives_a_plausible_body25_skeleton(tmp_path: Path, mediapipe_python: Path, astronaut) -> None:
    src = tmp_path / "photos"
    src.mkdir()
    cv2.imwrite(str(src / "astronaut.png"), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    report = prepare_keypoints(src, tmp_path / "kp", backend="mediapipe", progress=False)
    assert report.ok and len(report.done) == 1
    path = tmp_path / "kp" / "astronaut_keypoints.json"
    data = json.loads(path.read_text())
    assert data["version"] == 1.3 and len(data["people"]) == 1
    person = data["people"][0]
    assert len(person["pose_keypoints_2d"]) == 75 and len(person["hand_left_keypoints_2d"]) == 63
    assert person["face_keypoints_2d"] == [] and person["pose_keypoints_3d"] == []
    kp = read_openpose_json(path)
    nose, neck, mid_hip, r_sh, l_sh = (kp[J[n]] for n in ("Nose", "Neck", "MidHip", "RShoulder", "LShoulder"))
    assert all(p[2] > 0 for p in (nose, neck, mid_hip, r_sh, l_sh)), kp[:9]
    assert nose[1] < neck[1] < mid_hip[1]  # image y grows downwards
    assert r_sh[0] < neck[0] < l_sh[0]  # she faces the camera: her right shoulder is on the image's left
    assert l_sh[0] - r_sh[0] > 100  # shoulders well apart (about 190 px in the photo)
    assert abs(neck[0] - (r_sh[0] + l_sh[0]) / 2) < 1 and abs(neck[1] - (r_sh[1] + l_sh[1]) / 2) < 1  # mid-shoulders
    assert 150 < nose[0] < 300 and 60 < nose[1] < 200  # her face is there in the photo
    assert kp[J["RSmallToe"], 2] == 0 and kp[J["LSmallToe"], 2] == 0  # MediaPipe has no small toes


def test_video_gives_one_json_per_frame_that_follows_the_person(tmp_path: Path, mediapipe_python, astronaut) -> None:
    small = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    frames = np.zeros((8, 256, 320, 3), np.uint8)
    for t in range(6):
        frames[t, :, 8 * t : 8 * t + 256] = small  # the person moves right by 8 px per frame
    src = tmp_path / "videos" / "take1"
    src.mkdir(parents=True)
    write_video(src / "clip.mp4", frames, fps=10, crf=12)
    (tmp_path / "videos" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(300))
    with pytest.raises(RuntimeError, match="1 of 2 inputs failed.*broken.mp4"):
        prepare_keypoints(tmp_path / "videos", tmp_path / "kp", backend="mediapipe", progress=False)
    folder = tmp_path / "kp" / "take1" / "clip"
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"clip_{t:012d}_keypoints.json" for t in range(8)]
    kp, numbers = read_openpose_folder(folder)
    assert kp.shape == (8, 67, 3) and numbers.tolist() == list(range(8))
    nose_x = kp[:6, J["Nose"], 0]
    assert np.all(kp[:6, J["Nose"], 2] > 0)
    assert np.all(np.diff(nose_x) > 4) and np.all(np.diff(nose_x) < 12), nose_x  # follows the 8-px steps
    assert json.loads((folder / "clip_000000000007_keypoints.json").read_text())["people"] == []  # black frame
    assert not (tmp_path / "kp" / "broken").exists()
    # the rerun skips the done video and fails the broken one again
    with pytest.raises(RuntimeError, match="broken.mp4"):
        prepare_keypoints(tmp_path / "videos", tmp_path / "kp", backend="mediapipe", progress=False)


def test_openpose_writer_round_trips_through_the_reader(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    kp = rng.uniform(1, 500, (3, 67, 3)).astype(np.float32)
    kp[..., 2] = rng.uniform(0.1, 1, (3, 67))
    kp[1] = 0  # nobody
    write_openpose_folder(tmp_path, "vid", kp)
    back, numbers = read_openpose_folder(tmp_path)
    np.testing.assert_allclose(back, kp, atol=1e-3)
    assert json.loads((tmp_path / "vid_000000000001_keypoints.json").read_text())["people"] == []


def test_openpose_backend_needs_pyopenpose(tmp_path: Path) -> None:
    if openpose_module() is not None:
        pytest.skip("OpenPose is importable here")
    (tmp_path / "a.png").write_bytes(b"")
    with pytest.raises(RuntimeError, match="pyopenpose"):
        prepare_keypoints(tmp_path, tmp_path / "out", backend="openpose", progress=False)


def test_mediapipe_venv_needs_a_supported_python(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from datamodules.prepare import mediapipe_env

    assert not mediapipe_env.is_ready(tmp_path / "venv")
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    (tmp_path / "venv" / "bin" / "python").write_text("")
    assert not mediapipe_env.is_ready(tmp_path / "venv")  # an unfinished creation (no stamp) is not ready
    monkeypatch.setattr(mediapipe_env.sys, "version_info", SimpleNamespace(major=3, minor=13))
    monkeypatch.setattr(mediapipe_env.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="needs Python 3.9-3.12.*make mediapipe-venv"):
        mediapipe_env.base_python()

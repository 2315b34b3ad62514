"""Raw video -> keypoints in OpenPose's JSON layout (BODY_25 + both hands, OpenPose 1.3 schema; docs/DATASETS.md §9).

Backends:

- ``openpose``: OpenPose's own Python API (``pyopenpose``), when it is importable and its models folder is given
  (``openpose_models`` or ``$OPENPOSE_MODELS``): BODY_25 with ``hand=True``, exactly what ``--write_json`` writes.
- ``mediapipe``: MediaPipe 0.10.21 Holistic (bundled models, ``model_complexity=1``) in its own venv
  (:mod:`datamodules.prepare.mediapipe_env`), run as a subprocess (:mod:`datamodules.prepare.mediapipe_worker`);
  its Pose 33 + hands are mapped to BODY_25 + hands by :func:`datamodules.layouts.convert` (Neck = mid-shoulders,
  MidHip = mid-hips; small toes, which MediaPipe lacks, are not detected).
- ``auto``: OpenPose when importable, else MediaPipe.

Output for a video ``<stem>.mp4``: the folder ``<out>/<rel>/<stem>/`` with one
``<stem>_<12-digit frame>_keypoints.json`` per frame (OpenPose ``--write_json``); for an image,
``<out>/<rel>/<stem>_keypoints.json`` (OpenPose ``--image_dir``). Frames where nobody is found have ``"people": []``.
Read them back with :func:`datamodules.keypoints.read_openpose_folder`.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Literal, Optional

import numpy as np

from datamodules.keypoints import clean
from datamodules.layouts import convert
from datamodules.prepare.jobs import Job, Report, collect, mirror, run_jobs

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
WORKER = Path(__file__).with_name("mediapipe_worker.py")
Backend = Literal["auto", "openpose", "mediapipe"]


# ------------------------------------------------------------------------------------------------- OpenPose JSON I/O
def openpose_person(keypoints: np.ndarray) -> dict[str, Any]:
    """One ``people`` entry of the 1.3 schema from ``[67, 3]`` keypoints in layout ``openpose67``."""
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.shape != (67, 3):
        raise ValueError(f"openpose_person: expected [67, 3] (BODY_25 + 2 hands), got {kp.shape}")

    def flat(a: np.ndarray) -> list[float]:
        return [round(float(v), 3) for v in a.reshape(-1)]

    return {
        "person_id": [-1],
        "pose_keypoints_2d": flat(kp[:25]),
        "face_keypoints_2d": [],
        "hand_left_keypoints_2d": flat(kp[25:46]),
        "hand_right_keypoints_2d": flat(kp[46:67]),
        "pose_keypoints_3d": [],
        "face_keypoints_3d": [],
        "hand_left_keypoints_3d": [],
        "hand_right_keypoints_3d": [],
    }


def write_openpose_json(path: Path, people: list[np.ndarray]) -> Path:
    """Write one OpenPose frame file (``people``: ``[67, 3]`` arrays; empty = nobody detected)."""
    data = {"version": 1.3, "people": [openpose_person(p) for p in people]}
    path = Path(path)
    path.write_text(json.dumps(data, separators=(",", ":")))
    return path


def write_openpose_folder(folder: Path, stem: str, keypoints: np.ndarray) -> list[Path]:
    """Write ``[T, 67, 3]`` keypoints (one person per frame, all-zero = nobody) as ``<stem>_<%012d>_keypoints.json``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for t, frame in enumerate(np.asarray(keypoints)):
        people = [frame] if np.any(frame[:, 2] > 0) else []
        paths.append(write_openpose_json(folder / f"{stem}_{t:012d}_keypoints.json", people))
    return paths


# ------------------------------------------------------------------------------------------------------ backends
def openpose_module() -> Optional[Any]:
    """OpenPose's Python API module when importable (``from openpose import pyopenpose`` or ``import pyopenpose``)."""
    try:
        from openpose import pyopenpose  # type: ignore[import-not-found]

        return pyopenpose
    except ImportError:
        pass
    try:
        import pyopenpose  # type: ignore[import-not-found]

        return pyopenpose
    except ImportError:
        return None


def resolve_backend(backend: Backend) -> str:
    if backend not in ("auto", "openpose", "mediapipe"):
        raise ValueError(f"unknown keypoint backend {backend!r} (auto, openpose, mediapipe)")
    if backend == "auto":
        return "openpose" if openpose_module() is not None else "mediapipe"
    if backend == "openpose" and openpose_module() is None:
        raise RuntimeError(
            "keypoints: backend 'openpose' asked for, but OpenPose's Python API (pyopenpose) is not importable"
        )
    return backend


def extract_mediapipe(
    path: Path, min_visibility: float = 0.1, margin: float = 0.1, python: Optional[Path] = None
) -> tuple[np.ndarray, float]:
    """(keypoints ``[T, 67, 3]`` in ``openpose67``, fps; 0 for an image) of a video or image, via the MediaPipe venv."""
    from datamodules.prepare.mediapipe_env import ensure_venv

    python = python or ensure_venv()
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="v2m-mediapipe-") as tmp:
        out = Path(tmp) / "landmarks.npz"
        command = [str(python), str(WORKER), str(path), str(out), "--min-visibility", str(min_visibility)]
        command += ["--margin", str(margin)]
        if path.suffix.lower() in IMAGE_SUFFIXES:
            command.append("--image")
        env = dict(os.environ, GLOG_minloglevel="2", TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH="")
        result = subprocess.run(command, capture_output=True, text=True, env=env)
        if result.returncode != 0 or not out.is_file():
            stderr = (result.stderr or "").strip().splitlines()
            ours = [line for line in stderr if line.startswith("mediapipe:")]
            cause = ours[-1] if ours else (stderr[-1] if stderr else f"exit status {result.returncode}, no output")
            raise RuntimeError(f"MediaPipe failed on {path}: {cause}")
        with np.load(out) as data:
            landmarks, fps = data["landmarks"].astype(np.float32), float(data["fps"])
    return clean(convert(landmarks, "mediapipe75", "openpose67")), fps


def _frames(capture: Any) -> Any:
    """BGR frames of an open ``cv2.VideoCapture`` until the end."""
    while True:
        ok, frame = capture.read()
        if not ok:
            capture.release()
            return
        yield frame


def extract_openpose(path: Path, models: Optional[str] = None) -> tuple[np.ndarray, float]:
    """(keypoints ``[T, 67, 3]``, fps) of a video or image with OpenPose's Python API (BODY_25 + hands); the most
    confident person per frame."""
    import cv2

    op = openpose_module()
    if op is None:
        raise RuntimeError("OpenPose's Python API (pyopenpose) is not importable")
    models = models or os.environ.get("OPENPOSE_MODELS")
    if not models or not Path(models).is_dir():
        raise FileNotFoundError(
            f"OpenPose models folder {models!r} not found: pass openpose_models=<openpose>/models "
            "or set OPENPOSE_MODELS"
        )
    wrapper = op.WrapperPython()
    wrapper.configure({"model_folder": str(models), "model_pose": "BODY_25", "hand": True, "display": 0})
    wrapper.start()
    path = Path(path)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        image = cv2.imread(str(path))
        if image is None:
            raise RuntimeError(f"cannot read image {path}")
        images, fps = [image], 0.0
    else:
        capture = cv2.VideoCapture(str(path))
        if not capture.isOpened():
            raise RuntimeError(f"cannot open video {path} (corrupt or not a video)")
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        images = _frames(capture)
    frames = []
    for image in images:
        datum = op.Datum()
        datum.cvInputData = image
        wrapper.emplaceAndPop(op.VectorDatum([datum]))
        pose, hands = datum.poseKeypoints, datum.handKeypoints
        frame = np.zeros((67, 3), dtype=np.float32)
        if pose is not None and np.ndim(pose) == 3 and len(pose):
            best = int(np.argmax(pose[:, :, 2].sum(axis=1)))
            frame[:25] = pose[best]
            for offset, side in ((25, 0), (46, 1)):
                if hands is not None and hands[side] is not None and np.ndim(hands[side]) == 3:
                    frame[offset : offset + 21] = hands[side][best]
        frames.append(frame)
    if not frames:
        raise RuntimeError(f"no frame could be decoded from {path} (corrupt or empty video)")
    return np.stack(frames), fps


def extract(path: Path, backend: Backend = "auto", **options: Any) -> tuple[np.ndarray, float]:
    """Keypoints ``[T, 67, 3]`` (``openpose67``) and fps of one video or image with the chosen backend."""
    if resolve_backend(backend) == "openpose":
        return extract_openpose(path, options.get("openpose_models"))
    return extract_mediapipe(path, min_visibility=options.get("min_visibility", 0.1), margin=options.get("margin", 0.1))


# ------------------------------------------------------------------------------------------------------------ task
def prepare_keypoints(
    src: Path,
    out: Path,
    backend: Backend = "auto",
    overwrite: bool = False,
    progress: bool = True,
    openpose_models: Optional[str] = None,
    min_visibility: float = 0.1,
    margin: float = 0.1,
) -> Report:
    """Every video (and image) under ``src`` -> OpenPose JSON under ``out`` (see the module docstring)."""
    src, out = Path(src), Path(out)
    backend = resolve_backend(backend)
    files = collect(src, VIDEO_SUFFIXES + IMAGE_SUFFIXES, "video or image")
    jobs = []
    for path in files:
        if path.suffix.lower() in IMAGE_SUFFIXES:
            target = mirror(src, path, out, "")
            jobs.append(Job(path, target.with_name(f"{target.name}_keypoints.json")))
        else:
            jobs.append(Job(path, mirror(src, path, out, ""), folder=True))
    if backend == "mediapipe" and any(not job.out.exists() or overwrite for job in jobs):
        from datamodules.prepare.mediapipe_env import ensure_venv

        ensure_venv()  # once, before the progress bar, with its own message
    options = {"openpose_models": openpose_models, "min_visibility": min_visibility, "margin": margin}

    def work(job: Job, tmp: Path) -> None:
        keypoints, _ = extract(job.src, backend, **options)
        if job.folder:
            write_openpose_folder(tmp, job.src.stem, keypoints)
        else:
            people = [keypoints[0]] if np.any(keypoints[0][:, 2] > 0) else []
            write_openpose_json(tmp, people)

    return run_jobs(jobs, work, "keypoints", overwrite=overwrite, progress=progress)


__all__ = [
    "extract",
    "extract_mediapipe",
    "extract_openpose",
    "openpose_module",
    "openpose_person",
    "prepare_keypoints",
    "write_openpose_folder",
    "write_openpose_json",
]

"""Clip-loading throughput against raw decode speed, for video and keypoints.

    .venv/bin/python benchmarks/loading.py [--seconds 20] [--clips 40] [--json out.json]

Writes a test video (640x360, 29.97 fps, moving content, H.264), an OpenPose JSON folder and a Foley npy of the same
length into a temporary folder, then measures:

- video: raw sequential decode of every frame (decord, PyAV) vs. random 6-s clips at 22 fps through
  ``VideoFile.read_clip`` (seek + decode + resize to 224x224) and through the full ``RecordingClips`` sample path;
- keypoints: raw parsing of the OpenPose folder / reading the npy vs. random 6-s clips through ``keypoint_clip``
  (interpolation, resampling 29.97 -> 22 fps, body65 conversion, normalisation) and the ``RecordingClips`` path.

Rates are frames (or keypoint frames) per second of wall time on one core.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from datamodules import keypoints as kp  # noqa: E402
from datamodules.fields import keypoint_clip  # noqa: E402
from datamodules.recordings import ClipOptions, KeypointSource, Recording, RecordingClips  # noqa: E402
from datamodules.video import VideoFile, write_video  # noqa: E402

FPS = 30000 / 1001
CLIP_S, CLIP_FPS = 6.0, 22.0


def make_data(folder: Path, seconds: float) -> tuple[Path, Path, Path]:
    from tests.helpers.real_formats import foley_body65, write_openpose_folder

    n = int(round(seconds * FPS))
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (360, 640, 3), dtype=np.uint8)
    frames = np.stack([np.roll(base, 4 * k, axis=1) for k in range(n)])
    video = write_video(folder / "bench.mp4", frames, FPS)
    openpose = write_openpose_folder(folder / "openpose", n, FPS, name="bench", empty=tuple(range(5, n, 50)))
    npy = folder / "bench.npy"
    np.save(npy, foley_body65(int(seconds * 22)))
    return video, openpose, npy


def rate(count: float, seconds: float) -> float:
    return count / max(seconds, 1e-9)


def timed(fn, repeat: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def bench(seconds: float, clips: int) -> dict[str, float]:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    results: dict[str, float] = {}
    clip_frames = int(CLIP_S * CLIP_FPS)
    with tempfile.TemporaryDirectory() as tmp:
        video, openpose, npy = make_data(Path(tmp), seconds)
        n = VideoFile(video).num_frames

        # ---- video: raw decode
        import av
        import decord

        def decord_all() -> None:
            reader = decord.VideoReader(str(video), ctx=decord.cpu(0), num_threads=1)
            for start in range(0, len(reader), 64):
                reader.get_batch(list(range(start, min(start + 64, len(reader))))).asnumpy()

        def pyav_all() -> None:
            with av.open(str(video)) as container:
                for frame in container.decode(video=0):
                    frame.to_ndarray(format="rgb24")

        results["video_raw_decord_fps"] = rate(n, timed(decord_all))
        results["video_raw_pyav_fps"] = rate(n, timed(pyav_all))

        # ---- video: clips
        reader = VideoFile(video)
        starts = torch.rand(clips).numpy() * (seconds - CLIP_S)
        reader.read_clip(0.0, 2)  # open
        t = timed(lambda: [reader.read_clip(float(s), clip_frames, CLIP_FPS, size=(224, 224)) for s in starts])
        results["video_clip_read_fps"] = rate(clips * clip_frames, t)
        results["video_clip_read_clips_per_s"] = rate(clips, t)
        pyav_reader = VideoFile(video, backend="pyav")
        t = timed(lambda: [pyav_reader.read_clip(float(s), clip_frames, CLIP_FPS, size=(224, 224)) for s in starts])
        results["video_clip_read_pyav_fps"] = rate(clips * clip_frames, t)
        rec = Recording("bench", 0.0, seconds, video=video)
        ds = RecordingClips([rec], ClipOptions(fields=("frames",), fps=CLIP_FPS), CLIP_S, train=True, dataset="bench",
                            clips_per_epoch=clips)  # fmt: skip
        t = timed(lambda: [ds[i] for i in range(clips)])
        results["video_dataset_fps"] = rate(clips * clip_frames, t)

        # ---- keypoints: raw
        t = timed(lambda: kp.read_openpose_folder(openpose))
        results["keypoints_raw_openpose_json_fps"] = rate(n, t)
        nk = np.load(npy, mmap_mode="r").shape[0]
        t = timed(lambda: kp.read_foley_pose(npy), repeat=5)
        results["keypoints_raw_foley_npy_fps"] = rate(nk, t)

        # ---- keypoints: clips (OpenPose already parsed and cached, as in a worker after its first clip)
        source = KeypointSource("openpose", openpose, FPS)
        source.read(0, 1)
        kstarts = torch.rand(clips).numpy() * (seconds - CLIP_S)

        def op_clips() -> None:
            for s in kstarts:
                keypoint_clip(source.read, "openpose67", FPS, float(s), CLIP_S, CLIP_FPS, layout="body65")

        t = timed(op_clips)
        results["keypoints_clip_openpose_fps"] = rate(clips * clip_frames, t)
        results["keypoints_clip_openpose_clips_per_s"] = rate(clips, t)
        npy_source = KeypointSource("foley", npy, 22.0)

        def npy_clips() -> None:
            for s in kstarts:
                keypoint_clip(npy_source.read, "body65", 22.0, float(s), CLIP_S, CLIP_FPS)

        t = timed(npy_clips)
        results["keypoints_clip_foley_npy_fps"] = rate(clips * clip_frames, t)
        rec = Recording("bench", 0.0, seconds, keypoints=npy_source)
        ds = RecordingClips([rec], ClipOptions(fields=("keypoints",), fps=CLIP_FPS, keypoint_layout="body65"), CLIP_S,
                            train=True, dataset="bench", clips_per_epoch=clips)  # fmt: skip
        t = timed(lambda: [ds[i] for i in range(clips)])
        results["keypoints_dataset_foley_npy_fps"] = rate(clips * clip_frames, t)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the test recording")
    parser.add_argument("--clips", type=int, default=40, help="random clips to load per measurement")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args()
    results = bench(args.seconds, args.clips)
    width = max(map(len, results))
    for key, value in results.items():
        print(f"{key:<{width}}  {value:10.1f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

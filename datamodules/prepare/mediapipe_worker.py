"""MediaPipe Holistic landmarks of a video or image, run INSIDE the MediaPipe venv (see ``mediapipe_env``).

MediaPipe 0.10.21 (the last release with ``mp.solutions`` and bundled models) pins numpy<2 and protobuf<5, so it
cannot be imported by the suite's own environment; this script is executed by the venv's interpreter as a
subprocess and imports nothing from the project. It writes an ``.npz`` with

- ``landmarks`` float32 [T, 75, 3]: MediaPipe Pose 33 + left hand 21 + right hand 21 (the subject's hands), x and y in
  pixels, confidence = Pose ``visibility`` (hands: 1 when the hand was found); undetected = (0, 0, 0). This is the
  suite's ``mediapipe75`` layout; the main process maps it to OpenPose BODY_25 + hands with
  :func:`datamodules.layouts.convert`.
- ``fps`` (the video's rate; 0 for an image), ``width``, ``height``.

Usage: ``python mediapipe_worker.py INPUT OUT.npz [--image]``. Exit status 2 with one line on stderr naming the file
when the input cannot be read.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def _points(landmarks, count: int, width: int, height: int, hand: bool, min_visibility: float, margin: float):
    """Pixel landmarks; a point is kept (else (0, 0, 0), OpenPose's "not detected") when its visibility reaches
    ``min_visibility`` and it lies inside the frame grown by ``margin`` (a fraction of its size) on every side:
    MediaPipe extrapolates whole bodies far outside the picture, OpenPose reports only what it sees."""
    out = np.zeros((count, 3), dtype=np.float32)
    if landmarks is None:
        return out
    for k, lm in enumerate(landmarks.landmark):
        x, y = lm.x * width, lm.y * height
        conf = 1.0 if hand else float(lm.visibility)
        inside = -margin * width <= x < (1 + margin) * width and -margin * height <= y < (1 + margin) * height
        if inside and conf >= min_visibility:
            out[k] = (x, y, conf)
    return out


def _frame_landmarks(holistic, rgb: np.ndarray, min_visibility: float, margin: float) -> np.ndarray:
    height, width = rgb.shape[:2]
    result = holistic.process(rgb)
    parts = (
        (result.pose_landmarks, 33, False),
        (result.left_hand_landmarks, 21, True),
        (result.right_hand_landmarks, 21, True),
    )
    return np.concatenate([_points(lm, n, width, height, hand, min_visibility, margin) for lm, n, hand in parts])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input")
    parser.add_argument("out")
    parser.add_argument("--image", action="store_true", help="treat INPUT as a still image")
    parser.add_argument("--min-visibility", type=float, default=0.1, help="drop pose points less visible than this")
    parser.add_argument("--margin", type=float, default=0.1, help="keep points this far outside the frame (fraction)")
    args = parser.parse_args(argv)

    import cv2
    import mediapipe as mp

    is_image = args.image or args.input.lower().endswith(IMAGE_SUFFIXES)
    if not os.path.isfile(args.input):
        print(f"mediapipe: input {args.input} does not exist", file=sys.stderr)
        return 2
    frames: list[np.ndarray] = []
    fps = 0.0
    holistic = mp.solutions.holistic.Holistic(
        static_image_mode=is_image, model_complexity=1, smooth_landmarks=not is_image, refine_face_landmarks=False
    )
    try:
        if is_image:
            bgr = cv2.imread(args.input, cv2.IMREAD_COLOR)
            if bgr is None:
                print(f"mediapipe: cannot read image {args.input}", file=sys.stderr)
                return 2
            height, width = bgr.shape[:2]
            frames.append(
                _frame_landmarks(holistic, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), args.min_visibility, args.margin)
            )
        else:
            capture = cv2.VideoCapture(args.input)
            if not capture.isOpened():
                print(f"mediapipe: cannot open video {args.input} (corrupt or not a video)", file=sys.stderr)
                return 2
            fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
            width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
            height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
            while True:
                ok, bgr = capture.read()
                if not ok:
                    break
                frames.append(
                    _frame_landmarks(holistic, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), args.min_visibility, args.margin)
                )
            capture.release()
            if not frames:
                print(
                    f"mediapipe: no frame could be decoded from {args.input} (corrupt or empty video)", file=sys.stderr
                )
                return 2
    finally:
        holistic.close()
    tmp = args.out + ".tmp.npz"
    np.savez(tmp, landmarks=np.stack(frames), fps=np.float64(fps), width=np.int64(width), height=np.int64(height))
    os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Stick-figure video of synthetic people: skeletons (and instruments) drawn with OpenCV, encoded with PyAV.

Frames are drawn from the exact joints (the "real" scene); the keypoint files hold the detector-like noisy version.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from datamodules.layouts import get_layout

LIMB_COLOURS = ((230, 90, 60), (60, 160, 230), (90, 200, 90), (220, 200, 60), (200, 90, 200))


def fps_fraction(fps: float) -> Fraction:
    """29.97 -> 30000/1001 (NTSC rates exactly), other rates as a small fraction."""
    for ntsc in (24, 30, 60):
        if abs(fps - ntsc * 1000 / 1001) < 1e-3:
            return Fraction(ntsc * 1000, 1001)
    return Fraction(fps).limit_denominator(1001)


def draw_frame(
    size: tuple[int, int],
    people: Sequence[np.ndarray],
    layout: str,
    background: tuple[int, int, int] = (28, 30, 36),
    props: Sequence[tuple[np.ndarray, float, tuple[int, int, int]]] = (),
    thickness: int = 2,
) -> np.ndarray:
    """One RGB frame ``[H, W, 3]`` uint8: ``props`` (polyline, width px, colour) under each skeleton ``[J, 2]``."""
    width, height = size
    frame = np.empty((height, width, 3), dtype=np.uint8)
    frame[:] = background
    cv2.line(frame, (0, int(height * 0.93)), (width - 1, int(height * 0.93)), (70, 70, 80), 1)
    for points, line_width, colour in props:
        pts = np.round(points).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(frame, [pts], False, colour, max(1, int(round(line_width))), cv2.LINE_AA)
    edges = np.array(get_layout(layout).edges)
    for joints in people:
        pts = np.round(joints[:, :2]).astype(np.int32)
        segments = pts[edges]  # [E, 2, 2]
        for colour_index, colour in enumerate(LIMB_COLOURS):  # one OpenCV call per colour, not per bone
            chosen = segments[colour_index :: len(LIMB_COLOURS)]
            cv2.polylines(frame, list(chosen.reshape(-1, 2, 1, 2)), False, colour, thickness, cv2.LINE_AA)
        for p in pts[:25]:
            cv2.circle(frame, (int(p[0]), int(p[1])), max(1, thickness - 1), (245, 245, 245), -1)
    return frame


def write_mp4(path: Path, frames: Iterable[np.ndarray], fps: float, size: tuple[int, int], crf: int = 28) -> Path:
    """Encode RGB frames to an H.264 MP4 (yuv420p) at ``fps`` with PyAV; written to a temporary name, then renamed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.mp4")
    with av.open(str(tmp), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps_fraction(fps))
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": str(crf)}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    tmp.replace(path)
    return path


__all__ = ["draw_frame", "fps_fraction", "write_mp4"]

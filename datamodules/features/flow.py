"""Optical-flow features of video at 1 fps with OpenCV's Farneback flow (Farnebäck, SCIA 2003): a real, offline
stand-in for V2Meow's (§3.1) I3D-flow embeddings (Kinetics weights cannot be had here), also usable by any model that
wants motion features (e.g. a Foley Music ablation).

For every second ``[t, t+1)`` of the video, ``pairs`` frame pairs (the native frame on screen at ``t + (k+0.5)/pairs``
and the next native frame) are converted to grayscale, resized to ``width`` pixels wide, and their dense flow is
computed. The second is described by (D = 45):

- a 2x2-grid histogram of optical flow (HOF, Laptev et al., CVPR 2008): per cell 8 orientation bins weighted by flow
  magnitude plus one bin for static pixels (|flow| < ``static`` px), L1-normalised per cell (36);
- the mean flow magnitude per cell (4), in pixels per native frame at the resized scale;
- the mean horizontal and vertical flow of the whole frame (2);
- the mean, standard deviation and maximum over the pairs of the frame's mean magnitude (3), a cue for rhythm.
"""

from __future__ import annotations

import cv2
import numpy as np

GRID = 2
ORIENTATIONS = 8
DIM = GRID * GRID * (ORIENTATIONS + 1) + GRID * GRID + 2 + 3


def farneback(prev_gray: np.ndarray, gray: np.ndarray) -> np.ndarray:
    """Dense flow ``[H, W, 2]`` (dx, dy in pixels) from ``prev_gray`` to ``gray`` (uint8 grayscale)."""
    return cv2.calcOpticalFlowFarneback(
        prev_gray, gray, None, pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2, flags=0
    )


def describe_pair(flow: np.ndarray, static: float = 0.2) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(HOF [cells, 9] unnormalised, cell magnitudes [cells], mean (dx, dy), mean magnitude) of one flow field."""
    h, w = flow.shape[:2]
    magnitude = np.hypot(flow[..., 0], flow[..., 1])
    angle = np.mod(np.arctan2(flow[..., 1], flow[..., 0]), 2 * np.pi)
    bins = np.minimum((angle / (2 * np.pi) * ORIENTATIONS).astype(np.int64), ORIENTATIONS - 1)
    moving = magnitude >= static
    hof = np.zeros((GRID * GRID, ORIENTATIONS + 1), dtype=np.float64)
    cell_mag = np.zeros(GRID * GRID, dtype=np.float64)
    ys = np.linspace(0, h, GRID + 1).astype(int)
    xs = np.linspace(0, w, GRID + 1).astype(int)
    for i in range(GRID):
        for j in range(GRID):
            sl = (slice(ys[i], ys[i + 1]), slice(xs[j], xs[j + 1]))
            c = i * GRID + j
            m, b, mv = magnitude[sl], bins[sl], moving[sl]
            hof[c, :ORIENTATIONS] = np.bincount(b[mv], weights=m[mv], minlength=ORIENTATIONS)
            hof[c, ORIENTATIONS] = float((~mv).sum()) * static  # static pixels, on the same scale as the weights
            cell_mag[c] = float(m.mean()) if m.size else 0.0
    mean_flow = flow.reshape(-1, 2).mean(axis=0)
    return hof, cell_mag, mean_flow, float(magnitude.mean())


class FarnebackFlowFeatures:
    """Per-second optical-flow descriptors ``[T, 45]`` of a video (see the module docstring)."""

    dim = DIM

    def __init__(self, pairs: int = 4, width: int = 160, static: float = 0.2) -> None:
        if pairs < 1 or width < 16:
            raise ValueError(f"flow features need pairs >= 1 and width >= 16, got {pairs}, {width}")
        self.pairs, self.width, self.static = int(pairs), int(width), float(static)

    def describe(self, pairs: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """The 45-d descriptor of one second from its grayscale frame pairs."""
        hof = np.zeros((GRID * GRID, ORIENTATIONS + 1))
        cell_mag = np.zeros(GRID * GRID)
        mean_flow = np.zeros(2)
        mags = []
        for prev, cur in pairs:
            h, c, f, m = describe_pair(farneback(prev, cur), self.static)
            hof += h
            cell_mag += c
            mean_flow += f
            mags.append(m)
        n = max(1, len(pairs))
        hof /= np.maximum(hof.sum(axis=1, keepdims=True), 1e-12)
        mags = np.asarray(mags) if mags else np.zeros(1)
        stats = [mags.mean(), mags.std(), mags.max()]
        return np.concatenate([hof.reshape(-1), cell_mag / n, mean_flow / n, stats]).astype(np.float32)

    def video(self, video: object, seconds: int) -> np.ndarray:
        """Features ``[seconds, 45]`` of a :class:`datamodules.video.VideoFile` (rows t = 0..seconds-1)."""
        fps, n = video.fps, video.num_frames
        w, h = video.size
        size = (self.width, max(16, int(round(h * self.width / w))))
        out = np.zeros((seconds, self.dim), dtype=np.float32)
        for t in range(seconds):
            first = np.floor((t + (np.arange(self.pairs) + 0.5) / self.pairs) * fps + 1e-6).astype(np.int64)
            first = np.minimum(first, max(0, n - 2))
            indices = np.stack([first, np.minimum(first + 1, n - 1)], axis=1).reshape(-1)
            frames = video.read_frames(indices, gray=True, size=size)
            out[t] = self.describe([(frames[2 * k], frames[2 * k + 1]) for k in range(self.pairs)])
        return out


__all__ = ["DIM", "FarnebackFlowFeatures", "describe_pair", "farneback"]

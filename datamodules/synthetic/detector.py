"""What a 2-D keypoint detector (OpenPose, MediaPipe) reports about a known pose: jitter, confidences, misses.

Applied to the exact rule-generated joints before they are written, so that the synthetic keypoint files look like
detector output: Gaussian jitter (larger on hands), confidences that drop with jitter, isolated missed joints and
short bursts in which a whole hand is lost; a missed joint is written as OpenPose writes it, ``(0, 0, 0)``.
"""

from __future__ import annotations

import numpy as np


def observe(
    joints: np.ndarray,
    rng: np.random.Generator,
    scale: float,
    hands: tuple[slice, ...] = (),
    jitter: float = 0.006,
    hand_jitter: float = 0.01,
    miss_rate: float = 0.008,
    hand_burst_rate: float = 0.002,
) -> np.ndarray:
    """Detector-like keypoints ``[T, J, 3]`` (x, y, confidence) float32 from exact joints ``[T, J, 2]``.

    Args:
        joints: exact positions in pixels.
        rng: random generator (the dataset seed).
        scale: the person's size in pixels (neck to mid-hip); jitter is relative to it.
        hands: slices of the joint axis that belong to hands (noisier, lower confidence, lost in bursts).
        jitter: standard deviation of body jitter (fraction of ``scale``).
        hand_jitter: the same for hand points.
        miss_rate: probability that one joint is missed in one frame.
        hand_burst_rate: per frame and hand, the probability that a burst of 3-12 missed frames starts.
    """
    frames, count = joints.shape[:2]
    sigma = np.full(count, jitter * scale)
    base_conf = np.full(count, 0.85)
    for part in hands:
        sigma[part] = hand_jitter * scale
        base_conf[part] = 0.65
    noise = rng.normal(size=(frames, count, 2)) * sigma[None, :, None]
    out = np.empty((frames, count, 3), dtype=np.float32)
    out[..., :2] = joints + noise
    spread = np.abs(rng.normal(size=(frames, count))) * 0.08
    out[..., 2] = np.clip(base_conf[None] - spread, 0.05, 0.99)
    missed = rng.random((frames, count)) < miss_rate
    for part in hands:
        starts = np.where(rng.random(frames) < hand_burst_rate)[0]
        for start in starts:
            missed[start : start + int(rng.integers(3, 13)), part] = True
    out[missed] = 0.0
    return out


__all__ = ["observe"]

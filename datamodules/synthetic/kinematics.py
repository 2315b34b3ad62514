"""2-D forward kinematics for the synthetic people: an OpenPose 21-point hand from wrist, direction and finger flexion,
and a two-link arm solved by inverse kinematics. All functions are vectorised over frames ``[T, ...]``.

Written here because no installed library draws image-plane skeletons from joint parameters (the pose libraries we
have detect keypoints, they do not synthesise them).
"""

from __future__ import annotations

import numpy as np

# per finger (thumb, index, middle, ring, pinky): base angle from the hand axis (deg, towards the thumb side
# negative), palm bone length and the three phalanx lengths, as fractions of the hand length (wrist -> middle tip)
FINGER_ANGLE = np.array([-52.0, -13.0, 0.0, 11.0, 22.0])
PALM = np.array([0.17, 0.47, 0.48, 0.45, 0.42])
PHALANX = np.array([[0.22, 0.18, 0.15], [0.24, 0.15, 0.12], [0.27, 0.17, 0.13], [0.25, 0.16, 0.12], [0.19, 0.12, 0.1]])
BEND = np.radians([38.0, 55.0, 40.0])  # rotation of each phalanx at full flexion
FORESHORTEN = 0.45  # a fully flexed phalanx points partly out of the image plane: its projection shrinks


def rotate(vectors: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotate ``[..., 2]`` vectors by ``angle`` radians (broadcast over the leading axes)."""
    c, s = np.cos(angle), np.sin(angle)
    x, y = vectors[..., 0], vectors[..., 1]
    return np.stack([c * x - s * y, s * x + c * y], axis=-1)


def unit(angle: np.ndarray) -> np.ndarray:
    """Unit vectors ``[..., 2]`` pointing at ``angle`` radians (image coordinates: x right, y down)."""
    return np.stack([np.cos(angle), np.sin(angle)], axis=-1)


def hand(
    wrist: np.ndarray,
    angle: np.ndarray,
    length: float,
    flex: np.ndarray,
    spread: np.ndarray | None = None,
    thumb_side: float = -1.0,
) -> np.ndarray:
    """The 21 OpenPose hand points ``[T, 21, 2]``.

    Args:
        wrist: ``[T, 2]`` wrist positions.
        angle: ``[T]`` direction of the hand axis (wrist -> middle knuckle), radians.
        length: hand length (wrist -> middle fingertip when extended).
        flex: ``[T, 5]`` flexion of thumb..pinky in [0, 1] (0 extended, 1 curled onto a string/key/hole).
        spread: ``[T, 5]`` extra abduction of each finger, radians (where a finger reaches along a string).
        thumb_side: -1 or +1: which side of the axis the thumb lies on (mirror image of a left vs right hand,
            palm towards or away from the camera). Fingers curl towards the thumb side.
    """
    wrist = np.asarray(wrist, dtype=np.float64)
    frames = len(wrist)
    flex = np.clip(np.broadcast_to(flex, (frames, 5)), 0.0, 1.0)
    spread = np.zeros((frames, 5)) if spread is None else np.broadcast_to(spread, (frames, 5))
    out = np.empty((frames, 21, 2))
    out[:, 0] = wrist
    for finger in range(5):
        direction = angle - thumb_side * np.radians(FINGER_ANGLE[finger]) + spread[:, finger]
        base = wrist + length * PALM[finger] * unit(direction)
        out[:, 1 + 4 * finger] = base
        point = base
        bend = np.zeros(frames)
        for k in range(3):
            bend = bend + thumb_side * BEND[k] * flex[:, finger] * (0.6 if finger == 0 else 1.0)
            seg = length * PHALANX[finger, k] * (1.0 - FORESHORTEN * flex[:, finger])
            point = point + seg[:, None] * unit(direction + bend)
            out[:, 2 + 4 * finger + k] = point
    return out


def arm(shoulder: np.ndarray, wrist: np.ndarray, upper: float, fore: float, elbow_down: bool = True) -> np.ndarray:
    """Elbow positions ``[T, 2]`` of a two-link arm reaching from ``shoulder`` to ``wrist`` (law of cosines).

    Of the two solutions the one with the lower elbow (larger image y) is taken, or the higher one with
    ``elbow_down=False``; a wrist out of reach straightens the arm towards it.
    """
    delta = wrist - shoulder
    dist = np.clip(np.linalg.norm(delta, axis=-1), 1e-6, None)
    reach = np.clip(dist, abs(upper - fore) + 1e-6, upper + fore - 1e-6)
    cos_a = np.clip((upper**2 + reach**2 - fore**2) / (2 * upper * reach), -1.0, 1.0)
    alpha = np.arccos(cos_a)
    direction = delta / dist[:, None]
    first = shoulder + upper * rotate(direction, alpha)
    second = shoulder + upper * rotate(direction, -alpha)
    pick_first = (first[:, 1] > second[:, 1]) if elbow_down else (first[:, 1] < second[:, 1])
    return np.where(pick_first[:, None], first, second)


__all__ = ["arm", "hand", "rotate", "unit"]

"""Pinhole cameras on a ring around a stage, and the projection of 3-D joints into their images (OpenCV conventions:
camera x right, y down, z forward; world y up, metres).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Camera:
    """Intrinsics ``matrix`` (3x3), world->camera rotation ``rotation`` (3x3) and ``translation`` (3,), image size."""

    name: str
    matrix: np.ndarray
    rotation: np.ndarray
    translation: np.ndarray
    size: tuple[int, int]

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixels ``[..., 2]`` and depth ``[...]`` of world points ``[..., 3]``."""
        cam = points @ self.rotation.T + self.translation
        depth = cam[..., 2]
        uv = cam[..., :2] / depth[..., None]
        pixels = uv * np.diag(self.matrix)[:2] + self.matrix[:2, 2]
        return pixels, depth


def look_at(position: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotation and translation of a camera at ``position`` looking at ``target`` with the world's y axis up."""
    forward = target - position
    forward = forward / np.linalg.norm(forward)
    right = np.cross(forward, np.array([0.0, 1.0, 0.0]))
    right = right / np.linalg.norm(right)
    down = np.cross(forward, right)
    rotation = np.stack([right, down, forward])
    return rotation, -rotation @ position


def ring(
    count: int = 9,
    radius: float = 5.0,
    height: float = 1.5,
    spread_deg: float = 120.0,
    size: tuple[int, int] = (1920, 1080),
    focal: float = 1400.0,
    target: tuple[float, float, float] = (0.0, 1.0, 0.0),
) -> list[Camera]:
    """``count`` cameras named c01.. on an arc of ``spread_deg`` in front of the stage (+z side); c01 is frontal, the
    others alternate left and right of it."""
    matrix = np.array([[focal, 0.0, size[0] / 2], [0.0, focal, size[1] / 2], [0.0, 0.0, 1.0]])
    step = spread_deg / max(count - 1, 1)
    angles = [0.0] + [(-1) ** k * step * (k // 2 + 1) for k in range(count - 1)]
    cameras = []
    for k, angle in enumerate(angles):
        a = np.radians(angle)
        position = np.array([radius * np.sin(a), height, radius * np.cos(a)])
        rotation, translation = look_at(position, np.array(target))
        cameras.append(Camera(f"c{k + 1:02d}", matrix, rotation, translation, size))
    return cameras


__all__ = ["Camera", "look_at", "ring"]

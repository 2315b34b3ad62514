"""Random affine augmentation of 2-D keypoint sequences: one rotation, scale and shift per sequence, applied to
every frame (as in ST-GCN's and Foley Music's training, §4.1). Joints with zero confidence (missing) stay at zero."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def random_affine(
    keypoints: Tensor,
    max_rotation_deg: float = 10.0,
    scale: tuple[float, float] = (0.9, 1.1),
    max_shift: float = 0.1,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Rotate (uniform in ±``max_rotation_deg``) and scale about each sequence's mean joint position, then shift
    (uniform in ±``max_shift``, in the keypoints' own units) ``keypoints`` [B, T, J, C] (C >= 2; channel 2, when
    present, is the confidence and is left unchanged)."""
    b = keypoints.shape[0]
    device, dtype = keypoints.device, keypoints.dtype

    def uniform(low: float, high: float, *shape: int) -> Tensor:
        return low + (high - low) * torch.rand(b, *shape, generator=generator).to(device=device, dtype=dtype)

    angle = uniform(-max_rotation_deg, max_rotation_deg) * (math.pi / 180)
    factor = uniform(*scale)
    shift = uniform(-max_shift, max_shift, 2)
    cos, sin = torch.cos(angle) * factor, torch.sin(angle) * factor
    matrix = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)  # [B, 2, 2]
    xy = keypoints[..., :2]
    valid = keypoints[..., 2:3] > 0 if keypoints.shape[-1] > 2 else torch.ones_like(xy[..., :1], dtype=torch.bool)
    weight = valid.to(dtype)
    center = (xy * weight).sum(dim=(1, 2)) / weight.sum(dim=(1, 2)).clamp_min(1.0)  # [B, 2]
    center = center[:, None, None]
    moved = torch.einsum("bij,btkj->btki", matrix, xy - center) + center + shift[:, None, None]
    moved = torch.where(valid, moved, xy)
    return torch.cat([moved, keypoints[..., 2:]], dim=-1)

"""Body-centred keypoint coordinates: each frame moved so a centre joint is at the origin, each sequence divided by
the size of its person, so the same gesture gives the same numbers wherever the player stands and however large
they appear.

Image-normalised coordinates mix where the player stands (different in every recording) with how the fingers move
(a few hundredths of the frame): a fingering hand's displacement that marks a pitch is then a small part of each
joint's variance even after an input BatchNorm. Centring on the neck and dividing by the neck-hip distance removes
the placement and the scale (which also makes the scale and shift of the affine augmentation irrelevant).
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor


def body_centred(
    keypoints: Tensor, center: Optional[int] = None, size_joints: Optional[tuple[int, int]] = None
) -> Tensor:
    """``keypoints`` [B, T, J, C] (x, y[, confidence]) in body units.

    Args:
        center: joint at the origin of every frame (e.g. the neck; frames missing it use the mean of the detected
            joints); ``None``: the frame's mean of detected joints.
        size_joints: two joints whose distance (median over the sequence) is the unit (e.g. neck and mid-hip), over
            the frames that detect both (1 if none does); ``None``: the sequence's median root-mean-square distance
            of detected joints from the centre.

    Joints with zero confidence (missing) stay at zero; the confidence channel is unchanged.
    """
    xy = keypoints[..., :2]
    dtype = xy.dtype
    valid = (keypoints[..., 2:3] > 0) if keypoints.shape[-1] > 2 else torch.ones_like(xy[..., :1], dtype=torch.bool)
    weight = valid.to(dtype)
    origin = (xy * weight).sum(2, keepdim=True) / weight.sum(2, keepdim=True).clamp_min(1.0)
    if center is not None:  # frames that miss the centre joint fall back to the mean of the detected ones
        origin = torch.where(valid[:, :, center : center + 1], xy[:, :, center : center + 1], origin)
    moved = xy - origin
    if size_joints is None:
        spread = ((moved.square().sum(-1, keepdim=True) * weight).sum(2) / weight.sum(2).clamp_min(1.0)).sqrt()
        size = spread.median(dim=1).values  # [B, 1]
    else:
        a, b = size_joints
        both = valid[:, :, a, 0] & valid[:, :, b, 0]
        distance = (xy[:, :, a] - xy[:, :, b]).norm(dim=-1)
        size = torch.where(both, distance, torch.nan).nanmedian(dim=1).values[:, None]  # [B, 1]
        size = torch.nan_to_num(size, nan=1.0)  # never both detected: leave the scale alone
    size = size.clamp_min(torch.finfo(dtype).eps)[:, :, None, None]  # [B, 1, 1, 1]
    out = torch.where(valid, moved / size, xy)
    return torch.cat([out, keypoints[..., 2:]], dim=-1)


__all__ = ["body_centred"]

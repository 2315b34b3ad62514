"""Body-centred keypoints: invariant to where the player stands and how large they appear; missing joints stay."""

from __future__ import annotations

import math

import torch

from models.nn.pose_normalize import body_centred


def _skeleton(frames: int = 6, joints: int = 5) -> torch.Tensor:
    torch.manual_seed(0)
    xy = torch.randn(2, frames, joints, 2) * 0.1
    xy[:, :, 1] = torch.tensor([0.0, 0.0])  # the "neck"
    xy[:, :, 2] = torch.tensor([0.0, 1.0])  # the "hip", one unit below
    conf = torch.full((2, frames, joints, 1), 0.8)
    return torch.cat([xy, conf], -1)


def test_translation_and_scale_of_the_frame_do_not_change_the_output() -> None:
    kp = _skeleton()
    moved = kp.clone()
    moved[..., :2] = kp[..., :2] * 37.0 + torch.tensor([400.0, -120.0])
    a, b = body_centred(kp, 1, (1, 2)), body_centred(moved, 1, (1, 2))
    assert torch.allclose(a, b, atol=1e-5)
    assert torch.allclose(a[..., 2], kp[..., 2])  # confidence untouched
    assert torch.allclose(a[:, :, 1, :2], torch.zeros(2, 6, 2))  # the centre joint is the origin
    assert torch.allclose((a[:, :, 1, :2] - a[:, :, 2, :2]).norm(dim=-1), torch.ones(2, 6))  # unit = neck-hip


def test_rotation_is_kept_and_missing_joints_stay_zero() -> None:
    kp = _skeleton()
    kp[0, 3, 4] = 0.0  # a missed joint: (0, 0, 0)
    kp[0, 2, 1] = 0.0  # the neck missed in one frame: that frame is centred on the mean of the detected joints
    out = body_centred(kp, 1, (1, 2))
    assert (out[0, 3, 4] == 0).all()
    assert torch.isfinite(out).all()
    detected = out[0, 2, [0, 2, 3, 4], :2]
    assert torch.allclose(detected.mean(0), torch.zeros(2), atol=1e-5)
    angle = math.radians(30)
    rot = torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    turned = kp.clone()
    turned[..., :2] = kp[..., :2] @ rot.T
    assert not torch.allclose(body_centred(turned, 1, (1, 2)), out, atol=1e-3)  # orientation is information


def test_without_named_joints_uses_the_mean_and_the_spread() -> None:
    kp = _skeleton()
    out = body_centred(kp)
    assert torch.allclose(out[..., :2].mean(2), torch.zeros(2, 6, 2), atol=1e-5)
    spread = out[..., :2].square().sum(-1).mean(-1).sqrt()  # [B, T]
    assert torch.allclose(spread.median(dim=1).values, torch.ones(2), atol=1e-5)
